"""API key auth for the graph routes: `Authorization: Bearer <key>` or `x-api-key: <key>`.

Keys come from `API_KEYS` (comma-separated, mounted from a Secret). With no keys configured the routes
are open. Comparison is constant-time and checks every key, so timing reveals neither key nor match.
Add `dependencies=[Depends(require_api_key)]` to any router that must be protected.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from .runtime import RuntimeDep

_bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")
_api_key_header = APIKeyHeader(name="x-api-key", auto_error=False, description="API key")


def key_matches(candidate: bytes, keys: tuple[bytes, ...]) -> bool:
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(candidate, key)
    return matched


async def require_api_key(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
    runtime: RuntimeDep,
) -> None:
    if not runtime.api_keys:
        return
    candidate = bearer.credentials if bearer is not None else api_key
    if not candidate or not key_matches(candidate.encode(), runtime.api_keys):
        raise HTTPException(
            status_code=401,
            detail="missing or invalid API key; send 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
