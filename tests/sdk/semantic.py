"""The store's semantic search as the official client sees it, shared by every backend that serves it: the
embedded SQLite store (tests/sdk/test_store.py) and PostgreSQL with pgvector (tests/e2e/test_pgvector.py).

`check_semantic_search` puts items in two namespaces of a fresh user on a server whose langgraph.json is
tests/app/graphs/langgraph_vectors.json (its offline bag-of-words embeddings, field `text`), asserts what a
client may rely on, and returns the answers, so two backends can be compared with `assert_same_answers`.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langgraph_sdk.client import SyncLangGraphClient

Answers = dict[str, list[tuple[str, float | None]]]
"""Each search by name: its items' (key, score), in the order the server answered."""


def keys(found: dict[str, Any]) -> list[str]:
    return [item["key"] for item in found["items"]]


def _answer(found: dict[str, Any]) -> list[tuple[str, float | None]]:
    return [(item["key"], item["score"]) for item in found["items"]]


def check_semantic_search(client: SyncLangGraphClient) -> Answers:
    """Semantic search ranks the closest first with a `score`, across namespaces under a prefix, after a filter,
    without items put with `index=False`, paged by limit/offset; a search without a query has no scores."""
    user = f"user-{uuid.uuid4().hex[:8]}"
    drinks, code = ["docs", user, "drinks"], ["docs", user, "code"]
    client.store.put_item(drinks, key="tea", value={"text": "green tea", "kind": "drink"})
    client.store.put_item(drinks, key="coffee", value={"text": "coffee", "kind": "drink"})
    client.store.put_item(code, key="py", value={"text": "python code", "kind": "code"})
    client.store.put_item(code, key="hidden", value={"text": "green tea"}, index=False)
    answers: Answers = {}

    found = client.store.search_items(["docs", user], query="python code")
    answers["python code"] = _answer(found)
    assert keys(found)[0] == "py"
    assert found["items"][0]["namespace"] == code
    scores = [item["score"] for item in found["items"]]
    assert scores[0] == pytest.approx(1.0) and scores == sorted(scores, reverse=True)

    tea = client.store.search_items(["docs", user], query="green tea")
    answers["green tea"] = _answer(tea)
    assert keys(tea)[0] == "tea" and tea["items"][0]["namespace"] == drinks
    assert "hidden" not in keys(tea)

    filtered = client.store.search_items(["docs", user], query="python code", filter={"kind": "drink"})
    answers["python code, kind=drink"] = _answer(filtered)
    assert sorted(keys(filtered)) == ["coffee", "tea"]

    first = client.store.search_items(["docs", user], query="green tea", limit=1)
    rest = client.store.search_items(["docs", user], query="green tea", limit=10, offset=1)
    answers["green tea, limit 1"], answers["green tea, offset 1"] = _answer(first), _answer(rest)
    assert keys(first) == ["tea"] and sorted(keys(rest)) == ["coffee", "py"]

    plain = client.store.search_items(code)
    answers["no query"] = sorted(_answer(plain))
    assert sorted(keys(plain)) == ["hidden", "py"] and {item["score"] for item in plain["items"]} == {None}
    return answers


def assert_same_answers(answers: Answers, expected: Answers) -> None:
    """The same items with the same scores (to float32 precision: pgvector stores single precision), each
    search's items in an order of non-increasing score; items of equal score may come in either order."""
    assert answers.keys() == expected.keys()
    for search, expected_items in expected.items():
        got = dict(answers[search])
        assert len(got) == len(answers[search]) and got.keys() == dict(expected_items).keys(), search
        for key, score in expected_items:
            assert got[key] == (None if score is None else pytest.approx(score, abs=1e-5)), (search, key)
