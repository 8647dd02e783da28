"""The server process freezes its start-up heap and raises the young generation's threshold once started."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
import uvicorn

import app.__main__ as entry
from app.server.heap import YOUNG_GENERATION_THRESHOLD

# In a child process: freezing this test process's heap would keep every later test's garbage out of reach.
PROBE = """
import gc, json
from app.server.heap import freeze_startup_heap
before = gc.get_threshold()
freeze_startup_heap()
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count(),
                  "tracked": len(gc.get_objects())}))
"""


def test_freeze_startup_heap_freezes_what_is_alive_and_raises_only_the_young_threshold() -> None:
    out = json.loads(subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True, text=True).stdout)
    assert out["frozen"] > 1000, out  # the interpreter's and the imports' objects
    assert out["tracked"] < 100, out  # nothing left for a full collection to walk
    assert out["after"] == [YOUNG_GENERATION_THRESHOLD, *out["before"][1:]]
    assert out["before"][0] < YOUNG_GENERATION_THRESHOLD


def test_the_server_freezes_its_heap_after_the_app_started(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    async def started(self: uvicorn.Server, sockets: object = None) -> None:
        calls.append("lifespan started, sockets open")

    monkeypatch.setattr(uvicorn.Server, "startup", started)
    monkeypatch.setattr(entry, "freeze_startup_heap", lambda: calls.append("heap frozen"))
    server = entry.DrainingServer(uvicorn.Config(app=None), runtime=None)  # type: ignore[arg-type]
    asyncio.run(server.startup())
    assert calls == ["lifespan started, sockets open", "heap frozen"]
