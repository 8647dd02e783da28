"""Pure ASGI request middleware: request id, per-route metrics, access log, last-resort 500.

Pure ASGI (not `BaseHTTPMiddleware`) so it adds no task or body copy per request and does not buffer streams.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body, new_error_id
from .jsonio import dumps
from .logs import graph_var, request_id_var, thread_id_var
from .metrics import UNMATCHED_ROUTE, ServerMetrics

log = logging.getLogger("app.access")
REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413, "request body exceeds the configured maximum size")


class RequestMiddleware:
    def __init__(self, app: ASGIApp, metrics: ServerMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = b""
        content_length = 0
        for key, value in scope["headers"]:
            if key == REQUEST_ID_HEADER:
                request_id = value
            elif key == b"content-length" and value.isdigit():
                content_length = int(value)
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
            if content_length > self.max_body_bytes:
                await self._reply(
                    send_with_id, 413, "body_too_large", f"request body exceeds {self.max_body_bytes} bytes"
                )
            else:
                await self.app(scope, receive_within_limit, send_with_id)
        except Exception:
            error_id = new_error_id()
            log.exception("unhandled error", extra={"error_id": error_id})
            status = 500
            if not started:
                await self._reply(
                    send_with_id, 500, "internal_error", f"internal error; quote error id {error_id}", error_id
                )
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            self.metrics.observe_request(scope["method"], template, status, elapsed)
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "request",
                    extra={"method": scope["method"], "route": template, "status": status,
                           "duration_ms": round(elapsed * 1000, 2)},
                )  # fmt: skip
            for var, token in zip((request_id_var, graph_var, thread_id_var), tokens, strict=True):
                var.reset(token)

    @staticmethod
    async def _reply(send: Send, status: int, code: str, message: str, error_id: str | None = None) -> None:
        body = dumps(error_body(code, message, None, error_id))
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
