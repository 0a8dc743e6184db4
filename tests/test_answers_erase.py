"""Erasing one survey answer's comment and contact: on a real data folder and a real PostgreSQL.

What is checked is what a guest asking for erasure is owed: no reader shows the
text again (the answers reader, the report's survey section, the console's
follow-ups), the scores and the ratings they produced stay, compaction leaves no
byte of the text in any file of the data folder, and nothing brings it back (a
second form for the link, a kiosk re-shipping, a copy from an older store). Then
the CLI: what it says and its exit codes for every kind of bad input.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicecycle.core import (
    AlreadyAnswered,
    AlreadyErased,
    AnswerError,
    AnswerNotFound,
    Chain,
    FollowUpDesk,
    PluginHost,
    RatingFilter,
    Role,
    Runtime,
    User,
    answers,
    erase_answer,
    find_answer,
    parse_answer_id,
    record_answer,
)
from servicecycle.core.answers import MAX_NOTE, SURVEY_KIOSK, SurveyAnswer
from servicecycle.core.fleet.ingest import Ingest
from servicecycle.core.fleet.shipper import Shipper
from servicecycle.core.rating import format_time
from servicecycle.core.reports.collect import Scope
from servicecycle.core.reports.survey import survey_section
from servicecycle.core.store import maintenance
from servicecycle.core.store.copy import copy_store
from servicecycle.core.store.engines import open_store

from .conftest import run_cli
from .pg import pg_server, pg_url  # noqa: F401
from .test_survey_support import BUILTIN

ENGINES = ["folder", "postgresql"]
#: Text no other part of a data folder could hold by chance (non-ASCII on purpose).
COMMENT = "Bekleme çok uzundu, resepsiyon 7f3a9 hiç ilgilenmedi"
CONTACT = "+90 555 019 77 31"
#: Fragments grepped for too: a text could be stored escaped, or cut.
FRAGMENTS = ("7f3a9", "019 77 31", "ilgilenmedi")
#: A month closed on any machine running these tests: compaction merges it.
OLD = datetime(2025, 3, 30, 10, 0, tzinfo=UTC)


def site_config(folder: Path, extra: str = "") -> Path:
    config = folder / "site.toml"
    config.write_text(
        '[site]\nid = "lobby"\ntimezone = "Europe/Istanbul"\n[kiosk]\nid = "kiosk-1"\n' + extra,
        encoding="utf-8",
    )
    return config


def open_runtime(folder: Path, url: str | None = None, extra: str = "") -> Runtime:
    """A site on disk (and its store: the data folder, or the database at ``url``)."""
    return Runtime.open(
        site_config(folder, extra),
        data_dir=folder / "data",
        plugins=PluginHost.discover(only=BUILTIN),
        store_url=url,
    )


@pytest.fixture(params=ENGINES)
def site(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    runtime = open_runtime(tmp_path, url)
    yield runtime
    runtime.close()


@pytest.fixture
def folder_site(tmp_path):
    runtime = open_runtime(tmp_path)
    yield runtime
    runtime.close()


def answered(
    runtime: Runtime,
    at: datetime | None = None,
    comment: str | None = COMMENT,
    contact: str | None = CONTACT,
) -> SurveyAnswer:
    """A kiosk rating at ``at`` and, three minutes later, its survey answer."""
    at = at or datetime.now(UTC) - timedelta(hours=2)
    rating = runtime.recorder.record(
        site="lobby",
        kiosk="kiosk-1",
        cycle="hotel-guest",
        moment="check-in-wait",
        score=2,
        language="tr",
        at=at,
    )
    return record_answer(
        runtime,
        rating,
        {"check-in": 1, "stay": 5},
        comment,
        contact,
        contact_consent=contact is not None,
        now=at + timedelta(minutes=3),
    )


def traces(folder: Path, texts: tuple[str, ...] = (COMMENT, CONTACT, *FRAGMENTS)) -> list[str]:
    """Every file under ``folder`` holding any of ``texts``: raw UTF-8, or JSON-escaped."""
    needles = {t.encode() for t in texts} | {json.dumps(t)[1:-1].encode() for t in texts}
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {n!r}" for n in sorted(needles) if n in data]
    return found


# -- the answers reader and what reads it ----------------------------------------------


def test_an_erased_answer_keeps_its_scores_and_loses_its_text(site):
    answer = answered(site)
    other = answered(site, comment="Sehr gut", contact=None)
    done = erase_answer(site.site_store, answer.id, "alice", "ticket 4711")
    assert done.id == answer.id
    assert (done.erasure.by, done.erasure.reason) == ("alice", "ticket 4711")
    assert done.erasure.fields == ("comment", "contact")
    assert (done.answer.comment, done.answer.contact, done.answer.contact_consent) == (
        "",
        None,
        False,
    )
    rating = site.site_store.ratings.get(answer.id)
    stored = find_answer(site.site_store, rating)
    assert stored == done.answer
    assert stored.erased == done.erasure
    # everything but the personal fields is as it was
    assert (stored.stages, stored.at, stored.site, stored.cycle, stored.language) == (
        answer.stages,
        answer.at,
        answer.site,
        answer.cycle,
        answer.language,
    )
    assert [a.id for a in answers(site.site_store)] == [answer.id, other.id]
    assert find_answer(site.site_store, site.site_store.ratings.get(other.id)) == other
    raw = json.dumps(list(site.site_store.answers.records()), ensure_ascii=False)
    assert not any(text in raw for text in (COMMENT, CONTACT, *FRAGMENTS))
    # the ratings the scores produced stay
    derived = {r.id for r in site.site_store.ratings.query(RatingFilter(kiosk=SURVEY_KIOSK))}
    assert {s.rating for s in answer.stages} <= derived


def test_the_report_s_survey_section_keeps_the_figures_and_drops_the_comment(site):
    answer = answered(site)
    since = format_time(answer.at - timedelta(days=1))
    until = format_time(answer.at + timedelta(days=1))

    def section() -> dict:
        found = survey_section(site.site_store.answers, site.catalogue, since, until, Scope(), 2)
        return found.to_json()

    before = section()
    erase_answer(site.site_store, answer.id, "alice")
    after = section()
    assert (before["answers"], before["comments"]) == (1, 1)
    assert (after["answers"], after["comments"]) == (1, 0)
    assert [c["stages"] for c in after["cycles"]] == [c["stages"] for c in before["cycles"]]
    assert not any(text in json.dumps(after, ensure_ascii=False) for text in (COMMENT, CONTACT))


def test_an_erased_answer_is_no_longer_a_follow_up(site):
    answer = answered(site)
    kept = answered(site, comment="Oda çok temizdi", contact=None)
    desk = FollowUpDesk(site, Chain(site.config))
    admin = User("boss", Role.ADMIN)
    assert {f.answer.id for f in desk.followups(admin)} == {answer.id, kept.id}
    erase_answer(site.site_store, answer.id, "boss")
    listed = desk.followups(admin)
    assert [f.answer.id for f in listed] == [kept.id]
    shown = [(f.comment, f.contact, f.answer.comment, f.answer.contact) for f in listed]
    assert not any(text in repr(shown) for text in (COMMENT, CONTACT))


# -- what is refused, and what it says --------------------------------------------------


def test_erasing_again_says_when_and_by_whom_and_changes_nothing(site):
    answer = answered(site)
    first = erase_answer(site.site_store, answer.id, "alice", now=datetime.now(UTC))
    with pytest.raises(AlreadyErased) as caught:
        erase_answer(site.site_store, answer.id, "bob", "again")
    assert caught.value.erased.erasure == first.erasure
    message = str(caught.value)
    assert "already erased at" in message and "by alice (request)" in message
    assert find_answer(site.site_store, site.site_store.ratings.get(answer.id)).erased.by == "alice"


def test_an_unknown_id_says_so_and_how_to_find_ids(site):
    answered(site)
    missing = uuid.uuid4().hex
    with pytest.raises(AnswerNotFound, match=f"no survey answer {missing}") as caught:
        erase_answer(site.site_store, missing, "alice")
    assert "servicecycle answers list" in str(caught.value)


@pytest.mark.parametrize(
    ("by", "reason", "field"),
    [
        ("", "request", "by"),
        ("   ", "request", "by"),
        ("al\nice", "request", "by"),
        ("alice\x1b[2J", "request", "by"),
        ("a" * (MAX_NOTE + 1), "request", "by"),
        (None, "request", "by"),
        ("alice", "", "reason"),
        ("alice", "two\nlines", "reason"),
        ("alice", 7, "reason"),
    ],
)
def test_a_bad_name_or_reason_is_refused_naming_the_field(folder_site, by, reason, field):
    answer = answered(folder_site)
    with pytest.raises(AnswerError) as caught:
        erase_answer(folder_site.site_store, answer.id, by, reason)
    assert caught.value.field == field
    assert find_answer(folder_site.site_store, folder_site.site_store.ratings.get(answer.id)) == (
        answer
    )


@pytest.mark.parametrize(
    "value", ["", "nope", "0193a5c2", "0193a5c2e1b07c3d9f4a6b2e8d1c0f5z", "x" * 32, 32, None]
)
def test_a_malformed_id_is_refused_with_the_form_allowed(folder_site, value):
    with pytest.raises(AnswerError, match="32 hexadecimal digits") as caught:
        erase_answer(folder_site.site_store, value, "alice")
    assert caught.value.field == "id"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_an_id_or_a_clear_refusal(text):
    try:
        parsed = parse_answer_id(text)
    except AnswerError as exc:
        assert exc.field == "id" and "32 hexadecimal digits" in str(exc)
        return
    assert len(parsed) == 32 and set(parsed) <= set("0123456789abcdef")
    assert parsed == text.strip().lower().replace("-", "")


@given(st.uuids(), st.sampled_from(["hex", "upper", "dashed", "blanks"]))
def test_every_way_an_id_is_written_reads_as_its_hex(value, style):
    written = {
        "hex": value.hex,
        "upper": value.hex.upper(),
        "dashed": str(value),
        "blanks": f"  {value.hex}\n",
    }[style]
    assert parse_answer_id(written) == value.hex


# -- the data folder: a tombstone now, the bytes gone at compaction ----------------------


def test_compaction_leaves_no_byte_of_the_erased_text_in_any_file(tmp_path):
    runtime = open_runtime(tmp_path)
    data = runtime.data_dir
    old = answered(runtime, OLD)  # a closed month: compaction merges its days
    new = answered(runtime)  # this month: compaction rewrites its day
    plain = answered(runtime, comment=None, contact=None)
    # the kiosk's outbox, as shipping writes it: a cursor, a record set aside
    shipper = Shipper(runtime.site_store.changes, data)
    changes = runtime.site_store.changes.changes(None)
    shipper._set_aside(changes[0], "refused for the test")
    shipper._advance(changes)
    assert traces(data)  # the grep finds the text while it is there
    for answer in (old, new, plain):
        erase_answer(runtime.site_store, answer.id, "alice")
    assert traces(data), "a tombstone is appended; the old line stays until compaction"
    runtime.close()

    done = run_cli("--config", str(tmp_path / "site.toml"), "store", "compact")
    assert done.returncode == 0, done.stderr
    cached = [p for p in (data / "cache").rglob("*") if p.is_file()]
    assert cached, "compaction writes the report summaries: the grep covers the cache"
    assert (data / "outbox" / "set-aside.jsonl").is_file()
    assert (data / "outbox" / "cursor.json").is_file()
    assert traces(data) == []
    again = open_runtime(tmp_path)
    try:
        for answer in (old, new, plain):
            stored = find_answer(again.site_store, again.site_store.ratings.get(answer.id))
            assert stored.erased is not None and stored.stages == answer.stages
        assert again.site_store.ratings.count(RatingFilter(kiosk=SURVEY_KIOSK)) == 6
    finally:
        again.close()


def test_erase_with_compact_removes_the_bytes_at_once(tmp_path):
    runtime = open_runtime(tmp_path)
    answer = answered(runtime, OLD)
    runtime.close()
    done = run_cli(
        "--config", str(tmp_path / "site.toml"), "answers", "erase", answer.id, "--compact"
    )
    assert done.returncode == 0, done.stderr
    assert "the text is gone from the data folder" in done.stdout
    assert traces(tmp_path / "data") == []


def test_a_month_merged_between_the_look_and_the_tombstone_still_gets_it(folder_site, monkeypatch):
    answer = answered(folder_site, OLD)
    store = folder_site.store
    real = store.append
    merged: list[Path] = []

    def append(path: Path, lines: bytes) -> None:
        if not merged:  # compaction merges the answer's month just before the tombstone lands
            merged.append(path)
            maintenance.compact(store)
        real(path, lines)

    monkeypatch.setattr(store, "append", append)
    erase_answer(folder_site.site_store, answer.id, "alice")
    monkeypatch.undo()
    [day_file] = merged
    month_file = day_file.with_name(f"{day_file.stem[:7]}.log")
    assert day_file.stem == "2025-03-30" and month_file.is_file()
    assert b" P {" in month_file.read_bytes()  # the tombstone followed the merge
    stored = find_answer(folder_site.site_store, folder_site.site_store.ratings.get(answer.id))
    assert stored.erased is not None and (stored.comment, stored.contact) == ("", None)
    maintenance.compact(store)
    assert not day_file.exists()  # the leftover the first append made is gone too
    assert traces(folder_site.data_dir) == []


# -- nothing brings the text back --------------------------------------------------------


def test_a_second_form_for_the_link_does_not_bring_the_text_back(site):
    answer = answered(site)
    erase_answer(site.site_store, answer.id, "alice")
    rating = site.site_store.ratings.get(answer.id)
    with pytest.raises(AlreadyAnswered) as caught:
        record_answer(site, rating, {"stay": 1}, COMMENT, CONTACT, contact_consent=True)
    assert caught.value.answer.erased is not None and caught.value.answer.comment == ""
    assert find_answer(site.site_store, rating).comment == ""


def test_a_kiosk_re_shipping_to_the_hub_does_not_undo_an_erasure_made_there(site):
    """The hub stores the answer (its survey pages); the kiosk ships ratings only, again and
    again: the hub's ingest takes the same ids as duplicates and the erasure stands."""
    kiosk_rating = site.catalogue.new_rating(
        site="lobby",
        kiosk="kiosk-1",
        cycle="hotel-guest",
        moment="check-in-wait",
        score=2,
        language="en",
        at=datetime.now(UTC) - timedelta(hours=1),
    )
    shipped = [{"kind": "new", "rating": kiosk_rating.to_record()}]
    ingest = Ingest(site.site_store, site.catalogue)
    assert ingest.take("lobby", "kiosk-1", shipped).accepted == 1
    at_hub = site.site_store.ratings.get(kiosk_rating.id)
    answer = record_answer(site, at_hub, {"stay": 2}, COMMENT, CONTACT, contact_consent=True)
    erase_answer(site.site_store, answer.id, "hub-admin")
    amended = {**kiosk_rating.to_record(), "reasons": ["lost-time"]}
    again = ingest.take("lobby", "kiosk-1", [*shipped, {"kind": "amend", "rating": amended}])
    assert not again.refused and again.accepted == 0
    stored = find_answer(site.site_store, at_hub)
    assert stored.erased is not None and (stored.comment, stored.contact) == ("", None)


def test_a_copy_never_brings_erased_text_back_and_carries_an_erasure(site, tmp_path):
    answer = answered(site)
    backup = open_store(str(tmp_path / "before"))
    try:
        copy_store(site.site_store, backup)  # a copy made before the erasure
        erase_answer(site.site_store, answer.id, "alice")
        copy_store(backup, site.site_store)  # restored over the erased store: erasure stands
        assert site.site_store.answers.find(answer.id)["comment"] == ""
        result = copy_store(site.site_store, backup)  # and the erasure reaches the old copy
        assert result.patched.get("answers") == 1
        assert backup.answers.find(answer.id)["erased"]["by"] == "alice"
        copied = backup.answers.find(answer.id)
        assert (copied["comment"], copied["contact"], copied["contact_consent"]) == (
            "",
            None,
            False,
        )
        assert copy_store(site.site_store, backup).patched.get("answers", 0) == 0
        maintenance.compact(backup.store)
    finally:
        backup.close()
    assert traces(tmp_path / "before") == []


def test_postgresql_updates_the_row_in_place(pg_url, tmp_path):  # noqa: F811
    import psycopg

    runtime = open_runtime(tmp_path, pg_url)
    try:
        answer = answered(runtime)
        erase_answer(runtime.site_store, answer.id, "alice")
    finally:
        runtime.close()
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT body::text FROM answers").fetchall()
        records = conn.execute("SELECT body::text FROM records").fetchall()
    assert len(rows) == 1
    text = " ".join(r[0] for r in rows + records)
    assert not any(t in text or json.dumps(t)[1:-1] in text for t in (COMMENT, CONTACT))
    assert '"by": "alice"' in rows[0][0]


# -- the CLI ---------------------------------------------------------------------------


def cli_env(tmp_path: Path, url: str | None = None) -> tuple[str, ...]:
    args: tuple[str, ...] = ("--config", str(tmp_path / "site.toml"))
    return (*args, "--store", url) if url else args


def test_cli_erase_says_what_it_did_and_exits_0_also_when_done_before(tmp_path):
    runtime = open_runtime(tmp_path)
    answer = answered(runtime)
    runtime.close()
    args = cli_env(tmp_path)
    done = run_cli(*args, "answers", "erase", answer.id, "--by", "alice", "--reason", "ticket 9")
    assert done.returncode == 0, done.stderr
    assert f"Erased the comment and contact details of answer {answer.id}" in done.stdout
    assert "by alice: ticket 9" in done.stdout and "Europe/Istanbul" in done.stdout
    assert "servicecycle store compact" in done.stdout
    again = run_cli(*args, "answers", "erase", answer.id.upper(), "--by", "bob", "--json")
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["erased_now"] is False and data["erased"]["by"] == "alice"
    assert data["engine"] == "folder" and data["compacted"] is False
    said = run_cli(*args, "answers", "erase", answer.id)
    assert said.returncode == 0
    assert "was already erased at" in said.stdout and "by alice (ticket 9)" in said.stdout


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["answers", "erase", "0193a5c2e1b07c3d9f4a6b2e8d1c0f57"], 1, "answers list"),
        (["answers", "erase", "nope"], 2, "'nope' is not an answer id"),
        (["answers", "erase", "0193a5c2-e1b0"], 2, "32 hexadecimal digits"),
        (["answers", "erase", "\x1b[2J"], 2, "\\x1b"),
        (["answers", "erase"], 2, "Missing argument 'ID'"),
        (["answers", "erase", "{id}", "--by", ""], 2, "--by"),
        (["answers", "erase", "{id}", "--reason", "a\nb"], 2, "--reason"),
        (["answers", "list", "--contact", " - "], 2, "--contact"),
        (["answers", "list", "--since", "last tuesday"], 2, "--since"),
    ],
)
def test_cli_errors_are_one_clear_line_never_a_traceback(tmp_path, argv, code, said):
    runtime = open_runtime(tmp_path)
    answer = answered(runtime)
    runtime.close()
    done = run_cli(*cli_env(tmp_path), *[a.replace("{id}", answer.id) for a in argv])
    assert done.returncode == code, (done.stdout, done.stderr)
    assert said in done.stderr and "Traceback" not in done.stderr


def test_cli_list_finds_a_guest_s_answers_by_contact_and_never_shows_text(tmp_path):
    runtime = open_runtime(tmp_path)
    mine = answered(runtime)
    answered(runtime, contact="guest@example.org")
    runtime.close()
    args = cli_env(tmp_path)
    found = run_cli(*args, "answers", "list", "--contact", "9055501977-31", "--json")
    assert found.returncode == 0, found.stderr
    data = json.loads(found.stdout)
    assert [a["id"] for a in data["answers"]] == [mine.id] and data["not_shown"] == 0
    assert data["answers"][0]["comment"] is True and data["answers"][0]["erased"] is None
    table = run_cli(*args, "answers", "list", env={"COLUMNS": "200"})
    assert table.returncode == 0 and mine.id in table.stdout
    assert not any(t in table.stdout for t in (COMMENT, CONTACT, "guest@example.org"))
    run_cli(*args, "answers", "erase", mine.id, "--by", "alice")
    after = run_cli(*args, "answers", "list", env={"COLUMNS": "200"})
    assert "erased" in after.stdout and "by alice" in after.stdout


def test_cli_erase_on_postgresql_names_vacuum(tmp_path, pg_url):  # noqa: F811
    runtime = open_runtime(tmp_path, pg_url)
    answer = answered(runtime)
    runtime.close()
    done = run_cli(*cli_env(tmp_path, pg_url), "answers", "erase", answer.id, "--compact")
    assert done.returncode == 0, done.stderr
    assert "PostgreSQL updated the row in place" in done.stdout and "VACUUM" in done.stdout
    assert pg_url.split("@")[0].split(":")[-1] not in done.stdout + done.stderr  # no password
