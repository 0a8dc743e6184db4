"""A chain's hierarchy at the hub: regions and sites, each with its own rules and clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from servicecycle.core import ConfigError, Runtime, load_config
from servicecycle.core.fleet import Chain, Hub

CHAIN = """
[hub]
chain = "grand"

[[hub.regions]]
id = "malaysia"
name = "Malaysia"

[[hub.regions.sites]]
id = "kl"
name = "Grand KL"
timezone = "Asia/Kuala_Lumpur"
opening_hours = {}
[hub.regions.sites.rules]
disable = ["hotel.check-in-wait-streak"]

[[hub.regions.sites]]
id = "penang"
timezone = "Asia/Kuala_Lumpur"
opening_hours = {}
languages = ["en", "ms"]
[hub.regions.sites.rules.override."hotel.check-in-wait-streak"]
count = 5

[[hub.regions]]
id = "turkey"

[[hub.regions.sites]]
id = "istanbul"
timezone = "Europe/Istanbul"
opening_hours = {}
"""


@pytest.fixture
def hub(tmp_path):
    path = tmp_path / "hub.toml"
    path.write_text(CHAIN)
    runtime = Runtime.open(path, data_dir=tmp_path / "data")
    the_hub = Hub(runtime)
    yield the_hub
    the_hub.close()
    runtime.close()


def bad_waits(hub: Hub, site: str, n: int) -> None:
    catalogue = hub.runtime.catalogue
    now = datetime.now(UTC)
    changes = [
        {
            "kind": "new",
            "rating": catalogue.new_rating(
                site=site,
                kiosk="lobby",
                cycle="hotel-guest",
                moment="check-in-wait",
                score=1,
                language="en",
                at=now - timedelta(seconds=n - i),
            ).to_record(),
        }
        for i in range(n)
    ]
    assert hub.ingest.take(site, "lobby", changes).accepted == n


def test_each_site_runs_its_own_rule_changes_in_its_own_clock(hub):
    chain = hub.chain
    assert chain.regions == {"malaysia": ["kl", "penang"], "turkey": ["istanbul"]}
    assert chain.config_of("istanbul").site.timezone == "Europe/Istanbul"
    assert chain.config_of("kl").site.name == "Grand KL"
    assert chain.config_of("penang").site.name == "penang"
    assert chain.config_of("penang").kiosk.languages == ("en", "ms")
    notified = []
    alerting = hub.start_rules(notify=notified.append)
    for site in ("kl", "penang", "istanbul"):
        bad_waits(hub, site, 3)
    alerting.poll()
    streaks = {dict(a.key)["site"] for a in notified if a.rule == "hotel.check-in-wait-streak"}
    assert streaks == {"istanbul"}  # kl turned it off, penang needs 5
    bad_waits(hub, "penang", 2)
    alerting.poll()
    streaks = {dict(a.key)["site"] for a in notified if a.rule == "hotel.check-in-wait-streak"}
    assert streaks == {"istanbul", "penang"}
    # Each site's book holds its own alerts; a restarted hub takes them back, announcing nothing.
    again = []
    restarted = Hub(hub.runtime).start_rules(notify=again.append)
    restarted.poll()
    assert [a for a in again if a.rule == "hotel.check-in-wait-streak"] == []


def test_scope_names_sites_and_regions_or_the_whole_chain(hub):
    chain = hub.chain
    assert chain.scope() == ["kl", "penang", "istanbul"]
    assert chain.scope(regions=["turkey"]) == ["istanbul"]
    assert chain.scope(["kl"], ["turkey"]) == ["istanbul", "kl"]
    with pytest.raises(
        Exception, match="region 'europe' is not one of this hub's regions: malaysia, turkey"
    ):
        chain.scope(regions=["europe"])


def test_a_hub_with_no_regions_serves_its_own_site(tmp_path):
    config = load_config(None)
    chain = Chain(config)
    assert list(chain.sites) == ["demo-site"] and chain.regions == {"default": ["demo-site"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            CHAIN + '\n[[hub.regions]]\nid = "turkey"\n[[hub.regions.sites]]\nid = "x"\n',
            "region 'turkey' is described twice",
        ),
        (
            CHAIN + '\n[[hub.regions]]\nid = "more"\n[[hub.regions.sites]]\nid = "kl"\n',
            "site 'kl' is in region 'malaysia' and in 'more'",
        ),
        ('[[hub.regions]]\nid = "empty"\nsites = []\n', "hub.regions[0].sites"),
        (
            '[[hub.regions]]\nid = "r"\n[[hub.regions.sites]]\nid = "s"\ntimezone = "Mars/Base"\n',
            "unknown time zone",
        ),
        (
            '[[hub.regions]]\nid = "r"\n[[hub.regions.sites]]\nid = "s"\nkiosks = ["a", "a"]\n',
            "listed twice: a",
        ),
        ('[hub]\npublic_url = "feedback.example.com"\n', "must start with https://"),
    ],
)
def test_a_bad_hierarchy_is_refused_naming_the_key(tmp_path, text, message):
    path = tmp_path / "hub.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_report_and_alerts_take_a_region(hub, tmp_path):
    from tests.fleet import cli

    for site in ("kl", "istanbul"):
        bad_waits(hub, site, 3)
    alerting = hub.start_rules()
    alerting.poll()
    base = ["--config", str(tmp_path / "hub.toml"), "--data-dir", str(tmp_path / "data")]
    report = json.loads(cli(*base, "report", "--region", "turkey", "--format", "json").stdout)
    assert report["filters"]["sites"] == ["istanbul"]
    assert report["site"] == {"id": "turkey", "name": "turkey"}
    assert sum(c["count"] for c in report["cycles"]) == 3
    chain = json.loads(cli(*base, "report", "--format", "json").stdout)
    assert sum(c["count"] for c in chain["cycles"]) == 6 and chain["site"]["id"] == "grand"
    alerts = json.loads(cli(*base, "alerts", "list", "--region", "turkey", "--json").stdout)
    assert {a["key"]["site"] for a in alerts} == {"istanbul"}
    refused = cli(*base, "report", "--region", "europe", check=False)
    assert refused.returncode == 2 and "regions: malaysia, turkey" in refused.stderr
