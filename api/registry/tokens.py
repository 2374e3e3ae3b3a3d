"""API tokens: created at random, shown once, stored as their SHA-256 digest."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.registry.models import ApiToken, Role

PREFIX = "fm_"
CACHE_SECONDS = 5.0
"""How long a verified token is trusted without asking the database."""
GRACE_SECONDS = 1.0
"""How long past that a busy API keeps trusting it while it asks again (a revocation takes
effect within ``CACHE_SECONDS + GRACE_SECONDS``)."""


def new_token() -> str:
    """A fresh token: ``fm_`` and 43 URL-safe characters (256 random bits)."""
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The stored form of ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(
    sessions: async_sessionmaker[AsyncSession], name: str, role: Role, token: str | None = None
) -> str:
    """Store a token (``token``, or a new one) with ``role``; return it.

    A token already stored is left as it is (its role included).
    """
    token = token or new_token()
    async with sessions.begin() as session:
        existing = await session.scalar(select(ApiToken).where(ApiToken.digest == digest(token)))
        if existing is None:
            session.add(
                ApiToken(name=name, role=role, digest=digest(token), created_at=datetime.now(UTC))
            )
    return token


async def revoke_tokens(sessions: async_sessionmaker[AsyncSession], name: str) -> int:
    """Revoke every token in force named ``name``; return how many were."""
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        found = list(
            await session.scalars(
                select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
            )
        )
        for token in found:
            token.revoked_at = now
    return len(found)


class TokenVerifier:
    """Finds the role of a presented token, remembering answers for a few seconds."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Verify against the tokens stored through ``sessions``."""
        self._sessions = sessions
        self._known: dict[str, tuple[Role, float]] = {}
        self._names: dict[str, str] = {}
        self._pending: dict[str, asyncio.Future[Role | None]] = {}

    def known_role(self, token: str) -> Role | None:
        """The role of ``token`` if it was verified moments ago, else None (ask :meth:`role`).

        Within ``GRACE_SECONDS`` after the verification expires, the role is still given
        while a new verification runs in the background, so that a busy API does not send
        every request in flight to the database at once.
        """
        wanted = digest(token)
        cached = self._known.get(wanted)
        if cached is None:
            return None
        overdue = time.monotonic() - cached[1]
        if overdue < 0:
            return cached[0]
        if overdue < GRACE_SECONDS:
            self._verify(wanted)
            return cached[0]
        return None

    async def role(self, token: str) -> Role | None:
        """Return the role of ``token``, or None when it is unknown or revoked.

        Concurrent requests with the same token share one database lookup.
        """
        wanted = digest(token)
        cached = self._known.get(wanted)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        return await asyncio.shield(self._verify(wanted))

    def _verify(self, wanted: str) -> asyncio.Future[Role | None]:
        pending = self._pending.get(wanted)
        if pending is None:
            pending = self._pending[wanted] = asyncio.ensure_future(self._lookup(wanted))
            pending.add_done_callback(lambda _: self._pending.pop(wanted, None))
        return pending

    async def _lookup(self, wanted: str) -> Role | None:
        async with self._sessions() as session:
            stored = await session.scalar(
                select(ApiToken).where(ApiToken.digest == wanted, ApiToken.revoked_at.is_(None))
            )
        # The lookup is by digest; comparing the digests again costs nothing and keeps the
        # decision constant-time whatever the database's index does.
        if stored is None or not hmac.compare_digest(stored.digest, wanted):
            self._known.pop(wanted, None)
            return None
        if len(self._known) > 10_000:
            self._known.clear()
            self._names.clear()
        self._known[wanted] = (stored.role, time.monotonic() + CACHE_SECONDS)
        self._names[wanted] = stored.name
        return stored.role

    def name(self, token: str) -> str:
        """The name of a token verified before (who acknowledged, resolved, commented)."""
        return self._names.get(digest(token), "")
