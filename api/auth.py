"""Who may call what: bearer tokens and the roles they carry; guessing them is slowed down."""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.registry.models import Role

if TYPE_CHECKING:  # api.services holds FailedLogins: imported for the annotation only
    from api.services import Services

log = logging.getLogger(__name__)

_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}
_ADDRESSES_LIMIT = 10_000


class FailedLogins:
    """Failed authentications per client address: too many within a window lock it out.

    An address that presented ``limit`` unknown or revoked tokens within ``window_s`` is
    answered 429 until the oldest of them is older than the window, whatever it presents.
    """

    def __init__(
        self, limit: int = 20, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Allow ``limit`` failures per address in any ``window_s`` seconds."""
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._failures: dict[str, deque[float]] = {}

    def wait_s(self, address: str) -> float:
        """Seconds ``address`` must wait before it may try again (0: it may now)."""
        failures = self._failures.get(address)
        if failures is None:
            return 0.0
        now = self.clock()
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return 0.0
        if len(failures) < self.limit:
            return 0.0
        return failures[0] + self.window_s - now

    def failed(self, address: str) -> int:
        """Count a failure of ``address``; return its failures within the window."""
        if len(self._failures) >= _ADDRESSES_LIMIT and address not in self._failures:
            self._failures.clear()  # a flood of addresses: start over rather than grow
        failures = self._failures.setdefault(address, deque())
        failures.append(self.clock())
        if len(failures) > self.limit:
            failures.popleft()
        return len(failures)


_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer fm_...`")


def require(role: Role) -> Any:
    """A dependency that lets through tokens of ``role`` or a higher one.

    401 (with ``WWW-Authenticate: Bearer``) without a valid token; 403 when its role is
    too low, naming both roles; 429 (with ``Retry-After``) while the client's address is
    locked out for presenting too many unknown tokens.
    """

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Role:
        address = request.client.host if request.client else "unknown"
        services: Services = request.app.state.services
        limiter = services.failed_logins
        wait = limiter.wait_s(address)
        if wait > 0:
            seconds = math.ceil(wait)
            raise HTTPException(
                429,
                f"too many failed authentications from {address}: try again in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )
        if credentials is None:
            raise HTTPException(
                401,
                "an API token is required: send 'Authorization: Bearer <token>' "
                "(create one with 'facmon api create-token')",
                headers={"WWW-Authenticate": "Bearer"},
            )
        held = await services.tokens.role(credentials.credentials)
        if held is None:
            count = limiter.failed(address)
            log.warning(
                "unknown or revoked API token from %s (%d within %g s)",
                address,
                count,
                limiter.window_s,
            )
            raise HTTPException(
                401, "the API token is unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
            )
        if _RANK[held] < _RANK[role]:
            raise HTTPException(403, f"this needs the {role} role; the token has {held}")
        return held

    check.guarded = True  # type: ignore[attr-defined]
    return Depends(check)


def guarded(dependant: Any) -> bool:
    """Whether a route's dependencies include a token check (so it may answer 401/429)."""
    return any(getattr(d.call, "guarded", False) or guarded(d) for d in dependant.dependencies)


Viewer = require(Role.VIEWER)
Operator = require(Role.OPERATOR)
Admin = require(Role.ADMIN)


def actor(request: Request) -> str:
    """The name of the token that made ``request`` (checked by :func:`require` before)."""
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    services: Services = request.app.state.services
    return services.tokens.name(token) or "unknown"
