"""Structured JSON logs: one object per line, carrying the request id, graph and thread id of the request.

The context travels in contextvars, so any log call made while serving a request is tagged without
passing ids around. Secrets never reach the log: settings hold them as `SecretStr`, request headers are
not logged, and every line (message, fields, traceback) goes through `redact`, so a password in a URL an
exception quotes (a provider's base URL, a DSN) is written as `***`.
"""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
graph_var: ContextVar[str | None] = ContextVar("graph", default=None)
thread_id_var: ContextVar[str | None] = ContextVar("thread_id", default=None)

# Credentials in text: the password of a URL's user info (`scheme://user:password@`), and libpq's
# `password=...` in a key=value connection string.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*):[^\s/@]*@")
_CONNINFO_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with every URL or connection-string password replaced by `***`."""
    if "@" in text:
        text = _URL_PASSWORD.sub(r"\1:***@", text)
    if "assword" in text or "ASSWORD" in text:
        text = _CONNINFO_PASSWORD.sub(r"\1***", text)
    return text


_CONTEXT = (("request_id", request_id_var), ("graph", graph_var), ("thread_id", thread_id_var))
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName", "color_message"}


class JsonFormatter(logging.Formatter):
    """Render a record as a single JSON line; `extra={...}` fields are included as keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, var in _CONTEXT:
            value = var.get()
            if value is not None:
                entry[key] = value
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str) -> None:
    """Send every logger (ours, uvicorn's, libraries') to stderr as JSON at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # The access log is replaced by the request middleware's own (with request id and route).
    logging.getLogger("uvicorn.access").disabled = True
