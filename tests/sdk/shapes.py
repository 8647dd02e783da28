"""Same shape: two JSON documents with the same keys recursively and the same JSON types.

Normalisations: values are not compared (ids, timestamps, run ids and state differ from run to run), except at
the keys of COMPARED_VALUES, whose values a client branches on; a UUID in an object key (task ids keying a
thread's `interrupts`, message run ids keying `messages/metadata`) is compared as `<uuid>`; lists are compared
item by item, and a difference in length is reported as one.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

COMPARED_VALUES = frozenset({"status", "event", "source", "multitask_strategy"})
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _keys(document: dict[str, Any]) -> dict[str, Any]:
    return {UUID.sub("<uuid>", key): value for key, value in document.items()}


def differences(recorded: Any, ours: Any, path: str = "") -> list[str]:
    """Every place where `ours` has not the shape of `recorded`, as "<path>: <what differs>"."""
    if json_type(recorded) != json_type(ours):
        return [f"{path}: {json_type(ours)}, official {json_type(recorded)} ({_short(recorded)})"]
    if isinstance(recorded, dict):
        theirs, mine = _keys(recorded), _keys(ours)
        found = [f"{path}.{key}: missing (official {_short(theirs[key])})" for key in theirs.keys() - mine.keys()]
        found += [f"{path}.{key}: not in the official answer" for key in mine.keys() - theirs.keys()]
        for key in theirs.keys() & mine.keys():
            if key in COMPARED_VALUES and not isinstance(theirs[key], dict | list) and theirs[key] != mine[key]:
                found.append(f"{path}.{key}: {mine[key]!r}, official {theirs[key]!r}")
            found += differences(theirs[key], mine[key], f"{path}.{key}")
        return sorted(found)
    if isinstance(recorded, list):
        found = [] if len(recorded) == len(ours) else [f"{path}: {len(ours)} items, official {len(recorded)}"]
        for index, (theirs, mine) in enumerate(zip(recorded, ours, strict=False)):
            found += differences(theirs, mine, f"{path}[{index}]")
        return found
    return []


def unexplained(found: list[str], exceptions: dict[str, str]) -> list[str]:
    """The differences no pattern of `exceptions` (an fnmatch pattern of the path, to the reason) explains."""
    return [line for line in found if not any(fnmatchcase(line.split(": ", 1)[0], p) for p in exceptions)]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
