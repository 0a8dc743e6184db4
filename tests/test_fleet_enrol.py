"""Enrolment, credentials and the hub's refusals, against a real hub process on loopback."""

from __future__ import annotations

import json
import re
import stat
import time
import urllib.request

import pytest

from servicecycle.core import ServiceCycleError
from servicecycle.core.fleet import KioskRegistry
from tests.fleet import HubProcess, Kiosk, cli, hub_config


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    config = hub_config(
        root / "hub.toml",
        sites={"grand-kl": ["lobby", "checkout"], "grand-pg": ["lobby"]},
        extra="",
    )
    process = HubProcess(config, root / "data").start()
    yield process
    process.stop()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), dict(exc.headers)


JSON = {"Content-Type": "application/json"}


def test_a_code_enrols_one_kiosk_once_and_the_hub_keeps_only_a_hash(hub, tmp_path):
    code = hub.enroll("grand-kl", "lobby")
    assert len(code) == 14 and code.count("-") == 2
    kiosk = Kiosk(tmp_path, "grand-kl", "lobby")
    kiosk.join(hub.url, code.lower())  # typed in any case
    membership = json.loads((kiosk.dir / "hub.json").read_text())
    assert membership["site"] == "grand-kl" and membership["kiosk"] == "lobby"
    assert membership["survey_url"] == "https://feedback.example.com/s/{token}"
    assert stat.S_IMODE((kiosk.dir / "hub.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((kiosk.dir / "secrets" / "survey.key").stat().st_mode) == 0o600
    # The hub's files hold neither the code nor the credential.
    for path in (hub.data_dir / "hub").iterdir():
        raw = path.read_bytes()
        assert membership["credential"].encode() not in raw
        assert code.replace("-", "").encode() not in raw
    # Single use.
    other = Kiosk(tmp_path / "other", "grand-kl", "lobby")
    with pytest.raises(ServiceCycleError, match="used already"):
        other.join(hub.url, code)
    kiosk.close()
    other.close()


def test_a_code_for_another_kiosk_is_refused_and_stays_unused(hub, tmp_path):
    code = hub.enroll("grand-kl", "checkout")
    wrong = Kiosk(tmp_path, "grand-kl", "lobby")
    with pytest.raises(ServiceCycleError, match=r"enrols site 'grand-kl' kiosk 'checkout'"):
        wrong.join(hub.url, code)
    right = Kiosk(tmp_path, "grand-kl", "checkout")
    right.join(hub.url, code)
    wrong.close()
    right.close()


def test_an_expired_code_is_refused(hub, tmp_path):
    code = hub.cli("hub", "enroll", "--site", "grand-pg", "--kiosk", "lobby", "--expires", "1s")
    time.sleep(1.2)
    kiosk = Kiosk(tmp_path, "grand-pg", "lobby")
    with pytest.raises(ServiceCycleError, match="expired"):
        kiosk.join(hub.url, code.stdout.strip())
    kiosk.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--site", "nowhere", "--kiosk", "lobby"],
            "not one of this hub's sites; its sites: grand-kl, grand-pg",
        ),
        (["--site", "grand-pg", "--kiosk", "bar"], "not one of site 'grand-pg''s kiosks: lobby"),
        (["--site", "grand-kl", "--kiosk", "lobby", "--expires", "soon"], "--expires"),
    ],
)
def test_enroll_refuses_what_the_hub_does_not_serve(hub, args, message):
    done = hub.cli("hub", "enroll", *args, check=False)
    assert done.returncode in (1, 2)
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_revoked_kiosk_is_refused_at_once_and_a_replacement_is_a_new_epoch(hub, tmp_path):
    first = Kiosk(tmp_path / "a", "grand-pg", "lobby")
    first.join(hub.url, hub.enroll("grand-pg", "lobby"))
    first.tap(4)
    assert first.ship() == 1
    done = hub.cli("hub", "revoke", "lobby", "--site", "grand-pg")
    assert "revoked grand-pg/lobby" in done.stdout
    first.tap(5)
    result = first.shipper.drain()
    assert result.failed and first.shipper.status.refused
    assert "revoked" in first.shipper.status.last_error
    assert first.shipper.status.waiting == 1  # kept on the kiosk
    replacement = Kiosk(tmp_path / "b", "grand-pg", "lobby")
    replacement.join(hub.url, hub.enroll("grand-pg", "lobby"))
    epochs = [k for k in hub.kiosks() if k["site"] == "grand-pg" and k["kiosk"] == "lobby"]
    assert [(k["epoch"], k["state"]) for k in epochs][-2:] == [
        (epochs[-2]["epoch"], "revoked"),
        (epochs[-1]["epoch"], "never seen"),
    ]
    # The old kiosk's unsent tail comes in through the replacement's credential.
    done = cli(
        "--config",
        str(replacement.config),
        "--data-dir",
        str(replacement.dir),
        "ship",
        "--once",
        "--from",
        str(first.dir),
    )
    assert "shipped 2" in done.stdout  # both: the hub takes the first again as a no-op
    first.close()
    replacement.close()


def test_revoke_names_what_is_enrolled_when_the_kiosk_is_unknown(hub):
    done = hub.cli("hub", "revoke", "nobody", check=False)
    assert done.returncode == 1
    assert "no enrolled kiosk 'nobody'" in done.stderr


def test_ingest_refuses_the_unauthenticated_and_the_malformed_with_a_clear_status(hub, tmp_path):
    kiosk = Kiosk(tmp_path, "grand-kl", "lobby")
    kiosk.join(hub.url, hub.enroll("grand-kl", "lobby"))
    credential = json.loads((kiosk.dir / "hub.json").read_text())["credential"]
    auth = {**JSON, "Authorization": f"Bearer {credential}"}
    ship = hub.url + "/api/v1/ship"
    cases = [
        (b"{}", JSON, 401, "Bearer"),
        (b"{}", {**JSON, "Authorization": "Bearer sck1.forged"}, 401, "unknown kiosk credential"),
        (b"{not json", auth, 400, "not JSON"),
        (b'{"changes": 3}', auth, 400, "changes"),
        (b"[]", auth, 400, "changes"),
        (
            b"{}",
            {"Authorization": f"Bearer {credential}", "Content-Type": "text/plain"},
            415,
            "application/json",
        ),
        (b" " * 4_100_000, auth, 413, "bytes"),
    ]
    for body, headers, status, message in cases:
        got, answer, _ = post(ship, body, headers)
        assert (got, message in answer["error"]) == (status, True), (body[:20], answer)
    # Records the hub cannot take are refused one by one; the others go in.
    good = kiosk.tap(2).to_record()
    bad_moment = {**good, "id": "0" * 32, "moment": "teleport"}
    other_site = {**good, "id": "1" * 32, "site": "grand-pg"}
    body = {
        "changes": [
            {"kind": "new", "rating": bad_moment},
            {"kind": "new", "rating": good},
            {"kind": "new", "rating": other_site},
            {"kind": "delete", "rating": good},
            "nonsense",
        ]
    }
    got, answer, headers = post(ship, json.dumps(body).encode(), auth)
    assert got == 200
    assert re.fullmatch(
        r"ship;dur=\d+\.\d", {k.lower(): v for k, v in headers.items()}["server-timing"]
    )  # hub's own time
    assert answer["accepted"] == 1
    refused = {r["index"]: r["error"] for r in answer["refused"]}
    assert set(refused) == {0, 2, 3, 4}
    assert "moment" in refused[0] and "teleport" in refused[0]
    assert "writes only as site 'grand-kl' kiosk 'lobby'" in refused[2]
    assert "allowed: new, amend" in refused[3]
    kiosk.close()


def test_a_kiosks_qr_link_opens_the_survey_on_the_hub(hub, tmp_path):
    from servicecycle.core import KioskSession, SurveyTokens

    kiosk = Kiosk(tmp_path, "grand-kl", "checkout")
    kiosk.join(hub.url, hub.enroll("grand-kl", "checkout"))
    rating = kiosk.tap(2)
    assert kiosk.ship() == 1
    link = KioskSession(kiosk.runtime).survey_link(rating)
    assert link.startswith("https://feedback.example.com/s/")  # the hub's public address
    token = link.rsplit("/", 1)[1]
    with urllib.request.urlopen(f"{hub.url}/s/{token}", timeout=10) as response:
        assert response.status == 200
        assert b"<form" in response.read()
    forged = SurveyTokens(b"x" * 32).issue(rating.id)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{hub.url}/s/{forged}", timeout=5)
    assert caught.value.code == 403
    kiosk.close()


def test_the_registry_refuses_a_guessed_code(tmp_path):
    registry = KioskRegistry(tmp_path)
    registry.new_code("s", "k", ttl=60)
    with pytest.raises(ServiceCycleError, match="unknown enrolment code"):
        registry.join("AAAA-BBBB-CCCC")
    registry.close()
