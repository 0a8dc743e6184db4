"""The weekly report card by e-mail, through the email notifier, to a real SMTP server.

Each manager with an address gets each of their sites' card at that site's own
weekday and time, in the manager's language; once per week, recorded only after
the server took it; a refused send stays due; a card more than a day late is
dropped. The server is aiosmtpd on loopback (the ``smtp_server`` fixture).
"""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email import policy

import pytest

from servicecycle.core import Chain, Runtime, UserBook, WeeklyMail
from servicecycle.core.config import Config
from servicecycle.core.fleet.hub import state_dir
from servicecycle.reportcard import render_document

from .fleet import cli
from .test_report_support import rating

CONFIG = """
[hub]
chain = "grand"
report_receiver = "mail"

[[hub.regions]]
id = "malaysia"
name = "Malaysia"
[[hub.regions.sites]]
id = "kl"
name = "Grand KL"
timezone = "Asia/Kuala_Lumpur"
[[hub.regions.sites]]
id = "penang"
timezone = "Asia/Kuala_Lumpur"

[[hub.regions]]
id = "turkey"
[[hub.regions.sites]]
id = "istanbul"
timezone = "Europe/Istanbul"
weekly_report = {{ day = "fri", time = "17:30" }}

[notify.receivers.mail]
type = "email"
host = "127.0.0.1"
port = {port}
from = "Report cards <reports@hotel.example>"
to = ["ops@hotel.example"]
max_attempts = 1
"""
PASSWORD = "correct horse battery"
#: Monday 2026-11-30, 08:05 in Kuala Lumpur (UTC+8): kl's and penang's cards are due.
MONDAY = datetime(2026, 11, 30, 0, 5, tzinfo=UTC)
#: Friday 2026-12-04, 17:35 in Istanbul (UTC+3): istanbul's card is due.
FRIDAY = datetime(2026, 12, 4, 14, 35, tzinfo=UTC)


@pytest.fixture
def hub_runtime(tmp_path, smtp_server, catalogue):
    (tmp_path / "hub.toml").write_text(CONFIG.format(port=smtp_server.port))
    runtime = Runtime.open(tmp_path / "hub.toml", data_dir=tmp_path / "hub")
    # A week of check-in waits at kl before Monday, a few bad ones; one at istanbul.
    for day in range(1, 8):
        at = MONDAY - timedelta(days=day, hours=-2)
        for score in (5, 4, 2, 1):
            runtime.site_store.ratings.add(
                rating(catalogue, at, score, moment="check-in-wait", site="kl", kiosk="lobby")
            )
    runtime.site_store.ratings.add(
        rating(catalogue, FRIDAY - timedelta(days=1), 2, moment="check-in-wait", site="istanbul")
    )
    with UserBook(state_dir(runtime)) as users:
        users.add("ana", "manager", PASSWORD, region="malaysia", email="ana@hotel.example",
                  language="tr")  # fmt: skip
        users.add("emre", "manager", PASSWORD, site="istanbul", email="emre@hotel.example")
        users.add("siti", "staff", PASSWORD, site="kl", email="siti@hotel.example")
        users.add("root", "admin", PASSWORD)  # no address: no mail
    yield runtime
    runtime.close()


def mailer(runtime: Runtime) -> WeeklyMail:
    return WeeklyMail(
        runtime,
        Chain(runtime.config),
        state_dir(runtime),
        lambda report, lang, names: render_document(report, lang, site_names=names),
    )


def parsed(envelope) -> email.message.EmailMessage:
    return email.message_from_bytes(envelope.content, policy=policy.default)


def test_each_manager_gets_their_sites_cards_at_each_sites_time_in_their_language(
    hub_runtime, smtp_server
):
    mail = mailer(hub_runtime)
    try:
        due = mail.due(MONDAY)
        assert sorted((d.user.name, d.site) for d in due) == [("ana", "kl"), ("ana", "penang")]
        assert mail.run_once(MONDAY) == (2, [])
        assert mail.due(MONDAY + timedelta(hours=3)) == []  # once a week
        messages = [parsed(m) for m in smtp_server.messages]
        assert {m["To"] for m in messages} == {"ana@hotel.example"}
        kl = next(m for m in messages if "Grand KL" in m["Subject"])
        assert kl["Subject"] == "Grand KL · 2026-11-23 – 2026-11-29"
        assert kl["From"] == "Report cards <reports@hotel.example>"
        text = kl.get_body(("plain",)).get_content()
        html = kl.get_body(("html",)).get_content()
        assert "28" in text  # the week's answers
        assert "Giriş bekleme süresi" in html and "Check-in wait" not in html  # ana reads Turkish
        [attachment] = list(kl.iter_attachments())
        assert attachment.get_filename() == "report-kl-2026-11-23_2026-11-29.html"
        assert attachment.get_content().startswith("<!DOCTYPE html>")
        # Istanbul's card comes on Friday at 17:30 Istanbul time, to emre, in English.
        assert [(d.user.name, d.site) for d in mail.due(FRIDAY)] == [("emre", "istanbul")]
        assert mail.run_once(FRIDAY) == (1, [])
        last = parsed(smtp_server.messages[-1])
        assert last["To"] == "emre@hotel.example"
        assert "Check-in wait" in last.get_body(("html",)).get_content()
        # More than a day late: dropped rather than arriving on Wednesday.
        assert mail.due(MONDAY + timedelta(days=8, hours=2)) == []
        # The same card twice (a crash between the server's yes and the record) is one id.
        ids = {m["Message-ID"] for m in messages}
        assert len(ids) == 2 and all(i.startswith("<weekly-") for i in ids)
    finally:
        mail.close()


def test_a_refused_send_stays_due_and_goes_next_time(hub_runtime, smtp_server):
    smtp_server.refuse = 1
    mail = mailer(hub_runtime)
    try:
        sent, problems = mail.run_once(MONDAY)
        assert sent == 1 and len(problems) == 1 and "451" in problems[0]
        assert len(mail.due(MONDAY + timedelta(minutes=1))) == 1
        assert mail.run_once(MONDAY + timedelta(minutes=1)) == (1, [])
        assert len(smtp_server.messages) == 2
    finally:
        mail.close()


def test_the_command_lists_sends_and_explains(hub_runtime, smtp_server, tmp_path):
    base = ["--config", str(tmp_path / "hub.toml"), "--data-dir", str(tmp_path / "hub")]
    hub_runtime.close()
    sent = cli(*base, "hub", "weekly-report", "--user", "emre")
    assert "sent istanbul's card to emre@hotel.example" in sent.stdout
    assert parsed(smtp_server.messages[-1])["To"] == "emre@hotel.example"
    wrong = cli(*base, "hub", "weekly-report", "--user", "nobody", check=False)
    assert wrong.returncode == 2 and "'nobody' is no console user" in wrong.stderr
    assert "ana, emre, root, siti" in wrong.stderr and "Traceback" not in wrong.stderr
    mute = cli(*base, "hub", "weekly-report", "--user", "root", check=False)
    assert mute.returncode == 1 and "root has no e-mail address" in mute.stderr
    other = cli(*base, "hub", "weekly-report", "--user", "emre", "--site", "kl", check=False)
    assert other.returncode == 2 and "'kl' is not one of emre's sites" in other.stderr
    listed = cli(*base, "hub", "weekly-report")
    assert listed.returncode == 0 and listed.stdout.strip()
    changed = cli(*base, "hub", "user", "set", "siti", "--lang", "ms")
    assert "in ms" in changed.stdout
    bad = cli(*base, "hub", "user", "set", "siti", "--email", "not-an-address", check=False)
    assert bad.returncode == 1 and "is not an address" in bad.stderr


def test_a_report_receiver_that_is_not_email_is_refused_by_name():
    with pytest.raises(ValueError, match=r"not an email receiver of \[notify.receivers\]"):
        Config.model_validate(
            {
                "hub": {"report_receiver": "desk"},
                "notify": {"receivers": {"desk": {"type": "log"}}},
            }
        )
    with pytest.raises(ValueError, match="'25:00' is not a time of day"):
        Config.model_validate({"hub": {"weekly_report": {"time": "25:00"}}})


def test_without_a_report_receiver_the_command_says_how_to_set_one(tmp_path):
    (tmp_path / "c.toml").write_text('[hub]\nchain = "one"\n')
    done = cli("--config", str(tmp_path / "c.toml"), "--data-dir", str(tmp_path / "d"),
               "hub", "weekly-report", check=False)  # fmt: skip
    assert done.returncode == 1 and "set [hub] report_receiver" in done.stderr
