"""Operations of the LangGraph Server API (as `langgraph-sdk` calls them) that this server does not offer.

Each answers a 422 that names the client method and says what to do instead, never a bare 404, so a team
moving off LangGraph Platform sees at once what is missing. `docs/platform-api.md` lists the same methods
(a test checks both against the installed client).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Response

from .context import detail_response, platform_router


@dataclass(frozen=True)
class Unsupported:
    """A client method this server refuses: the routes it calls and what to use instead."""

    routes: tuple[tuple[str, str], ...]
    instead: str


UNSUPPORTED: dict[str, Unsupported] = {
    "threads.stream": Unsupported(
        (("POST", "/threads/{thread_id}/commands"), ("GET", "/threads/{thread_id}/stream/events")),
        "the v3 thread streaming protocol is not implemented; use runs.stream and threads.join_stream",
    ),
}


def refusal(method: str) -> str:
    return f"{method} is not supported by this server: {UNSUPPORTED[method].instead}"


def _refuse(method: str, path: str) -> Callable[..., Awaitable[Response]]:
    """The endpoint refusing `method` at `path`, declaring the path's parameters (so its OpenAPI is valid)."""

    async def refuse() -> Response:
        return detail_response(422, refusal(method))

    async def refuse_for_thread(thread_id: str) -> Response:
        return detail_response(422, refusal(method))

    endpoint = refuse_for_thread if "{thread_id}" in path else refuse
    endpoint.__doc__ = f"Not supported: `{method}` ({UNSUPPORTED[method].instead})."
    return endpoint


router = platform_router("not supported")
for _method, _unsupported in UNSUPPORTED.items():
    for _verb, _path in _unsupported.routes:
        router.add_api_route(
            _path,
            _refuse(_method, _path),
            methods=[_verb],
            name=f"unsupported {_method}",
            responses={422: {"description": "Not supported by this server; the message says what to use instead"}},
        )
