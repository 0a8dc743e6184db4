"""The manager's console on a real hub process: who may see and do what, walked route by route.

Every route is requested as every role (and signed out) for an alert of a site
the user may see and one they may not; the expected status is derived from the
role's scope, so a route added without a check fails here.
"""

from __future__ import annotations

import html
import json
import re
import time

import httpx
import pytest

from servicecycle.core import RatingFilter, Runtime, record_answer
from tests.fleet import HubProcess, Kiosk

CONFIG = """
[hub]
public_url = "https://feedback.example.com"
chain = "grand"

[[hub.regions]]
id = "malaysia"
[[hub.regions.sites]]
id = "kl"
timezone = "Asia/Kuala_Lumpur"
opening_hours = {}
kiosks = ["lobby"]
[[hub.regions.sites]]
id = "penang"
timezone = "Asia/Kuala_Lumpur"
opening_hours = {}
kiosks = ["lobby"]

[[hub.regions]]
id = "turkey"
[[hub.regions.sites]]
id = "istanbul"
timezone = "Europe/Istanbul"
opening_hours = {}
kiosks = ["lobby"]
"""
PASSWORD = "correct horse battery"
#: name -> (role, scope options, sites it may see)
USERS = {
    "root": ("admin", [], {"kl", "penang", "istanbul"}),
    "ana": ("manager", ["--region", "malaysia"], {"kl", "penang"}),
    "emre": ("manager", ["--site", "istanbul"], {"istanbul"}),
    "siti": ("staff", ["--site", "kl"], {"kl"}),
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("console")
    (root / "hub.toml").write_text(CONFIG)
    process = HubProcess(root / "hub.toml", root / "hub").start()
    password = root / "pw"
    password.write_text(PASSWORD + "\n")
    for name, (role, scope, _) in USERS.items():
        process.cli(
            "hub", "user", "add", name, "--role", role, *scope, "--password-file", str(password)
        )
    # Three bad check-in waits at kl and at istanbul: the site rule fires at each.
    for site in ("kl", "istanbul"):
        kiosk = Kiosk(root, site, "lobby")
        kiosk.join(process.url, process.enroll(site, "lobby"))
        for ago in (90, 60, 30):
            kiosk.tap(1, ago=ago)
        kiosk.ship()
        kiosk.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        firing = {a["key"].get("site") for a in process.alerts() if a["state"] == "firing"}
        if firing >= {"kl", "istanbul"}:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"alerts did not fire: {process.alerts()}")
    # Follow-up answers, as the hub's survey pages store them: a comment and a call-back
    # request at kl, a comment alone at istanbul.
    runtime = Runtime.open(process.config, data_dir=process.data_dir)
    try:
        ratings = {r.site: r for r in runtime.site_store.ratings.query(RatingFilter())}
        record_answer(
            runtime,
            ratings["kl"],
            {},
            "The queue was long",
            "+60 12 345 6789",
            contact_consent=True,
        )
        record_answer(runtime, ratings["istanbul"], {}, "Kimse yoktu")
    finally:
        runtime.close()
    yield process
    process.stop()


#: Every page and download of the report card.
REPORT_PATHS = (
    "/console/report",
    "/console/report/download.csv",
    "/console/report/download.json",
    "/console/report/download.html",
)


def alerts_by_site(hub: HubProcess) -> dict[str, str]:
    return {a["key"]["site"]: a["id"] for a in hub.alerts() if a["state"] == "firing"}


def client(hub: HubProcess) -> httpx.Client:
    return httpx.Client(base_url=hub.url, follow_redirects=False, timeout=10)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(hub: HubProcess, name: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    browser = client(hub)
    page = browser.get("/console/login")
    assert page.status_code == 200
    answer = browser.post(
        "/console/login", data={"csrf": csrf_of(page.text), "name": name, "password": password}
    )
    assert answer.status_code == 303, answer.text
    home = browser.get("/console/")
    assert home.status_code == 200
    return browser, csrf_of(home.text)


@pytest.mark.parametrize("name", [None, *USERS])
def test_every_route_as_every_role(hub, name):
    ids = alerts_by_site(hub)
    if name is None:
        browser, csrf = client(hub), "x"
        sees: set[str] = set()
    else:
        browser, csrf = sign_in(hub, name)
        sees = USERS[name][2]
    for site in ("kl", "penang", "istanbul"):
        allowed = site in sees
        page = browser.get("/console/", params={"site": site})
        api = browser.get("/console/api/alerts", params={"site": site})
        if name is None:
            assert page.status_code == 303 and page.headers["location"].endswith("/console/login")
            assert api.status_code == 401
        else:
            assert page.status_code == (200 if allowed else 403), (name, site)
            assert api.status_code == (200 if allowed else 403), (name, site)
        kiosks = browser.get("/console/kiosks", params={"site": site})
        kiosks_api = browser.get("/console/api/kiosks", params={"site": site})
        if name is None:
            assert kiosks.status_code == 303 and kiosks_api.status_code == 401
        else:
            may = allowed and USERS[name][0] != "staff"  # staff see alerts, not kiosks
            assert kiosks.status_code == (200 if may else 403), (name, site)
            assert kiosks_api.status_code == (200 if may else 403), (name, site)
            if may and site in ids:
                [entry] = kiosks_api.json()
                assert (entry["site"], entry["kiosk"], entry["state"]) == (
                    site,
                    "lobby",
                    "enrolled",
                )
                assert entry["last_contact"] and entry["clock_flagged"] is False
                assert f'id="kiosk-{site}-lobby"' in kiosks.text
        followups = browser.get("/console/followups", params={"site": site})
        if name is None:
            assert followups.status_code == 303
        else:
            assert followups.status_code == (200 if allowed else 403), (name, site)
        for path in REPORT_PATHS:
            got = browser.get(path, params={"scope": f"site:{site}"})
            if name is None:
                assert got.status_code == 303, path
            else:
                may = allowed and USERS[name][0] != "staff"  # staff see no reports
                assert got.status_code == (200 if may else 403), (name, site, path)
        if site not in ids:
            continue
        # Acting on another site's alert is refused even with the id in hand.
        for action, extra in (("silence", {"period": "1h"}), ("ack", {"note": "on it"})):
            done = browser.post(
                f"/console/alerts/{site}/{ids[site]}/{action}", data={"csrf": csrf, **extra}
            )
            if name is None:
                assert done.status_code == 303 and "login" in done.headers["location"]
            else:
                assert done.status_code == (303 if allowed else 403), (name, site, action)
    for scope, sites in (("region:malaysia", {"kl", "penang"}), ("region:turkey", {"istanbul"}),
                         ("chain", {"kl", "penang", "istanbul"})):  # fmt: skip
        for path in REPORT_PATHS:
            got = browser.get(path, params={"scope": scope})
            if name is None:
                assert got.status_code == 303
            else:
                may = sites <= sees and USERS[name][0] != "staff"
                assert got.status_code == (200 if may else 403), (name, scope, path)
    if name is not None:
        home = browser.get("/console/").text
        for site in ("kl", "istanbul"):
            assert (f"alerts/{site}/" in home) == (site in sees), (name, site)


def test_an_acknowledgement_from_the_browser_is_seen_by_the_cli_with_the_users_name(hub):
    browser, csrf = sign_in(hub, "siti")
    kl = alerts_by_site(hub)["kl"]
    done = browser.post(f"/console/alerts/kl/{kl}/ack", data={"csrf": csrf, "note": "at the desk"})
    assert done.status_code == 303
    assert "acknowledged" in browser.get(done.headers["location"]).text
    listed = json.loads(hub.cli("alerts", "list", "--json", "--site", "kl").stdout)
    assert [a["acknowledged_by"] for a in listed if a["id"] == kl] == ["siti"]


def test_forms_without_the_sessions_token_are_refused(hub):
    browser, _ = sign_in(hub, "root")
    kl = alerts_by_site(hub)["kl"]
    for data in ({}, {"csrf": "forged"}):
        assert browser.post(f"/console/alerts/kl/{kl}/ack", data=data).status_code == 403
        assert browser.post("/console/logout", data=data).status_code == 403
    other, _ = sign_in(hub, "ana")
    # Another user's token does not do either.
    stolen = csrf_of(other.get("/console/").text)
    assert browser.post(f"/console/alerts/kl/{kl}/ack", data={"csrf": stolen}).status_code == 403
    fresh = client(hub)
    fresh.get("/console/login")
    refused = fresh.post("/console/login", data={"name": "root", "password": PASSWORD})
    assert refused.status_code == 403 and "console" not in refused.cookies


def test_sign_in_is_throttled_per_name_and_a_wrong_password_says_nothing_more(hub):
    hub.cli(
        "hub",
        "user",
        "add",
        "victim",
        "--role",
        "staff",
        "--site",
        "kl",
        "--password-file",
        str(hub.config.parent / "pw"),
    )
    browser = client(hub)
    page = browser.get("/console/login")
    statuses = []
    for _ in range(6):
        answer = browser.post(
            "/console/login",
            data={"csrf": csrf_of(page.text), "name": "victim", "password": "wrong password"},
        )
        statuses.append(answer.status_code)
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    assert "too many failed sign-ins" in answer.text
    unknown = browser.post(
        "/console/login",
        data={"csrf": csrf_of(page.text), "name": "nobody-here", "password": "wrong password"},
    )
    assert unknown.status_code == 401 and "wrong name or password" in unknown.text
    # The right password waits too, until the window passes.
    right = browser.post(
        "/console/login", data={"csrf": csrf_of(page.text), "name": "victim", "password": PASSWORD}
    )
    assert right.status_code == 429


def test_sessions_are_server_side_and_end_on_sign_out_removal_and_new_password(hub):
    browser, csrf = sign_in(hub, "emre")
    cookie = browser.cookies["sc_console"]
    headers = browser.get("/console/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"
    assert browser.post("/console/logout", data={"csrf": csrf}).status_code == 303
    replay = client(hub)
    replay.cookies.set("sc_console", cookie)
    assert replay.get("/console/").status_code == 303  # the old cookie is worth nothing
    browser, _ = sign_in(hub, "emre")
    hub.cli("hub", "user", "passwd", "emre", "--password-file", str(hub.config.parent / "pw"))
    assert browser.get("/console/").status_code == 303
    browser, _ = sign_in(hub, "emre")
    hub.cli("hub", "user", "remove", "emre")
    assert browser.get("/console/").status_code == 303
    hub.cli(
        "hub",
        "user",
        "add",
        "emre",
        "--role",
        "manager",
        "--site",
        "istanbul",
        "--password-file",
        str(hub.config.parent / "pw"),
    )


def test_one_address_spraying_names_is_made_to_wait(tmp_path):
    (tmp_path / "hub.toml").write_text(CONFIG)
    process = HubProcess(tmp_path / "hub.toml", tmp_path / "hub").start()
    try:
        browser = client(process)
        token = csrf_of(browser.get("/console/login").text)
        statuses = [
            browser.post(
                "/console/login", data={"csrf": token, "name": f"guess{i}", "password": "x" * 12}
            ).status_code
            for i in range(25)
        ]
        assert statuses[:20] == [401] * 20 and statuses[-3:] == [429] * 3, statuses
        last = browser.post(
            "/console/login", data={"csrf": token, "name": "guess", "password": "x" * 12}
        )
        assert int(last.headers["retry-after"]) >= 1
    finally:
        process.stop()


def test_a_follow_up_is_taken_and_closed_and_comments_show_only_to_managers(hub):
    staff, staff_csrf = sign_in(hub, "siti")
    page = staff.get("/console/followups").text
    assert "+60 12 345 6789" in page and "The queue was long" not in page  # no comments
    assert "Kimse yoktu" not in page  # another site's
    answer = re.search(r'id="followup-([0-9a-f]+)"', page).group(1)
    manager, manager_csrf = sign_in(hub, "ana")
    assert "The queue was long" in manager.get("/console/followups").text
    other, other_csrf = sign_in(hub, "emre")
    refused = other.post(f"/console/followups/kl/{answer}/take", data={"csrf": other_csrf})
    assert refused.status_code == 403
    took = staff.post(f"/console/followups/kl/{answer}/take", data={"csrf": staff_csrf})
    assert took.status_code == 303
    assert "taken by siti" in staff.get("/console/followups?site=kl").text
    again = manager.post(f"/console/followups/kl/{answer}/take", data={"csrf": manager_csrf})
    assert again.status_code == 400 and "is taken (by siti)" in again.text
    closed = manager.post(f"/console/followups/kl/{answer}/close", data={"csrf": manager_csrf})
    assert closed.status_code == 303
    assert "closed by ana" in staff.get("/console/followups?site=kl").text
    bad = manager.post(f"/console/followups/kl/{answer}/reopen", data={"csrf": manager_csrf})
    assert bad.status_code == 400 and "not one of: take, close" in bad.text


def test_the_report_card_names_moments_in_the_users_language_and_downloads_agree(hub):
    browser, _ = sign_in(hub, "root")
    page = browser.get("/console/report", params={"scope": "chain", "period": "7d"})
    assert page.status_code == 200
    assert page.headers["server-timing"].startswith("report;dur=")
    text = page.text
    # The kiosks asked about the hotel's check-in wait: its name, not its id, in the card.
    assert "Check-in wait" in text and ">check-in-wait<" not in text
    assert 'class="chart heat"' in text and 'class="chart service-map"' in text
    turkish = browser.get(
        "/console/report", params={"scope": "chain", "period": "7d", "lang": "tr"}
    ).text
    assert "Giriş bekleme süresi" in turkish and '<div class="report" lang="tr">' in turkish
    assert "Check-in wait" not in turkish
    data = browser.get(
        "/console/report/download.json", params={"scope": "region:malaysia", "period": "7d"}
    )
    assert data.headers["content-disposition"].startswith('attachment; filename="report-malaysia-')
    report = data.json()
    assert report["filters"]["sites"] == ["kl", "penang"]
    [cycle] = [c for c in report["cycles"] if c["count"]]
    assert cycle["count"] == 3  # kl's three taps; istanbul's are another region's
    assert sum(cell["count"] for cell in cycle["heat_map"]) == 3
    line = next(m for m in cycle["report_card"] if m["moment"] == "check-in-wait")
    assert line["name"] == "Check-in wait" and line["faces"] == {"5": [3, 0, 0, 0, 0]}
    csv_text = browser.get(
        "/console/report/download.csv", params={"scope": "region:malaysia", "period": "7d"}
    ).text
    assert "Check-in wait" in csv_text and "\nhour,hotel-guest," in csv_text
    offline = browser.get(
        "/console/report/download.html", params={"scope": "site:kl", "period": "7d"}
    ).text
    assert offline.startswith("<!DOCTYPE html>") and "<script" not in offline
    assert "<style>" in offline and "Check-in wait" in offline
    # The page and the file share one body: the same sections, in the same order.
    sections = re.findall(r"<h3>([^<]+)</h3>", offline)
    page_kl = browser.get("/console/report", params={"scope": "site:kl", "period": "7d"}).text
    assert re.findall(r"<h3>([^<]+)</h3>", page_kl) == sections


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"period": "fortnight"}, "period 'fortnight' is not known; allowed: 7d, 30d"),
        ({"scope": "site:mars"}, "scope 'site:mars' names nothing; allowed: chain"),
        ({"lang": "xx"}, "lang 'xx' is not a language reports are written in"),
        ({"period": "custom", "since": "yesterday-ish"}, "period:"),
    ],
)
def test_a_report_asked_for_wrongly_says_what_is_allowed(hub, params, expected):
    browser, _ = sign_in(hub, "root")
    page = browser.get("/console/report", params=params)
    assert page.status_code == 400
    assert html.unescape(expected) in html.unescape(page.text)
    assert "Traceback" not in page.text


def test_erasing_an_answer_is_for_managers_of_its_site_only(hub):
    """Staff and other sites' managers are refused; the CLI then finds it erased."""
    ana, ana_csrf = sign_in(hub, "ana")
    page = ana.get("/console/followups", params={"site": "kl"}).text
    [answer] = re.findall(r'id="followup-([0-9a-f]{32})"', page)
    siti, siti_csrf = sign_in(hub, "siti")
    emre, emre_csrf = sign_in(hub, "emre")
    path = f"/console/followups/kl/{answer}/erase"
    assert siti.post(path, data={"csrf": siti_csrf, "confirm": "yes"}).status_code == 403
    assert emre.post(path, data={"csrf": emre_csrf, "confirm": "yes"}).status_code == 403
    assert ana.post(path, data={"csrf": ana_csrf}).status_code == 400  # not confirmed
    done = ana.post(path, data={"csrf": ana_csrf, "confirm": "yes"})
    assert done.status_code == 303 and "erased" in done.headers["location"]
    again = ana.post(path, data={"csrf": ana_csrf, "confirm": "yes"})
    assert again.status_code == 400  # gone from the follow-ups: nothing left to erase
    listed = hub.cli("answers", "list", "--json")
    [row] = [a for a in json.loads(listed.stdout)["answers"] if a["id"] == answer]
    assert row["erased"]
