"""docs/platform-api.md lists every method of the installed `langgraph-sdk` client, and each method it marks
*not supported* answers a 422 naming it (never a bare 404)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import UnprocessableEntityError

from app.server.platform_api.unsupported import UNSUPPORTED

DOC = Path(__file__).parents[2] / "docs" / "platform-api.md"
ROW = re.compile(r"^\| `(\w+\.\w+)` \| (supported|not supported) \|", re.MULTILINE)
RESOURCES = ("assistants", "threads", "runs", "crons", "store")


def _client_methods() -> set[str]:
    with get_sync_client(url="http://127.0.0.1:9", api_key="unused") as sdk:
        return {
            f"{resource}.{name}"
            for resource in RESOURCES
            for name, _ in inspect.getmembers(type(getattr(sdk, resource)), inspect.isfunction)
            if not name.startswith("_")
        }


def _documented() -> dict[str, str]:
    rows = ROW.findall(DOC.read_text())
    assert len(rows) == len(dict(rows)), "a method is listed twice"
    return dict(rows)


def test_the_doc_lists_every_client_method() -> None:
    documented = _documented()
    assert set(documented) == _client_methods()
    assert {method for method, status in documented.items() if status == "not supported"} == set(UNSUPPORTED)


CALLS: dict[str, Callable[[SyncLangGraphClient], Any]] = {
    "threads.stream": lambda c: c.http.post("/threads/t/commands", json={}),
}


@pytest.mark.parametrize("method", sorted(UNSUPPORTED))
def test_an_unsupported_method_is_a_422_naming_it(client: SyncLangGraphClient, method: str) -> None:
    with pytest.raises(UnprocessableEntityError) as raised:
        CALLS[method](client)
    assert method in raised.value.message and "not supported" in raised.value.message
