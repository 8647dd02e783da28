"""The "same shape" comparison of tests/sdk/shapes.py reports every difference by its path."""

from __future__ import annotations

from tests.sdk.shapes import differences, unexplained

OFFICIAL = {
    "thread_id": "01a22bc7-88a8-74ec-a069-1abba72542f0",
    "status": "idle",
    "interrupts": {"c44bc84c-18f9-eedd-99d2-d57b2bbf8153": [{"id": "b19", "value": 1}]},
    "values": [{"n": 1}, {"n": 2}],
    "error": None,
}


def test_same_keys_and_types_with_other_values_are_the_same_shape() -> None:
    ours = {
        "thread_id": "5f1c1b1e-0000-4000-8000-000000000000",
        "status": "idle",
        "interrupts": {"7d2b0d7c-0000-4000-8000-000000000000": [{"id": "other", "value": 2.5}]},
        "values": [{"n": 7}, {"n": 8}],
        "error": None,
    }
    assert differences(OFFICIAL, ours) == []


def test_every_difference_is_reported_by_its_path() -> None:
    ours = {
        "thread_id": None,
        "status": "busy",
        "interrupts": {"7d2b0d7c-0000-4000-8000-000000000000": [{"value": 1, "when": "now"}]},
        "values": [{"n": "1"}],
        "extra": 1,
    }
    assert differences(OFFICIAL, ours, "t") == [
        "t.error: missing (official None)",
        "t.extra: not in the official answer",
        "t.interrupts.<uuid>[0].id: missing (official 'b19')",
        "t.interrupts.<uuid>[0].when: not in the official answer",
        "t.status: 'busy', official 'idle'",
        "t.thread_id: null, official string ('01a22bc7-88a8-74ec-a069-1abba72542f0')",
        "t.values: 1 items, official 2",
        "t.values[0].n: string, official number (1)",
    ]


def test_exceptions_explain_differences_by_path_pattern() -> None:
    found = ["t.run.kwargs.x: missing (official 1)", "t.status: 'busy', official 'idle'"]
    assert unexplained(found, {"*.kwargs.*": "platform only"}) == ["t.status: 'busy', official 'idle'"]


def test_ids_inside_keys_compare_as_one_key() -> None:
    official = {"lc_run--01a22bcf-eb94-74ac-b7b1-e8280bf0bc5f": {"metadata": {}}}
    ours = {"lc_run--5f1c1b1e-0000-4000-8000-000000000000": {"metadata": {}}}
    assert differences(official, ours) == []
