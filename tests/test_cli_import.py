"""`servicecycle import FILE`: the export's own files back in, validated as `record` does.

A round trip (export → import into an empty store) gives the very same report;
importing twice records once; every refused line is named (file, line, field,
value, what is allowed) while the others are recorded; arbitrary lines never
raise anything but the project's own errors.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicecycle.core import Catalogue, PluginHost, Runtime, ServiceCycleError, Store
from servicecycle.core.export import COLUMNS
from servicecycle.core.importing import ImportFileError, LineError, detect_format, import_ratings

from .conftest import BUILTIN, run_cli
from .test_report_support import ISTANBUL, rating

START = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=40)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A store of 40 days of ratings: suspect presses, reasons added later, two kiosks."""
    folder = tmp_path_factory.mktemp("history")
    config = folder / "site.toml"
    config.write_text('[site]\nid = "hotel-a"\ntimezone = "Europe/Istanbul"\n')
    catalogue = Catalogue.from_plugins(PluginHost.discover(only=BUILTIN))
    ratings = []
    for day in range(40):
        at = START + timedelta(days=day)
        for i in range(6):
            ratings.append(rating(catalogue, at + timedelta(minutes=i), 1 + (day + i) % 5))
        ratings.append(rating(catalogue, at, 2, moment="bill-accuracy", reasons=["bill-error"]))
        ratings.append(rating(catalogue, at, 3, kiosk="lobby-2", language="tr", suspect=True))
    with Store(folder / "data") as store:
        store.ratings.add_many(ratings)
        store.ratings.set_reasons(ratings[0], ["lost-time"])  # a reason picked after rating
    return {"SERVICECYCLE_CONFIG": str(config), "SERVICECYCLE_DATA_DIR": str(folder / "data")}


def ok(env, *args: str, code: int = 0):
    done = run_cli(*args, env=env)
    assert done.returncode == code, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done


def report(env) -> dict:
    since, until = START.date().isoformat(), (START + timedelta(days=45)).date().isoformat()
    args = ("report", "--format", "json", "--no-cache", "--since", since, "--until", until)
    data = json.loads(ok(env, *args).stdout)
    data.pop("generated", None)  # when it was made: the one thing that differs
    return data


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_then_import_into_an_empty_store_gives_the_same_report(history, tmp_path, fmt):
    exported = tmp_path / f"ratings.{fmt}"
    ok(history, "export", "--format", fmt, "-o", str(exported))
    empty = {**history, "SERVICECYCLE_DATA_DIR": str(tmp_path / "new")}
    done = ok(empty, "import", str(exported))
    assert "320 recorded, 0 already recorded, 0 refused" in done.stdout.replace("\n", " ")
    assert report(empty) == report(history)
    again = ok(empty, "export", "--format", fmt).stdout
    assert sorted(again.splitlines()) == sorted(exported.read_text().splitlines())
    # idempotent: the same file again records nothing more
    twice = json.loads(ok(empty, "import", str(exported), "--json").stdout)
    assert twice["recorded"] == 0 and twice["already_recorded"] == 320 and twice["refused"] == 0
    assert json.loads(ok(empty, "store", "stats", "--json").stdout)["tables"][0]["records"] == 320


GOOD = "0193a5d4c0de7000800000000000{:04x}"


def line(**fields) -> str:
    values = {
        "id": "",
        "at": "2026-11-20T07:00:00Z",
        "site": "hotel-a",
        "kiosk": "lobby-1",
        "cycle": "hotel-guest",
        "stage": "",
        "moment": "check-out-wait",
        "score": "3",
        "scale": "",
        "language": "en",
        "reasons": "",
        "flags": "",
        **fields,
    }
    return ",".join(values[c] for c in COLUMNS)


def test_each_refused_line_is_named_and_the_others_are_recorded(tmp_path):
    path = tmp_path / "cards.csv"
    path.write_text(
        "\n".join(
            [
                ",".join(COLUMNS),
                line(score="9"),
                line(at="2026-11-20 10:00", reasons="lost-time;wrong-pace"),
                line(moment="nap"),
                line(id="not-an-id"),
                line(at="yesterday"),
                line(reasons="rude"),
                "a,b,c",
                line(id=GOOD.format(1)),
                line(id=GOOD.format(1)),  # the same rating twice in one file: once
                line(id=GOOD.format(1), score="1"),  # the same id, other values: refused
            ]
        )
        + "\n"
    )
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path / "data")}
    done = ok(env, "import", str(path), code=1)
    errors = done.stderr
    assert f"{path}:2: field 'score': 9 is not allowed; a whole number from 1 to 5" in errors
    assert (
        f"{path}:4: field 'moment': 'nap' is not allowed; moments of cycle 'hotel-guest'" in errors
    )
    assert f"{path}:5: field 'id': 'not-an-id' is not allowed; a rating id" in errors
    assert f"{path}:6: field 'at': 'yesterday' is not allowed; an ISO 8601 time" in errors
    assert f"{path}:7: field 'reasons': 'rude' is not allowed; reasons of moment" in errors
    assert f"{path}:8: 3 values for 12 columns" in errors
    assert f"{path}:11: field 'id'" in errors and "already recorded with other values" in errors
    assert "10 line(s): 2 recorded, 1 already recorded, 7 refused" in done.stdout
    exported = ok(env, "export", "--format", "jsonl").stdout.splitlines()
    recorded = sorted((json.loads(r)["at"], json.loads(r)["reasons"]) for r in exported)
    # a time without a zone is the site's (UTC here); reasons are a ';' list
    assert recorded == [
        ("2026-11-20T07:00:00.000000Z", []),
        ("2026-11-20T10:00:00.000000Z", ["lost-time", "wrong-pace"]),
    ]


def test_dry_run_validates_and_writes_nothing(tmp_path):
    path = tmp_path / "cards.jsonl"
    path.write_text(
        json.dumps(
            {
                "at": "2026-11-20T07:00:00Z",
                "site": "hotel-a",
                "kiosk": "k",
                "cycle": "hotel-guest",
                "moment": "check-out-wait",
                "score": 4,
                "language": "en",
            }
        )
        + "\n"
        + json.dumps({"at": "2026-11-20T07:00:00Z", "score": "4"})
        + "\n"
    )
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path / "data")}
    result = json.loads(ok(env, "import", str(path), "--dry-run", "--json", code=1).stdout)
    assert result["dry_run"] is True and result["recorded"] == 1 and result["refused"] == 1
    assert result["errors"] == [
        {
            "line": 2,
            "field": "site",
            "value": "(missing)",
            "allowed": "every line needs at, site, kiosk, cycle, moment, score, language",
        }
    ]
    stats = json.loads(ok(env, "store", "stats", "--json").stdout)
    assert all(t["records"] == 0 for t in stats["tables"] if t["name"] == "ratings")


def test_the_format_comes_from_the_extension_or_the_option(tmp_path):
    path = tmp_path / "cards.txt"
    path.write_text(",".join(COLUMNS) + "\n" + line() + "\n")
    env = {"SERVICECYCLE_DATA_DIR": str(tmp_path / "data")}
    refused = ok(env, "import", str(path), code=2)
    assert "Invalid value for '--format'" in refused.stderr
    assert "cannot tell the format from the extension '.txt'" in refused.stderr
    assert "1 recorded" in ok(env, "import", str(path), "--format", "csv").stdout
    header = tmp_path / "other.csv"
    header.write_text("id,at,score,colour\n")
    wrong = ok(env, "import", str(header), code=1)
    assert "'colour' is not a column of the export" in wrong.stderr
    missing = ok(env, "import", str(tmp_path / "nope.csv"), code=2)
    assert "does not exist" in missing.stderr
    assert detect_format("x.NDJSON", "auto") == "jsonl" and detect_format("x", "csv") == "csv"


def test_a_big_file_streams_in_batches_across_many_days(tmp_path, runtime):
    """More days than are kept at hand, batches smaller than the file: counts stay exact."""
    records = []
    for n in range(600):
        at = START + timedelta(hours=n)
        records.append(rating(runtime.catalogue, at, 1 + n % 5).to_record())
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    seen = []
    first = import_ratings(
        runtime.recorder,
        io.BytesIO(data),
        "big.jsonl",
        "jsonl",
        ISTANBUL,
        batch=37,
        progress=seen.append,
    )
    assert (first.lines, first.recorded, first.refused) == (600, 600, 0)
    assert seen[-1] == len(data) and seen == sorted(seen)
    again = import_ratings(runtime.recorder, io.BytesIO(data + data), "x", "jsonl", ISTANBUL)
    assert (again.recorded, again.already_recorded) == (0, 1200)
    assert runtime.store.ratings.count() == 600


# -- arbitrary lines ------------------------------------------------------------------------

CELL = st.one_of(
    st.sampled_from(["", "hotel-a", "hotel-guest", "check-out-wait", "3", "en", "lost-time"]),
    st.text(max_size=12),
)
CSV_LINE = st.lists(CELL, min_size=0, max_size=14).map(lambda cells: ",".join(cells))
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
JSON_LINE = st.one_of(
    st.dictionaries(st.sampled_from([*COLUMNS, "x"]), JSON_VALUE, max_size=13).map(json.dumps),
    st.text(max_size=30),
)


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    runtime = Runtime.open(
        data_dir=tmp_path_factory.mktemp("fuzz"), plugins=PluginHost.discover(only=BUILTIN)
    )
    yield runtime
    runtime.close()


def _feed(runtime, data: bytes, fmt, dry_run: bool) -> None:
    errors: list[LineError] = []
    try:
        result = import_ratings(
            runtime.recorder,
            io.BytesIO(data),
            "f",
            fmt,
            ISTANBUL,
            dry_run=dry_run,
            on_error=errors.append,
        )
    except ImportFileError:
        return  # the file as a whole (its header): one clear message
    assert result.lines == result.recorded + result.already_recorded + result.refused
    assert len(errors) == result.refused
    for error in errors:
        assert str(error).startswith(f"f:{error.line}: ")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(CSV_LINE, max_size=6), header=st.booleans(), dry_run=st.booleans())
def test_arbitrary_csv_lines_give_only_the_project_s_errors(target, lines, header, dry_run):
    text = "\n".join(([",".join(COLUMNS)] if header else []) + lines)
    try:
        _feed(target, text.encode("utf-8", "surrogatepass"), "csv", dry_run)
    except ServiceCycleError as exc:  # pragma: no cover - would be a bug to surface
        pytest.fail(f"a project error escaped instead of being a line's: {exc}")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(JSON_LINE, max_size=6), dry_run=st.booleans())
def test_arbitrary_json_lines_give_only_the_project_s_errors(target, lines, dry_run):
    _feed(target, "\n".join(lines).encode("utf-8", "surrogatepass"), "jsonl", dry_run)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200), fmt=st.sampled_from(["csv", "jsonl"]))
def test_arbitrary_bytes_give_only_the_project_s_errors(target, data, fmt):
    _feed(target, b"id,at,site,kiosk,cycle,moment,score,language\n" + data, fmt, True)


def test_a_garbage_file_is_messages_not_a_traceback(tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(b"\xff\xfe\x00junk\n\x00\x01,,,\n" * 3)
    done = run_cli("import", str(path), env={"SERVICECYCLE_DATA_DIR": str(tmp_path / "d")})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{path}:1: byte 1" in done.stderr
