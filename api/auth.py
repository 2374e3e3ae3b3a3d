"""Who may call what: bearer tokens and the roles they carry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.registry.models import Role

_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}
_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer fm_...`")


def require(role: Role) -> Any:
    """A dependency that lets through tokens of ``role`` or a higher one.

    401 (with ``WWW-Authenticate: Bearer``) without a valid token; 403 when its role is
    too low, naming both roles.
    """

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Role:
        if credentials is None:
            raise HTTPException(
                401,
                "an API token is required: send 'Authorization: Bearer <token>' "
                "(create one with 'facmon api create-token')",
                headers={"WWW-Authenticate": "Bearer"},
            )
        held: Role | None = await request.app.state.services.tokens.role(credentials.credentials)
        if held is None:
            raise HTTPException(
                401, "the API token is unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
            )
        if _RANK[held] < _RANK[role]:
            raise HTTPException(403, f"this needs the {role} role; the token has {held}")
        return held

    return Depends(check)


Viewer = require(Role.VIEWER)
Operator = require(Role.OPERATOR)
Admin = require(Role.ADMIN)


def actor(request: Request) -> str:
    """The name of the token that made ``request`` (checked by :func:`require` before)."""
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    name: str = request.app.state.services.tokens.name(token)
    return name or "unknown"
