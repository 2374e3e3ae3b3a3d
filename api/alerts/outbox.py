"""The delivery outbox: each notification recorded, one delivery per target, then sent.

A delivery is written to the database before it is sent, sent at once from what is at
hand, and retried (5 s, 10 s, ... up to 10 min) until it gets through or
``MAX_ATTEMPTS`` is reached; those left pending by a restart are sent when it runs again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.alerts import texts
from api.alerts.channels.base import DeliveryError, Message, Target
from api.alerts.channels.registry import deliver, parse_target
from api.alerts.config import AlertsConfig, Route
from api.registry.models import Alert, AlertDelivery, AlertNote, Delivery
from api.status import Language

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
"""Deliveries are given up after this many failures (retries 5 s, 10 s, ... up to 10 min)."""


class Outbox:
    """The deliveries of notifications: recorded, sent, retried."""

    def __init__(self, config: AlertsConfig, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Send to the targets of ``config``'s routes, recording in ``sessions``."""
        self.config = config
        self.sessions = sessions
        self.targets: dict[str, Target] = {
            f"{route.name}/{kind}/{index}": parse_target(text)
            for route in config.routes
            for kind in ("targets", "escalate_to")
            for index, text in enumerate(getattr(route, kind))
        }
        self.queue: asyncio.Queue[int] = asyncio.Queue()
        self.http: httpx.AsyncClient | None = None

    async def record(
        self, route: Route, alert_ids: list[str], what: str, kind: str = "targets"
    ) -> datetime | None:
        """Record one delivery per target (``kind``) of ``route`` and start sending them.

        Returns when they were recorded, or None if none of the alerts is left to tell of.
        """
        now = datetime.now(UTC)
        language = route.language
        async with self.sessions() as session, session.begin():
            rows = [await session.get(Alert, alert_id) for alert_id in alert_ids]
            found = [row for row in rows if row is not None]
            if not found:
                return None
            title, text = notification(found, language, what)
            ids = [row.id for row in found]
            made = []
            for index, target_text in enumerate(getattr(route, kind)):
                target = parse_target(target_text)
                delivery = Delivery(
                    route=route.name,
                    target=target.shown,
                    target_ref=f"{route.name}/{kind}/{index}",
                    what=what,
                    alert_ids=ids,
                    title=title,
                    text=text,
                    status="pending",
                    attempts=0,
                    last_error="",
                    created_at=now,
                    next_attempt_at=now,
                )
                session.add(delivery)
                made.append(delivery)
            for row in found:
                if what in ("firing", "reminder"):
                    row.notified_at = now
                if what == "escalation":
                    row.escalated_at = now
                session.add(
                    AlertNote(alert_id=row.id, at=now, what=f"notified-{what}", text=route.name)
                )
            await session.flush()
            session.add_all(
                AlertDelivery(alert_id=alert_id, delivery_id=delivery.id)
                for delivery in made
                for alert_id in dict.fromkeys(ids)
            )
            message = Message(title, text, what, language, [alert_data(row) for row in found])
            first = [(d.id, self.targets.get(d.target_ref)) for d in made]
        for delivery_id, chosen in first:  # sent at once, from what is at hand
            soon(self._attempt(delivery_id, (chosen, message)))
        return now

    async def run(self) -> None:
        """Retry the failed deliveries when due, and those left pending before a restart."""
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0)) as http:
            self.http = http
            async with self.sessions() as session:  # left pending before a restart
                due = await session.scalars(select(Delivery.id).where(Delivery.status == "pending"))
                for delivery_id in due:
                    self.queue.put_nowait(delivery_id)
            while True:
                try:
                    async with asyncio.timeout(1.0):
                        delivery_id = await self.queue.get()
                except TimeoutError:
                    await self._due_retries()
                    continue
                soon(self._attempt(delivery_id))

    async def _due_retries(self) -> None:
        now = datetime.now(UTC)
        async with self.sessions() as session:
            due = await session.scalars(
                select(Delivery.id).where(
                    Delivery.status == "pending",
                    Delivery.attempts > 0,
                    Delivery.next_attempt_at <= now,
                )
            )
            for delivery_id in due:
                self.queue.put_nowait(delivery_id)

    async def _attempt(
        self, delivery_id: int, prepared: tuple[Target | None, Message] | None = None
    ) -> None:
        """Send a delivery and record how it went.

        ``prepared`` (the target and message, when just made) spares reading it back; a
        retry reads it from the database and claims it first, so that it goes once.
        """
        if prepared is None:
            prepared = await self._claim(delivery_id)
            if prepared is None:
                return
        target, message = prepared
        error = ""
        if target is None:
            error = "the target is no longer configured"
        elif self.http is None:
            error = "not running yet"
        else:
            try:
                await deliver(target, message, self.http, self.config.smtp)
            except DeliveryError as exc:
                error = exc.reason
        now = datetime.now(UTC)
        async with self.sessions() as session, session.begin():
            delivery = await session.get(Delivery, delivery_id)
            if delivery is None:
                return
            delivery.attempts += 1
            if not error:
                delivery.status, delivery.sent_at, delivery.next_attempt_at = "sent", now, None
                return
            delivery.last_error = error[:2000]
            if target is None or delivery.attempts >= MAX_ATTEMPTS:
                delivery.status, delivery.next_attempt_at = "failed", None
            else:
                wait = min(5.0 * 2 ** (delivery.attempts - 1), 600.0)
                delivery.next_attempt_at = now + timedelta(seconds=wait)
            log.warning(
                "delivery #%d to %s failed (attempt %d): %s",
                delivery.id,
                delivery.target,
                delivery.attempts,
                error,
            )

    async def _claim(self, delivery_id: int) -> tuple[Target | None, Message] | None:
        """A pending delivery, claimed for a while so that the retry scan leaves it alone."""
        async with self.sessions() as session, session.begin():
            delivery = await session.get(Delivery, delivery_id)
            if delivery is None or delivery.status != "pending":
                return None
            delivery.next_attempt_at = datetime.now(UTC) + timedelta(minutes=5)
            rows = await session.scalars(select(Alert).where(Alert.id.in_(delivery.alert_ids)))
            message = Message(
                delivery.title, delivery.text, delivery.what, "", [alert_data(r) for r in rows]
            )
            return self.targets.get(delivery.target_ref), message


def alert_data(alert: Alert) -> dict[str, Any]:
    """An alert as a notification carries it (the webhook's ``alerts``)."""
    return {
        "id": alert.id,
        "state": alert.state.value,
        "severity": alert.severity,
        "rule": alert.rule,
        "kind": alert.kind,
        "summary": alert.summary,
        "summary_zh": alert.summary_zh,
        "labels": alert.labels,
        "values": alert.values,
        "started_at": alert.started_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


def notification(alerts: list[Alert], language: str, what: str) -> tuple[str, str]:
    """Title and text of a notification about ``alerts``."""
    lang: Language = "zh" if language == "zh" else "en"

    def line(alert: Alert) -> str:
        said = alert.summary_zh if lang == "zh" else alert.summary
        return texts.title(
            alert.severity,
            texts.place(alert.labels),
            said,
            lang,
            resolved=what == "resolved",
            reason=what,
        )

    lines = [line(alert) for alert in alerts]
    if len(alerts) == 1:
        alert = alerts[0]
        since = alert.started_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        head = "开始" if lang == "zh" else "since"
        details = [f"{head}: {since}", f"alert: {alert.id}", f"rule: {alert.rule}"]
        return lines[0], "\n".join([lines[0], *details])
    count = f"{len(alerts)} 条告警" if lang == "zh" else f"{len(alerts)} alerts"
    site = alerts[0].labels.get("site_name") or alerts[0].labels.get("site", "")
    return f"[{count}] {site}", "\n".join(lines)


def soon(work: Coroutine[Any, Any, Any]) -> None:
    """Run ``work`` in the background; a failure is logged."""
    task = asyncio.get_running_loop().create_task(work)
    task.add_done_callback(_report)


def _report(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("alert work failed", exc_info=task.exception())
