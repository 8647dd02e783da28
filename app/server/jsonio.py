"""Fast JSON for responses and events (orjson), tolerant of the objects graph state may hold."""

from __future__ import annotations

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


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


class FastJSONResponse(JSONResponse):
    """`JSONResponse` rendered with orjson."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
