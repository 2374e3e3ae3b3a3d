"""The alert lifecycle: signals become alerts, alerts become notifications, once.

:class:`Alerting` takes the engine's signals and keeps one open alert per fingerprint
(firing → acknowledged → resolved), persisted in the registry's database so that a restart
keeps them. Whether an alert is quiet and who is told (grouped, reminded, escalated) is
:mod:`api.alerts.routing`'s; recording and sending each notification is
:mod:`api.alerts.outbox`'s; where each device is, :mod:`api.alerts.places`'.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.alerts import texts
from api.alerts.checks import Signal
from api.alerts.config import AlertsConfig
from api.alerts.engine import Engine
from api.alerts.kinds.registry import KINDS
from api.alerts.outbox import Outbox, soon
from api.alerts.places import RegistryView, read_registry
from api.alerts.profiles import Profiles
from api.alerts.routing import OpenAlert, Routing
from api.alerts.rules import load_rules
from api.categories import Vocabulary
from api.registry.models import Alert, AlertNote, AlertState, Utilization
from facmon.contract import (
    AlertEnvelope,
    Envelope,
    MetersEnvelope,
    Topic,
    TopicKind,
    UsageEnvelope,
)

log = logging.getLogger(__name__)

TICK_S = 0.25
"""How often time is let pass in the engine (durations, silences)."""
HOUSEKEEPING_S = 1.0
"""How often grouped notifications, reminders, escalations and the registry are looked at."""
PLACES_S = 60.0
"""How often the registry is read again for changes made outside the API."""
PLACES = ("site", "building", "room", "asset", "device")
"""The labels an alert also keeps as indexed columns."""
RECENT = 1000
"""Alert changes kept for event streams that fall behind."""


def new_alert_id() -> str:
    """A short random alert id (a slug)."""
    return "a-" + secrets.token_hex(6)


class Publish(Protocol):
    """Publish a payload on a topic (QoS 1), retained or not."""

    def __call__(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Send ``payload`` on ``topic``."""


class Alerting:
    """Detection and the alert lifecycle, running inside the API process."""

    def __init__(
        self,
        config: AlertsConfig,
        sessions: async_sessionmaker[AsyncSession],
        prefix: str,
        publish: Publish | None = None,
        registry_changes: Callable[[], int] = lambda: 0,
        categories: Vocabulary | None = None,
    ) -> None:
        """Load the rules (raises :class:`~api.alerts.rules.RulesError` if they are bad).

        ``publish`` sends an alert's lifecycle message, usage and the metering trees (the
        live feed's connection);
        ``categories`` is the site's vocabulary of asset categories (facmon's own if not given).
        """
        self.config = config
        self.rules = load_rules(*config.rule_files(), categories=categories)
        self.engine = Engine(self.rules, Profiles())
        self.sessions = sessions
        self.prefix, self.publish = prefix, publish
        self.registry_changes = registry_changes
        self._meters: dict[str, dict[str, str]] = {}
        """Each site's sub-meters as last published."""
        self.signals: asyncio.Queue[Signal] = asyncio.Queue()
        self.open: dict[str, OpenAlert] = {}
        self.outbox = Outbox(config, sessions)
        self.routing = Routing(config, self.rules, self.outbox, self.open)
        self.registry = RegistryView()
        self.seq = 0
        self.recent: deque[tuple[int, str]] = deque(maxlen=RECENT)
        self.changed = asyncio.Condition()

    # -- input ---------------------------------------------------------------------------

    def feed(self, topic: Topic, envelope: Envelope) -> None:
        """Judge one message from the broker (called for every message the API follows)."""
        try:
            found = self.engine.judge(topic, envelope, time.time)
        except Exception:  # a rule that breaks must not stop the live feed
            log.exception("alert rules failed on a message on %s", topic)
            return
        for signal in found:
            self.signals.put_nowait(signal)

    # -- running -------------------------------------------------------------------------

    async def run(self) -> None:
        """Restore open alerts, then judge, notify and deliver until cancelled."""
        await self._restore()
        await self.load_registry()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._consume())
            group.create_task(self._tick())
            group.create_task(self._housekeeping())
            group.create_task(self.outbox.run())

    async def _restore(self) -> None:
        async with self.sessions() as session:
            rows = await session.scalars(select(Alert).where(Alert.state != AlertState.RESOLVED))
            for alert in rows:
                self.open[alert.fingerprint] = OpenAlert(
                    alert.id,
                    alert.fingerprint,
                    alert.labels,
                    alert.state,
                    alert.started_at,
                    alert.quiet,
                    alert.notified_at,
                    alert.escalated_at,
                )
        self.engine.restore({fp: int(o.started.timestamp() * 1000) for fp, o in self.open.items()})
        if self.open:
            log.info("%d open alert(s) restored", len(self.open))

    async def _consume(self) -> None:
        while True:
            signal = await self.signals.get()
            try:
                await self._handle(signal)
            except Exception:  # one bad signal must not stop detection
                log.exception("alert %s not handled", signal.fingerprint)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                found = self.engine.tick(int(time.time() * 1000))
            except Exception:  # a rule that breaks must not stop the others
                log.exception("alert rules failed to judge the passing of time")
                continue
            for signal in found:
                self.signals.put_nowait(signal)

    async def _housekeeping(self) -> None:
        read_at, usage_at, changes = time.monotonic(), time.monotonic(), self.registry_changes()
        while True:
            await asyncio.sleep(HOUSEKEEPING_S)
            try:
                now = time.monotonic()
                if self.registry_changes() != changes or now - read_at > PLACES_S:
                    changes, read_at = self.registry_changes(), now
                    await self.load_registry()
                await self.routing.flush_groups()
                await self.routing.remind_and_escalate()
                if now - usage_at > self.config.usage_every_s:
                    usage_at = now
                    await self.flush_usage()
            except Exception:
                log.exception("alert housekeeping failed; trying again")

    # -- signals to alerts ---------------------------------------------------------------

    async def _handle(self, signal: Signal) -> None:
        fingerprint = signal.fingerprint
        now = datetime.fromtimestamp(signal.ts / 1000, UTC)
        if signal.firing:
            if fingerprint in self.open:
                return
            await self._fire(signal, now)
            return
        opened = self.open.pop(fingerprint, None)
        if opened is None:
            return
        async with self.sessions() as session, session.begin():
            alert = await session.get(Alert, opened.id)
            if alert is None:
                return
            alert.state, alert.resolved_at, alert.resolved_by = AlertState.RESOLVED, now, "auto"
            session.add(AlertNote(alert_id=alert.id, at=now, what="resolved", by="auto"))
            envelope = self._envelope(alert)
        await self._changed(opened.id, envelope)
        if not opened.quiet and opened.notified_at is not None:
            for route in self.routing.routes(opened.labels):
                if route.send_resolved:
                    await self.routing.notify(route, [opened], "resolved")

    async def _fire(self, signal: Signal, now: datetime) -> None:
        rule = signal.rule
        labels = {
            **{k: v for k, v in signal.labels.items() if v},
            "rule": rule.id,
            "kind": rule.kind,
            "severity": signal.severity,
            "key": signal.key,
        }
        profile = self.engine.profiles.get(labels.get("profile", ""))
        flag = KINDS[rule.kind].detail(profile, signal.key)
        values = dict(signal.values)
        english = texts.summary(rule, signal.key, values, labels, "en", flag)
        chinese = texts.summary(rule, signal.key, values, labels, "zh", flag)
        quiet = self.routing.quiet(signal.fingerprint, labels, now, self.registry)
        alert = Alert(
            id=new_alert_id(),
            fingerprint=signal.fingerprint,
            rule=rule.id,
            kind=rule.kind,
            severity=signal.severity,
            state=AlertState.FIRING,
            subject=signal.subject,
            labels=labels,
            **{place: labels.get(place, "")[:64] for place in PLACES},
            values=values,
            summary=english,
            summary_zh=chinese,
            quiet=quiet,
            started_at=now,
            acknowledged_by="",
            resolved_by="",
        )
        async with self.sessions() as session, session.begin():
            session.add(alert)
            await session.flush()
            session.add(AlertNote(alert_id=alert.id, at=now, what="fired", text=quiet))
            envelope = self._envelope(alert)
        opened = OpenAlert(alert.id, signal.fingerprint, labels, AlertState.FIRING, now, quiet)
        self.open[signal.fingerprint] = opened
        await self._changed(alert.id, envelope)
        if quiet:
            log.info("alert %s (%s) is quiet: %s", alert.id, english, quiet)
            return
        for route in self.routing.routes(labels):
            self.routing.group(route, opened)

    # -- changes by people ---------------------------------------------------------------

    async def acknowledge(self, alert_id: str, by: str, comment: str) -> Alert | None:
        """Acknowledge a firing alert; None if there is no such alert.

        Raises:
            ValueError: the alert is resolved.
        """
        return await self._change(alert_id, by, comment, AlertState.ACKNOWLEDGED)

    async def resolve(self, alert_id: str, by: str, comment: str) -> Alert | None:
        """Resolve an alert by hand; None if there is no such alert.

        Raises:
            ValueError: the alert is resolved already.
        """
        return await self._change(alert_id, by, comment, AlertState.RESOLVED)

    async def comment(self, alert_id: str, by: str, text: str) -> Alert | None:
        """Add a comment to an alert's history; None if there is no such alert."""
        now = datetime.now(UTC)
        async with self.sessions() as session, session.begin():
            alert = await session.get(Alert, alert_id)
            if alert is None:
                return None
            session.add(AlertNote(alert_id=alert_id, at=now, what="comment", by=by, text=text))
        await self._changed(alert_id, None)
        return alert

    async def _change(
        self, alert_id: str, by: str, comment: str, state: AlertState
    ) -> Alert | None:
        now = datetime.now(UTC)
        async with self.sessions() as session, session.begin():
            alert = await session.get(Alert, alert_id)
            if alert is None:
                return None
            if alert.state is AlertState.RESOLVED:
                raise ValueError(f"alert {alert_id} is resolved already")
            if state is AlertState.ACKNOWLEDGED and alert.state is AlertState.ACKNOWLEDGED:
                raise ValueError(f"alert {alert_id} is acknowledged already")
            alert.state = state
            if state is AlertState.ACKNOWLEDGED:
                alert.acknowledged_at, alert.acknowledged_by = now, by
            else:
                alert.resolved_at, alert.resolved_by = now, by
            session.add(AlertNote(alert_id=alert_id, at=now, what=state.value, by=by, text=comment))
            envelope = self._envelope(alert)
        opened = self.open.get(alert.fingerprint)
        if opened is not None and opened.id == alert_id:
            if state is AlertState.RESOLVED:
                del self.open[alert.fingerprint]
            else:
                opened.state = state
        await self._changed(alert_id, envelope)
        return alert

    async def _changed(self, alert_id: str, message: tuple[str, AlertEnvelope] | None) -> None:
        self.seq += 1
        self.recent.append((self.seq, alert_id))
        async with self.changed:
            self.changed.notify_all()
        if message is not None and self.config.publish and self.publish is not None:
            site, envelope = message
            topic = str(Topic(TopicKind.ALERTS, site, prefix=self.prefix))
            self.publish(topic, envelope.model_dump_json().encode())

    def _envelope(self, alert: Alert) -> tuple[str, AlertEnvelope]:
        """The alert's lifecycle message, and the site it is published under."""
        envelope = AlertEnvelope(
            id=alert.id,
            ts=int(datetime.now(UTC).timestamp() * 1000),
            state=alert.state.value,
            severity=alert.severity,  # type: ignore[arg-type]
            rule=alert.rule,
            summary=alert.summary[:1000],
            rule_kind=alert.kind,
            device=alert.device or None,
            asset=alert.asset or None,
            building=alert.building or None,
            room=alert.room or None,
        )
        return alert.site or "unknown", envelope

    # -- the registry --------------------------------------------------------------------

    async def load_registry(self) -> None:
        """Read where each device is, which assets are under maintenance, the silences.

        Done at start, after a change through the API, and every ``PLACES_S`` seconds.
        """
        self.registry = await read_registry(self.sessions)
        self.engine.place(self.registry.places)
        self._publish_meters()

    def _publish_meters(self) -> None:
        """Publish each site's sub-meters on ``{p}/v1/meters/{site}`` (retained) when changed.

        The collector tags a sub-meter's readings with ``meter_parent`` from it, so that
        energy totals count only main meters; the tree is declared in the registry only.
        """
        trees: dict[str, dict[str, str]] = {}
        for device, place in self.registry.places.items():
            site = place.get("registered_site")
            if site is not None:
                tree = trees.setdefault(site, {})
                if "meter_parent" in place:
                    tree[device] = place["meter_parent"]
        if not self.config.publish or self.publish is None:
            return
        for site in sorted(trees.keys() | self._meters.keys()):
            tree = trees.get(site, {})
            if self._meters.get(site) != tree:
                envelope = MetersEnvelope(ts=int(time.time() * 1000), sub_meters=tree)
                topic = str(Topic(TopicKind.METERS, site, prefix=self.prefix))
                self.publish(topic, envelope.to_json(), True)
                self._meters[site] = tree

    async def flush_usage(self) -> None:
        """Add the time in use counted since the last call to each asset's days.

        Each asset-day changed is then published with its totals on ``{p}/v1/usage/{site}``
        (for Grafana, through the collector).
        """
        counted = self.engine.usage()
        if not counted:
            return
        told: list[tuple[str, UsageEnvelope]] = []
        async with self.sessions() as session, session.begin():
            for device, days in counted.items():
                place = self.registry.places.get(device, {})
                asset = place.get("asset")
                if asset is None:
                    continue
                for day, (in_use, observed) in days.items():
                    row = await session.get(Utilization, (asset, day))
                    if row is None:
                        row = Utilization(
                            asset_id=asset, day=day, in_use_s=in_use, observed_s=observed
                        )
                        session.add(row)
                    else:
                        row.in_use_s += in_use
                        row.observed_s += observed
                    told.append(self._usage(device, place, day, row))
        if self.config.publish and self.publish is not None:
            for site, envelope in told:
                topic = str(Topic(TopicKind.USAGE, site, prefix=self.prefix))
                self.publish(topic, envelope.model_dump_json(exclude_none=True).encode())

    def _usage(
        self, device: str, place: Mapping[str, str], day: date, row: Utilization
    ) -> tuple[str, UsageEnvelope]:
        """An asset-day's totals as published, and the site they are published under."""
        seen = self.engine.seen.get(device, {})
        site = seen.get("site") or place.get("registered_site") or "unknown"
        zone = self.rules.calendar(site, place.get("building")).zone
        start = datetime.combine(day, datetime.min.time(), zone)
        return site, UsageEnvelope(
            ts=int(start.timestamp() * 1000),
            day=day.isoformat(),
            asset=place["asset"],
            device=device,
            category=place.get("category"),
            building=place.get("building"),
            room=place.get("room"),
            in_use_s=min(row.in_use_s, 172_800.0),
            observed_s=min(row.observed_s, 172_800.0),
        )

    def registry_changed(self) -> None:
        """Read the registry again soon (called after a change through the API)."""
        soon(self.load_registry())
