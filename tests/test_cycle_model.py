"""The cycle template: what it accepts, and how precisely it refuses."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicecycle.core import Cycle, TemplateError, default_reasons, load_cycle

BASE = {
    "id": "cafe-visit",
    "industry": "cafe",
    "languages": ["en", "tr"],
    "name": {"en": "Cafe visit", "tr": "Kafe ziyareti"},
    "reasons": [
        {"id": "cold-coffee", "group": "cafe", "label": {"en": "My coffee was cold"}},
    ],
    "stages": [
        {
            "id": "order",
            "name": {"en": "Ordering"},
            "moments": [
                {
                    "id": "order-wait",
                    "question": {"en": "How was the wait?", "tr": "Bekleme nasıldı?"},
                    "critical": True,
                    "target": 4.2,
                    "reasons": ["lost-time", "cold-coffee"],
                    "praise": ["quick-service"],
                }
            ],
        },
        {
            "id": "pay",
            "name": {"en": "Paying"},
            "moments": [{"id": "bill", "question": {"en": "Was the bill right?"}, "target": 4}],
        },
    ],
}


def variant(**changes) -> dict:
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is KeyError:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return data


def problems(data) -> list[str]:
    with pytest.raises(TemplateError) as info:
        load_cycle(data, name="cafe.toml")
    assert info.value.source == "cafe.toml"
    return info.value.problems


def test_valid_cycle_builds_and_looks_things_up():
    cycle = load_cycle(BASE)
    assert isinstance(cycle, Cycle)
    stage, moment = cycle.find_moment("order-wait")
    assert stage.id == "order" and moment.critical and stage.critical
    assert not cycle.stages[1].critical
    assert [m.id for _, m in cycle.critical_moments()] == ["order-wait"]
    assert cycle.reason("cold-coffee").label["en"] == "My coffee was cold"
    assert "apathy" in cycle.available_reasons
    assert moment.target_on(4, 5) == pytest.approx(1 + 3.2 * 3 / 4)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"id": "Cafe Visit"}, "id = 'Cafe Visit'"),
        ({"scale": 7}, "scale = 7: Input should be 4 or 5"),
        ({"stages__0__moments__0__target": 6}, "target = 6.0: must be between 1 and 5"),
        ({"stages__0__moments__0__reasons": ["nope"]}, "reasons[0] = 'nope': unknown reason"),
        ({"stages__0__moments__0__praise": ["lost-time"]}, "is a negative reason"),
        ({"stages__1__moments__0__id": "order-wait"}, "moment ids must be unique"),
        ({"stages__1__id": "order"}, "stage ids must be unique"),
        ({"stages__0__moments__0__question": {"tr": "?"}}, "has no text in 'en'"),
        ({"stages__0__name": {"en": "x", "de": "y"}}, "language(s) de not declared"),
        ({"stages__0__moments__0__colour": "red"}, "colour: unknown key; allowed keys: critical"),
        ({"stages": []}, "stages = []"),
        ({"languages": KeyError}, "languages: required but missing"),
        ({"stages__0__name": {"en": "  "}}, "empty text"),
    ],
)
def test_bad_templates_name_the_field_value_and_allowed(changes, expected):
    found = problems(variant(**changes))
    assert any(expected in p for p in found), found


def test_replacing_the_default_reasons():
    data = variant(use_default_reasons=False)
    assert any("'lost-time': unknown reason" in p for p in problems(data))
    data["stages"][0]["moments"][0]["reasons"] = ["cold-coffee"]
    data["stages"][0]["moments"][0]["praise"] = []
    cycle = load_cycle(data)
    assert set(cycle.available_reasons) == {"cold-coffee"}


def test_own_reason_may_not_shadow_a_default_one():
    data = variant()
    data["reasons"].append({"id": "apathy", "group": "cafe", "label": {"en": "x"}})
    assert any("already defined in the default taxonomy" in p for p in problems(data))


def test_malformed_toml_names_file_and_line(tmp_path):
    path = tmp_path / "cycle.toml"
    path.write_text('id = "x"\nname = {en = "unterminated}\n')
    with pytest.raises(TemplateError) as info:
        load_cycle(path)
    assert str(path) in str(info.value)
    assert "line 2" in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(TemplateError, match="cannot read"):
        load_cycle(tmp_path / "absent.toml")


def test_default_taxonomy_is_sins_disasters_and_praise():
    reasons = default_reasons()
    groups = {g: [r.id for r in reasons if r.group == g] for g in ("sin", "disaster", "praise")}
    assert groups["sin"] == [
        "apathy",
        "brush-off",
        "coldness",
        "condescension",
        "robotism",
        "rule-book",
        "runaround",
    ]
    assert groups["disaster"] == [
        "lost-time",
        "bad-information",
        "unsuitable-hours",
        "insufficient-availability",
        "wrong-pace",
        "lack-of-anticipation",
        "lack-of-reaction",
    ]
    assert groups["praise"]
    for reason in reasons:
        assert set(reason.label) == {"en", "ms", "ru", "tr"}
        assert reason.polarity == ("positive" if reason.group == "praise" else "negative")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([*sorted(BASE), "x"]), json_values, max_size=6))
def test_any_mapping_gives_a_cycle_or_a_template_error(data):
    try:
        load_cycle(data)
    except TemplateError as exc:
        assert exc.problems


@settings(max_examples=150, deadline=None)
@given(
    path=st.sampled_from(
        [
            "id",
            "scale",
            "stages__0__moments__0__target",
            "stages__0__moments__0__reasons",
            "stages__0__moments__0__question",
            "stages__1__name",
            "languages",
        ]
    ),
    value=json_values,
)
def test_any_single_field_corruption_gives_a_cycle_or_a_template_error(path, value):
    try:
        load_cycle(variant(**{path: value}))
    except TemplateError as exc:
        assert exc.problems
