"""Error responses: one JSON shape, `{"error": code, "message": text, ...}`, whose message names what is wrong.

Every failure of a graph run, on either API, goes through `run_failure`, which maps what a client can act on
(database down, timeout, recursion limit, shutdown) to its status and code, and anything else to a 500 that
carries only an error id: exception text (which may quote SQL, URLs or credentials) stays in the log.
"""

from __future__ import annotations

import logging
import sys
import uuid
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from langgraph.errors import EmptyInputError, GraphRecursionError
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

from ..contract import Env
from .drain import ServerDraining
from .inputs import MAX_JSON_DEPTH
from .jsonio import FastJSONResponse, dumps
from .registry import GraphNotFound

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 2
DATABASE_UNAVAILABLE = "the checkpoint database is unavailable; retry shortly"
# SQLSTATE classes of an unreachable or refusing server: connection exception, operator intervention
# (shutdown, cannot connect now), insufficient resources (too many connections).
_UNAVAILABLE_SQLSTATES = ("08", "57P", "53")


class ErrorBody(BaseModel):
    """Every error response."""

    error: str
    message: str
    error_id: str | None = None
    details: Any = None


class ApiError(Exception):
    """An error with its HTTP status, a stable code and a message for the client."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        *,
        error_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details, self.error_id = status, code, message, details, error_id
        self.headers = headers


def new_error_id() -> str:
    return uuid.uuid4().hex[:16]


def internal_error(what: str) -> ApiError:
    """Log the exception being handled with a fresh error id; return the 500 that shows only that id."""
    error_id = new_error_id()
    log.exception("%s", what, extra={"error_id": error_id})
    return ApiError(500, "internal_error", f"{what}; quote error id {error_id} when reporting it", error_id=error_id)


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` (or what caused it) means PostgreSQL cannot be reached: pool timeout, lost or refused
    connection, shutdown. Query errors (a constraint, a deadlock, bad SQL) are not."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, psycopg.OperationalError):
            sqlstate = getattr(seen, "sqlstate", None)
            return sqlstate is None or sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    return False


def database_unavailable_error(error: BaseException) -> ApiError:
    """The 503 a client gets when the database is unreachable; logged as a warning, without a traceback."""
    log.warning("database unavailable", extra={"error": f"{type(error).__name__}: {error}"[:300]})
    return ApiError(
        503,
        "database_unavailable",
        DATABASE_UNAVAILABLE,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def run_failure(error: BaseException, graph: str, thread_id: str | None, max_run_seconds: float) -> ApiError:
    """The client's error for a run that raised `error`; anything unexpected is logged with an error id."""
    if database_unavailable(error):
        return database_unavailable_error(error)
    if isinstance(error, ServerDraining):
        return ApiError(503, "draining", str(error), headers={"Retry-After": "1"})
    if isinstance(error, EmptyInputError):
        return ApiError(422, "input_required", f"input is null and thread {thread_id!r} has no checkpoint of graph "
                        f"{graph!r} to continue from; send the graph's input")  # fmt: skip
    if isinstance(error, TimeoutError):
        return ApiError(504, "run_timeout", f"the run exceeded {Env.MAX_RUN_SECONDS}={max_run_seconds:g}s")
    if isinstance(error, GraphRecursionError):
        return ApiError(422, "recursion_limit", f"graph {graph!r} hit its recursion limit; raise "
                        "config.recursion_limit or check the input")  # fmt: skip
    error_id = new_error_id()
    log.error("graph %r raised an error", graph, exc_info=error, extra={"error_id": error_id})
    message = f"graph {graph!r} raised an error; quote error id {error_id} when reporting it"
    return ApiError(500, "internal_error", message, error_id=error_id)


def edge_error_bytes(code: str, message: str, error_id: str | None = None) -> bytes:
    """An error body written before any route ran, so readable by clients of both APIs: the graph API's
    `error`/`message` and the LangGraph Server API's `detail`."""
    body = error_body(code, message, None, error_id)
    body["detail"] = message
    return dumps(body)


def body_parse_problem(exc: HTTPException) -> str:
    """What FastAPI's generic 400 "There was an error parsing the body" was about, from its cause."""
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return f"request body is not valid UTF-8 (byte 0x{cause.object[cause.start]:02x} at offset {cause.start})"
    if isinstance(cause, RecursionError):
        return (
            f"request body: JSON nested deeper than the parser allows (about {sys.getrecursionlimit()} levels); "
            f"this server accepts at most {MAX_JSON_DEPTH} levels"
        )
    if cause is not None:
        return f"request body cannot be parsed: {type(cause).__name__}: {cause}"[:300]
    return str(exc.detail)


def error_body(code: str, message: str, details: Any = None, error_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": message}
    if error_id is not None:
        body["error_id"] = error_id
    if details is not None:
        body["details"] = details
    return body


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    *,
    error_id: str | None = None,
    headers: dict | None = None,
) -> FastJSONResponse:
    return FastJSONResponse(error_body(code, message, details, error_id), status_code=status, headers=headers)


def _field(loc: tuple | list) -> str:
    return ".".join(str(part) for part in loc) or "body"


async def _api_error(_: Request, exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.details, error_id=exc.error_id, headers=exc.headers)


async def _database_error(_: Request, exc: psycopg.Error):
    failure = database_unavailable_error(exc) if database_unavailable(exc) else internal_error("database error")
    return await _api_error(_, failure)


def _with_cause(error: dict[str, Any]) -> str:
    cause = (error.get("ctx") or {}).get("error")
    return f"{error['msg']} ({cause})" if cause and error["type"] == "json_invalid" else error["msg"]


async def _validation_error(_: Request, exc: RequestValidationError):
    errors = [{"field": _field(e["loc"]), "message": _with_cause(e), "type": e["type"]} for e in exc.errors()]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return error_response(422, "invalid_request", summary, errors)


def allowed_methods(request: Request) -> str:
    """Every method some route of this path answers (the `Allow` of a 405), not only the first route's."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: HTTPException):
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": allowed_methods(request)}
    if exc.status_code == 413:
        code, message = "body_too_large", str(exc.detail)
    elif exc.status_code == 400 and exc.__cause__ is not None:
        code, message = "unparsable_body", body_parse_problem(exc)
    else:
        code, message = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_"), str(exc.detail)
    if getattr(request.scope.get("route"), "detail_errors", False):
        return FastJSONResponse({"detail": message}, status_code=exc.status_code, headers=headers)
    return error_response(exc.status_code, code, message, headers=headers)


async def _graph_not_found(_: Request, exc: GraphNotFound):
    return error_response(404, "graph_not_found", str(exc), {"available": exc.available})


async def _draining(_: Request, exc: ServerDraining):
    return error_response(503, "draining", str(exc), headers={"Retry-After": "1"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(GraphNotFound, _graph_not_found)
    app.add_exception_handler(ServerDraining, _draining)
    app.add_exception_handler(psycopg.Error, _database_error)
