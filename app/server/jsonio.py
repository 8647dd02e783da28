"""Fast JSON for responses and events (orjson), tolerant of the objects graph state may hold."""

from __future__ import annotations

import json
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import JSONResponse


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)


INT64_MIN, UINT64_MAX = -(2**63), 2**64 - 1  # the integers orjson and msgpack (the checkpoint serializer) encode


def _json_integer(text: str) -> int | float:
    number = int(text)
    return number if INT64_MIN <= number <= UINT64_MAX else float(number)


def load_json(data: str | bytes) -> Any:
    """Parse JSON read from the database; an integer beyond 64 bits becomes a float.

    PostgreSQL's `jsonb` writes a large float such as 1.5e32 back as an integer literal, which orjson cannot encode.
    """
    return json.loads(data, parse_int=_json_integer)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


class FastJSONResponse(JSONResponse):
    """`JSONResponse` rendered with orjson."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
