"""The ``email`` notifier: a plain-text mail over SMTP (the standard library's smtplib).

The ``Message-ID`` is derived from the notification's idempotency key, so a
mail sent twice after a retry is recognisably the same mail. SMTP's own codes
decide retries: 4xx replies, timeouts and dropped connections are tried again;
5xx replies and refused logins are not.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from datetime import timedelta, tzinfo
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr, model_validator

from ..duration import PositiveDuration
from .notification import DeliveryError, Notification
from .render import DEFAULT_SUBJECT, body, check_template, subject
from .strict import StrictModel


def _address(value: str) -> str:
    _, address = parseaddr(value)
    if "@" not in address or any(c in value for c in "\r\n"):
        raise ValueError("not an e-mail address; write e.g. 'Front desk <desk@hotel.example>'")
    return value


Address = Annotated[str, AfterValidator(_address)]


class EmailSettings(StrictModel):
    host: str = Field(min_length=1)
    #: Default: 465 with ``ssl``, 587 with ``starttls``, else 25.
    port: int | None = Field(None, ge=1, le=65535)
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: SecretStr | None = None
    #: Name of an environment variable holding the password (keeps it out of the file).
    password_env: str | None = None
    from_: Address = Field(alias="from")
    to: tuple[Address, ...] = Field(min_length=1)
    subject: Annotated[str, AfterValidator(check_template)] = DEFAULT_SUBJECT
    timeout: PositiveDuration = timedelta(seconds=10)

    @model_validator(mode="after")
    def _consistent(self) -> EmailSettings:
        if self.ssl and self.starttls:
            raise ValueError("ssl and starttls: choose one (ssl for port 465, starttls for 587)")
        if self.password is not None and self.password_env is not None:
            raise ValueError("password and password_env: give one, not both")
        if (self.password is not None or self.password_env) and not self.username:
            raise ValueError("username: required when a password is given")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 465 if self.ssl else 587 if self.starttls else 25


class EmailNotifier:
    def __init__(
        self, name: str, settings: EmailSettings, password: str | None, zone: tzinfo | None
    ) -> None:
        self.name = name
        self.settings = settings
        self._password = password
        self._zone = zone

    def message(self, notification: Notification) -> EmailMessage:
        s = self.settings
        mail = EmailMessage()
        mail["Subject"] = subject(s.subject, notification)
        mail["From"] = s.from_
        mail["To"] = ", ".join(s.to)
        mail["Date"] = format_datetime(notification.created_at)
        mail["Message-ID"] = f"<{notification.idempotency_key}@servicecycle>"
        mail["X-Servicecycle-Group"] = notification.group_key.replace("\n", " ")
        mail.set_content(body(notification, self._zone))
        return mail

    def send(self, notification: Notification) -> None:
        self.deliver(self.message(notification))

    def deliver(self, mail: EmailMessage) -> None:
        """Send one message through this receiver's server (also the weekly report card's)."""
        s = self.settings
        where = f"SMTP {s.host}:{s.effective_port}"
        timeout = s.timeout.total_seconds()
        try:
            if s.ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.effective_port, timeout=timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(s.host, s.effective_port, timeout=timeout)
            with client:
                if s.starttls:
                    client.starttls(context=ssl.create_default_context())
                if s.username:
                    client.login(s.username, self._password or "")
                client.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"{where}: login as {s.username!r} refused ({_reply(exc)}); check username "
                "and password",
                retryable=False,
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            refused = ", ".join(f"{r} ({c})" for r, (c, _) in exc.recipients.items())
            raise DeliveryError(
                f"{where}: recipients refused: {refused}",
                retryable=all(400 <= c < 500 for c in codes),
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"{where}: {exc}; check starttls/ssl", retryable=False) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"{where}: {_reply(exc)}", retryable=400 <= exc.smtp_code < 500
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                f"{where}: TLS certificate not trusted ({exc.verify_message})", retryable=False
            ) from None
        except (smtplib.SMTPException, TimeoutError, OSError) as exc:
            raise DeliveryError(f"{where}: {exc or type(exc).__name__}", retryable=True) from None


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = (
        exc.smtp_error.decode("utf-8", "replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return f"{exc.smtp_code} {text}".strip()


def email_factory(name: str, timezone: tzinfo | None = None, **settings: object) -> EmailNotifier:
    """Build an ``email`` receiver; ``timezone`` (the site's) is used for times in the body."""
    options = EmailSettings.model_validate(settings)
    password = options.password.get_secret_value() if options.password else None
    if options.password_env:
        password = os.environ.get(options.password_env)
        if password is None:
            raise ValueError(
                f"password_env: the environment variable {options.password_env!r} is not set"
            )
    return EmailNotifier(name, options, password, timezone)
