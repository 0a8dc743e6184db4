"""Choosing the store from the command line and the configuration, as a user does.

Real processes (the installed ``servicecycle`` command) against the real throw-away
PostgreSQL of tests/pg.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from servicecycle.core import Runtime, StoreError

from .conftest import run_cli
from .pg import PgServer, pg_server, pg_url  # noqa: F401


def _at() -> str:
    now = datetime.now(UTC)
    return min(now.replace(hour=9, minute=0, second=0, microsecond=0), now - timedelta(minutes=5))


def test_record_report_export_and_alerts_on_postgresql(pg_url, tmp_path):  # noqa: F811
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path / "side")}
    for score in (1, 2, 5):
        done = run_cli(
            "--store", pg_url, "record", "--score", str(score), "--at", _at().isoformat(), env=env
        )
        assert done.returncode == 0, done.stderr
    report = run_cli("--store", pg_url, "report", "--format", "json", env=env)
    assert report.returncode == 0, report.stderr
    counted = sum(
        line["count"]
        for cycle in json.loads(report.stdout)["cycles"]
        for line in cycle["report_card"]
    )
    assert counted == 3
    exported = run_cli("--store", pg_url, "export", "--format", "jsonl", env=env)
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 3
    listed = run_cli("--store", pg_url, "alerts", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    # nothing was written to the data folder: the records are in PostgreSQL
    assert not (tmp_path / "side" / "tables" / "ratings").exists()


def test_the_store_url_comes_from_the_config_or_the_environment(pg_url, tmp_path):  # noqa: F811
    config = tmp_path / "site.toml"
    config.write_text(f'[store]\nurl = "{pg_url}"\n')
    at = _at().isoformat()
    by_config = run_cli("--config", str(config), "record", "--score", "3", "--at", at)
    assert by_config.returncode == 0, by_config.stderr
    by_env = run_cli("export", "--format", "jsonl", env={"SERVICECYCLE_STORE": pg_url})
    assert by_env.returncode == 0, by_env.stderr
    assert len(by_env.stdout.splitlines()) == 1


def test_store_migrate_says_where_and_which_schema(pg_server: PgServer, pg_url):  # noqa: F811
    done = run_cli("--store", pg_url, "store", "migrate", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["engine"] == "postgresql" and answer["schema"] >= 1
    assert answer["tally_zone"]  # the zone its first user's site is in
    assert pg_server.password not in done.stdout  # never the password
    again = run_cli("--store", pg_url, "store", "migrate")
    assert again.returncode == 0 and "up to date" in again.stdout
    assert f"daily tallies count local days in {answer['tally_zone']}" in again.stdout


def test_folder_maintenance_on_postgresql_is_refused_in_one_line(pg_url):  # noqa: F811
    for command in ("check", "repair", "compact", "stats"):
        done = run_cli("--store", pg_url, "store", command)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert f"`store {command}` looks after a data folder" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_wrong_password_or_bad_url_is_one_line_without_a_traceback(
    pg_server: PgServer,  # noqa: F811
    pg_url,  # noqa: F811
):
    wrong = pg_url.replace(pg_server.password, "not-it")
    done = run_cli("--store", wrong, "report")
    assert done.returncode == 1
    assert "wrong user name or password" in done.stderr and "not-it" not in done.stderr
    assert "Traceback" not in done.stderr
    bad = run_cli("--store", "postgresql://u:pw@127.0.0.1:99999/x", "report")
    assert bad.returncode == 1 and "port is not a number" in bad.stderr
    config_error = run_cli("report", env={"SERVICECYCLE_CONFIG": None, "SERVICECYCLE_STORE": ""})
    assert config_error.returncode == 0  # an empty variable is no store URL: the folder


def test_a_bad_store_url_in_the_config_names_the_key(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text('[store]\nurl = "/var/lib/servicecycle"\n')
    done = run_cli("--config", str(config), "report")
    assert done.returncode != 0
    assert "store.url" in done.stderr and "data_dir" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_file_url_is_the_data_folder(tmp_path):
    folder = tmp_path / "data"
    done = run_cli("--store", f"file://{folder}", "record", "--score", "4")
    assert done.returncode == 0, done.stderr
    assert (folder / "store.json").exists()


def test_a_kiosk_never_records_into_a_server(
    pg_server: PgServer,  # noqa: F811
    pg_url,  # noqa: F811
    tmp_path,
    host,
):
    runtime = Runtime.open(data_dir=tmp_path, plugins=host, store_url=pg_url)
    try:
        runtime.own_store("kiosk lobby")
    except StoreError as exc:
        assert "a kiosk records into its own data folder" in str(exc)
        assert pg_server.password not in str(exc)
    else:
        raise AssertionError("a kiosk took a PostgreSQL store")
    finally:
        runtime.close()


def test_an_import_into_postgresql_twice_stores_each_rating_once(pg_url, tmp_path):  # noqa: F811
    exported = tmp_path / "ratings.jsonl"
    folder = tmp_path / "data"
    for score in (1, 4):
        done = run_cli(
            "--data-dir", str(folder), "record", "--score", str(score), "--at", _at().isoformat()
        )
        assert done.returncode == 0, done.stderr
    done = run_cli("--data-dir", str(folder), "export", "--format", "jsonl", "-o", str(exported))
    assert done.returncode == 0, done.stderr
    for _ in range(2):
        done = run_cli("--store", pg_url, "import", str(exported))
        assert done.returncode == 0, done.stderr
    again = run_cli("--store", pg_url, "export", "--format", "jsonl")
    assert sorted(again.stdout.splitlines()) == sorted(exported.read_text().splitlines())
