"""API key auth: `Authorization: Bearer <key>` or `x-api-key: <key>`, checked before a request is routed.

Keys come from `API_KEYS` (comma-separated, mounted from a Secret). With no keys configured every route is open.
`RequestMiddleware` asks `authorized` for every request outside `PUBLIC_PATHS` before any route runs or any
body is read, so an unauthenticated caller gets a 401 and nothing else: no 400/422 about its body, no 404 or
405 that would map the API. Comparison is constant-time and checks every key, so timing reveals neither key
nor match.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import FastAPI
from fastapi.security import APIKeyHeader, HTTPBearer

from ..contract import HEALTH_PATH, METRICS_PATH, READY_PATH

# Open without a key: probes, metrics (the NetworkPolicy guards them) and the API's own description.
PUBLIC_PATHS = frozenset(
    {HEALTH_PATH, READY_PATH, METRICS_PATH, "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
)
UNAUTHORIZED = "missing or invalid API key; send 'Authorization: Bearer <key>' or 'x-api-key: <key>'"

# The schemes as the OpenAPI document declares them (`document_api_keys`); the check is `authorized`.
bearer_scheme = HTTPBearer(auto_error=False, description="API key as a bearer token")
api_key_scheme = APIKeyHeader(name="x-api-key", auto_error=False, description="API key")
API_KEY_SCHEMES: list[Any] = []
"""A router's `dependencies`, kept for routers that pass it: empty, as the schemes are not dependencies any more
(FastAPI resolved both for every request, to read headers that only the document needed)."""


def document_api_keys(app: FastAPI) -> None:
    """Declare the API key schemes in `app`'s OpenAPI document, required by every operation outside
    `PUBLIC_PATHS` (what `authorized` enforces), as FastAPI declares a security dependency's schemes."""
    generate = app.openapi
    schemes = (bearer_scheme, api_key_scheme)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            declared = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            for scheme in schemes:
                declared[scheme.scheme_name] = scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True)
            for path, operations in schema.get("paths", {}).items():
                if path not in PUBLIC_PATHS:
                    for operation in operations.values():
                        operation["security"] = [{scheme.scheme_name: []} for scheme in schemes]
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def key_matches(candidate: bytes, keys: tuple[bytes, ...]) -> bool:
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(candidate, key)
    return matched


def presented_keys(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    """Every credential a request carries: the bearer token of `Authorization` (empty if it is another scheme,
    so that it cannot match) and the `x-api-key` header."""
    found = []
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            found.append(token.strip() if scheme.lower() == b"bearer" else b"")
        elif name == b"x-api-key":
            found.append(value)
    return found


def authorized(path: str, headers: list[tuple[bytes, bytes]], keys: tuple[bytes, ...]) -> bool:
    """With keys configured, a request outside `PUBLIC_PATHS` needs a valid key, and no invalid credential
    beside it (a wrong bearer token is not excused by a right `x-api-key`)."""
    if not keys or path in PUBLIC_PATHS:
        return True
    candidates = presented_keys(headers)
    valid = [bool(candidate) and key_matches(candidate, keys) for candidate in candidates]
    return bool(valid) and all(valid)
