"""`store.index` in langgraph.json: the embeddings it names are loaded (a sync or async function in a file next to
it), and a bad index stops startup with an error naming the key."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.server.registry import RegistryError, load_store_index
from tests.app.conftest import GRAPHS_WITH_A_STORE_INDEX

EMBED = """
async def aembed(texts):
    return [[float(len(text)), 1.0] for text in texts]
"""


def _config(tmp_path: Path, index: object) -> Path:
    (tmp_path / "embed.py").write_text(EMBED)
    path = tmp_path / "langgraph.json"
    path.write_text(json.dumps({"graphs": {}, "store": {"index": index}}))
    return path


def test_no_store_index_is_none() -> None:
    assert load_store_index(GRAPHS_WITH_A_STORE_INDEX.with_name("langgraph.json")) is None


def test_a_function_next_to_the_config_embeds(tmp_path: Path) -> None:
    index = load_store_index(_config(tmp_path, {"embed": "./embed.py:aembed", "dims": 2}))
    assert index is not None and index["dims"] == 2 and index["fields"] == ["$"]
    assert asyncio.run(index["embed"].aembed_documents(["abc"])) == [[3.0, 1.0]]


@pytest.mark.parametrize(
    ("index", "named"),
    [
        ({"dims": 2}, "'embed'"),
        ({"embed": "./embed.py:aembed"}, "'dims'"),
        ({"embed": "./embed.py:aembed", "dims": 0}, "'dims'"),
        ({"embed": "./embed.py:aembed", "dims": 2, "fields": "text"}, "'fields'"),
        ({"embed": "./embed.py:missing", "dims": 2}, "no function 'missing'"),
        ({"embed": "./nowhere.py:aembed", "dims": 2}, "does not exist"),
        ({"embed": "openai:text-embedding-3-small", "dims": 2}, "need LangChain"),
    ],
)
def test_a_bad_store_index_is_named(tmp_path: Path, index: object, named: str) -> None:
    with pytest.raises(RegistryError, match=r"store\.index") as raised:
        load_store_index(_config(tmp_path, index))
    assert named in str(raised.value)
