"""A small Server-Sent Events parser for the tests (events and comment lines, in order)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass
class Event:
    event: str
    data: Any


def parse_sse(text: str) -> tuple[list[Event], list[str]]:
    """Return the events (data parsed as JSON) and the comment lines, each in arrival order."""
    events: list[Event] = []
    comments: list[str] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith(":"):
                comments.append(line[1:].strip())
            elif line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:") :].strip())
        if data:
            events.append(Event(name, json.loads("\n".join(data))))
    return events, comments
