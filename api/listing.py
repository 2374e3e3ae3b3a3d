"""The asset list's snapshot: every asset with its status, and the answers made from it.

Listing 10,000 assets with their status means reading the registry and deriving 10,000
statuses; doing that per request would make the list the slowest call of the API. So the
snapshot is recomputed at most once a second (live state moves continuously; a second is
fresh enough for a list) or at once after the registry changes through the API, and each
distinct answer is kept as bytes until the next snapshot.

A first paint is different: the status page opened now must not show the estate as it was
when the previous snapshot was made (minutes ago, perhaps before any device had reported),
so :meth:`Listing.settled` waits for a snapshot made after it was asked for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

if TYPE_CHECKING:  # the services import what is cached here: for the annotation only
    from api.services import Services

REFRESH_S = 60.0
"""The longest a snapshot lasts when nothing that can change a status happened."""
KEPT = 1_000
"""Answers kept per snapshot (one per distinct query)."""

T = TypeVar("T")


@dataclass
class Listing(Generic[T]):
    """A snapshot of items, recomputed when older than ``REFRESH_S`` or invalidated."""

    generation: int = 0
    computed_at: float = -1e9
    version: int = -1
    changes: int = 0
    valid_for: float = REFRESH_S
    ledger: Any = None
    """What the owner of the listing keeps between snapshots (the registry's rows)."""
    items: list[T] = field(default_factory=list)
    answers: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _refreshing: asyncio.Task[None] | None = None

    async def current(
        self, compute: Callable[[], Awaitable[tuple[list[T], float]]], version: int
    ) -> tuple[int, list[T]]:
        """The snapshot's generation and items.

        ``compute`` returns the items and how long they stay true at most (seconds);
        ``version`` counts the live changes that can change a status. After a registry
        change (or at the first call) the snapshot is computed before answering; when it is
        merely old, or live state moved, it is recomputed in the background while the
        previous one keeps answering, so that no request waits for 10,000 statuses.
        """
        if self.computed_at < 0:
            async with self.lock:
                if self.computed_at < 0:
                    await self._compute(compute, version)
        elif not self.fresh(version) and self._refreshing is None:
            self._refreshing = asyncio.create_task(self._refresh(compute, version))
        return self.generation, self.items

    async def settled(
        self, compute: Callable[[], Awaitable[tuple[list[T], float]]], version: int
    ) -> tuple[int, list[T]]:
        """The generation and items of a snapshot that is true now, for a first answer.

        The one held if it is fresh for ``version``; otherwise one whose computation began
        after this call, so every live change counted by ``version`` is in it. A refresh
        under way is shared (many pages opening at once wait for one computation), and if
        it began before the call, another follows. Raises what ``compute`` raises.
        """
        asked = time.monotonic()
        while not (self.fresh(version) or self.computed_at >= asked):
            if self._refreshing is None:
                self._refreshing = asyncio.create_task(self._refresh(compute, version))
            # Shielded: a page that goes away does not cancel what the others wait for.
            await asyncio.shield(self._refreshing)
        return self.generation, self.items

    def fresh(self, version: int) -> bool:
        """Whether the snapshot is current for ``version`` and young enough."""
        return (
            self.computed_at >= 0
            and version == self.version
            and time.monotonic() - self.computed_at < self.valid_for
        )

    async def _refresh(
        self, compute: Callable[[], Awaitable[tuple[list[T], float]]], version: int
    ) -> None:
        try:
            async with self.lock:
                await self._compute(compute, version)
        finally:
            self._refreshing = None

    async def _compute(
        self, compute: Callable[[], Awaitable[tuple[list[T], float]]], version: int
    ) -> None:
        started, changes = time.monotonic(), self.changes
        items, valid_for = await compute()
        self.items, self.version = items, version
        self.valid_for = max(0.0, min(valid_for, REFRESH_S))
        self.generation += 1
        # A registry change while computing may have been missed: compute again next time.
        self.computed_at = started if changes == self.changes else -1e9
        self.answers.clear()

    def rendered(self, key: str, generation: int) -> bytes | None:
        """The answer kept for ``key`` if it was made from ``generation``."""
        kept = self.answers.get(key)
        return kept[1] if kept is not None and kept[0] == generation else None

    def keep(self, key: str, generation: int, body: bytes) -> None:
        """Keep an answer made from ``generation``."""
        if len(self.answers) >= KEPT:
            self.answers.clear()
        self.answers[key] = (generation, body)

    def invalidate(self) -> None:
        """Recompute before the next answer."""
        self.changes += 1
        self.computed_at = -1e9


def asset_listing(app: FastAPI) -> Listing[Any]:
    """The application's asset listing."""
    listing: Listing[Any] | None = getattr(app.state, "asset_listing", None)
    if listing is None:
        listing = app.state.asset_listing = Listing()
    return listing


def registry_changed(app: FastAPI) -> None:
    """The registry changed: lists must show it at once."""
    asset_listing(app).invalidate()


class CachedAnswers:
    """ASGI middleware answering ``GET /api/v1/assets`` from the kept answers.

    Only when the answer for this exact query string was made from the current snapshot and
    the token is one the verifier accepted moments ago (as the endpoint itself would);
    anything else goes through the application as usual.
    """

    def __init__(self, app: FastAPI) -> None:
        """Wrap the FastAPI ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer from the kept answers, or pass the request on."""
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == PATH:
            body = self._kept(scope)
            if body is not None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _kept(self, scope: Scope) -> bytes | None:
        state = self.app.state
        listing: Listing[Any] | None = getattr(state, "asset_listing", None)
        services: Services | None = getattr(state, "services", None)
        if listing is None or services is None or not listing.fresh(services.live.version):
            return None
        token = _bearer(scope)
        if token is None or services.tokens.known_role(token) is None:
            return None
        return listing.rendered(query_key(scope), listing.generation)


PATH = "/api/v1/assets"


def query_key(scope: Scope) -> str:
    """The key of an answer: the raw query string."""
    return bytes(scope.get("query_string", b"")).decode("latin-1")


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token else None
    return None
