"""Running the hub: uvicorn for the requests, one thread for the rules, notifications and books.

The rule thread follows the store's change feed (what kiosks shipped and what
guests answered), runs every site's engine on it, delivers notifications and
writes down what kiosks said about themselves, once a second. With
``[hub] report_receiver`` set, a second thread mails the weekly report cards
that are due, once a minute.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import uvicorn

from servicecycle.core import Hub, WeeklyMail
from servicecycle.reportcard import render_document

from .app import create_app

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8780


class RulesThread:
    """Poll the hub's rules once per ``interval`` seconds, in a thread of its own."""

    def __init__(self, hub: Hub, interval: float = 1.0, make_dispatcher: Callable | None = None):
        self.hub = hub
        self.interval = interval
        self.make_dispatcher = make_dispatcher
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="servicecycle-hub-rules", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        failing = ""
        alerting = None
        while not self._stop.is_set():
            try:
                if alerting is None:
                    dispatcher = self.make_dispatcher() if self.make_dispatcher else None
                    alerting = self.hub.start_rules(dispatcher)
                else:
                    alerting.poll()
                self.hub.flush()
                if failing:
                    log.warning("the hub's rules run again")
                failing = ""
            except Exception as exc:  # the store may be down: keep trying, log once
                if str(exc) != failing:
                    log.exception("the hub's rules failed; retrying every %.0f s", self.interval)
                failing = str(exc) or type(exc).__name__
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


def serve(
    hub: Hub,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    certfile: str | None = None,
    keyfile: str | None = None,
    proxy_headers: bool = True,
    forwarded_allow_ips: str = "127.0.0.1",
    make_dispatcher: Callable | None = None,
    rules_interval: float = 1.0,
    log_level: str = "info",
) -> None:
    """Serve until interrupted (Ctrl+C or SIGTERM); rules run beside the requests."""
    config = uvicorn.Config(
        create_app(hub),
        host=host,
        port=port,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        access_log=False,
        log_level=log_level,
        lifespan="off",
        timeout_keep_alive=30,
    )
    rules = RulesThread(hub, rules_interval, make_dispatcher)
    rules.start()
    mail = MailThread(hub) if hub.runtime.config.hub.report_receiver else None
    if mail is not None:
        mail.start()
    try:
        uvicorn.Server(config).run()
    finally:
        rules.stop()
        if mail is not None:
            mail.stop()
        hub.close()


def weekly_mail(hub: Hub) -> WeeklyMail:
    """The weekly report card's mailer, rendering with the report card's own templates."""
    return WeeklyMail(
        hub.runtime,
        hub.chain,
        hub.state_dir,
        lambda report, lang, names: render_document(report, lang, site_names=names),
    )


class MailThread:
    """Send the weekly report cards that are due, once a minute, in a thread of its own."""

    INTERVAL = 60.0

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="servicecycle-hub-mail", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        mailer = None
        while not self._stop.is_set():
            try:
                mailer = mailer or weekly_mail(self.hub)
                mailer.run_once()
            except Exception as exc:  # a bad receiver must not stop the hub; it says why
                log.error("weekly report cards: %s: %s", type(exc).__name__, exc)
            self._stop.wait(self.INTERVAL)
        if mailer is not None:
            mailer.close()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
