"""Pure ASGI request middleware: API key, request id, per-route metrics, access log, last-resort 500.

Before anything is routed or read: the API key (`app.server.auth`), the body size announced, HEAD served as
GET (the server drops the body), and a body without `Content-Type` read as the JSON it is meant to be.
Metric labels come from a fixed set: known methods (others count as `OTHER`), route templates, statuses.

Pure ASGI (not `BaseHTTPMiddleware`) so it adds no task or body copy per request and does not buffer streams.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid

from sse_starlette.sse import SendTimeoutError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import UNAUTHORIZED, authorized
from .errors import edge_error_bytes, new_error_id
from .logs import graph_var, request_id_var, thread_id_var
from .metrics import METHOD_LABELS, OTHER_METHOD, UNMATCHED_ROUTE, ServerMetrics

log = logging.getLogger("app.access")
REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
_JSON_CONTENT_TYPE = (b"content-type", b"application/json")


_ASK_FOR_KEY = ((b"www-authenticate", b"Bearer"),)
_RETRY_SOON = ((b"retry-after", b"1"),)
SHUTTING_DOWN = "the server stopped before this request was answered; retry it"


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413, "request body exceeds the configured maximum size")


class RequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        metrics: ServerMetrics,
        max_body_bytes: int,
        api_keys: tuple[bytes, ...],
        send_timeout: float,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.api_keys = api_keys
        self.send_timeout = send_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = b""
        content_length = 0
        has_body = has_content_type = False
        headers = scope["headers"]
        for key, value in headers:
            if key == REQUEST_ID_HEADER:
                request_id = value
            elif key == b"content-length":
                content_length = int(value) if value.isdigit() else 0
                has_body = content_length > 0
            elif key == b"transfer-encoding":
                has_body = True
            elif key == b"content-type":
                has_content_type = True
        method = scope["method"]
        if has_body and not has_content_type:
            scope = {**scope, "headers": [*headers, _JSON_CONTENT_TYPE]}
        if method == "HEAD":
            scope = {**scope, "method": "GET"}
        if not _VALID_REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex.encode()
        tokens = (request_id_var.set(request_id.decode()), graph_var.set(None), thread_id_var.set(None))
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (REQUEST_ID_HEADER, request_id)]
            await send(message)

        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise BodyTooLarge
            return message

        start = time.perf_counter()
        try:
            if method != "OPTIONS" and not authorized(scope["path"], headers, self.api_keys):  # CORS preflights
                await self._reply(send_with_id, 401, "unauthorized", UNAUTHORIZED, headers=_ASK_FOR_KEY)
            elif content_length > self.max_body_bytes:
                await self._reply(
                    send_with_id, 413, "body_too_large", f"request body exceeds {self.max_body_bytes} bytes"
                )
            else:
                await self.app(scope, receive_within_limit, send_with_id)
        except SendTimeoutError:
            log.warning("stream closed: the client read nothing for %ss", self.send_timeout)
        except asyncio.CancelledError:  # the server stopped while this request was still being handled
            if not started:
                status = 503
                await self._reply(send_with_id, 503, "shutting_down", SHUTTING_DOWN, headers=_RETRY_SOON)
            raise
        except Exception:
            error_id = new_error_id()
            log.exception("unhandled error", extra={"error_id": error_id})
            status = 500
            if not started:
                await self._reply(
                    send_with_id, 500, "internal_error", f"internal error; quote error id {error_id}", error_id=error_id
                )
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            method_label = method if method in METHOD_LABELS else OTHER_METHOD
            self.metrics.observe_request(method_label, template, status, elapsed)
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "request",
                    extra={"method": method_label, "route": template, "status": status,
                           "duration_ms": round(elapsed * 1000, 2)},
                )  # fmt: skip
            for var, token in zip((request_id_var, graph_var, thread_id_var), tokens, strict=True):
                var.reset(token)

    @staticmethod
    async def _reply(
        send: Send,
        status: int,
        code: str,
        message: str,
        *,
        error_id: str | None = None,
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        body = edge_error_bytes(code, message, error_id)
        head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": body})
