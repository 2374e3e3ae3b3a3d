"""The alert lifecycle: signals become alerts, alerts become notifications, once.

:class:`Alerting` takes the engine's signals and keeps one open alert per fingerprint
(firing → acknowledged → resolved), persisted in the registry's database so that a restart
keeps them. It decides whether an alert is quiet (an open work order or maintenance on its
asset, a silence, an inhibiting alert), routes the others to teams — grouped, reminded,
escalated — and delivers every notification with retries, each delivery recorded.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.alerts import texts
from api.alerts.channels.base import DeliveryError, Message, Target
from api.alerts.channels.registry import deliver, parse_target
from api.alerts.checks import Signal
from api.alerts.config import AlertsConfig, Route
from api.alerts.engine import Engine
from api.alerts.kinds.registry import KINDS
from api.alerts.rules import load_rules
from api.registry.models import (
    Alert,
    AlertDelivery,
    AlertNote,
    AlertState,
    Asset,
    Binding,
    Building,
    Delivery,
    Floor,
    Lifecycle,
    Room,
    Silence,
    Site,
    Utilization,
    WorkOrder,
    WorkOrderStatus,
)
from api.status import Language
from devices.library import ProfileError, resolve_profile
from devices.profile import Profile
from facmon.contract import AlertEnvelope, Envelope, Topic, TopicKind, UsageEnvelope

log = logging.getLogger(__name__)

TICK_S = 0.25
"""How often time is let pass in the engine (durations, silences)."""
HOUSEKEEPING_S = 1.0
"""How often grouped notifications, reminders, escalations and the registry are looked at."""
PLACES_S = 60.0
PLACES = ("site", "building", "room", "asset", "device")
"""The labels an alert also keeps as indexed columns."""
"""How often the registry is read again for changes made outside the API."""
MAX_ATTEMPTS = 10
"""Deliveries are given up after this many failures (retries 5 s, 10 s, ... up to 10 min)."""
RECENT = 1000
"""Alert changes kept for event streams that fall behind."""


class Profiles(Mapping[str, Profile]):
    """Profiles by name, loaded from the library (and ``search``) when first asked for."""

    def __init__(self, search: tuple[Any, ...] = ()) -> None:
        """Look in ``search`` before the shipped library."""
        self.search = search
        self._loaded: dict[str, Profile | None] = {}

    def __getitem__(self, name: str) -> Profile:
        """The profile ``name``; KeyError if there is none (or it is invalid)."""
        if name not in self._loaded:
            try:
                self._loaded[name] = resolve_profile(name, self.search) if name else None
            except ProfileError as exc:
                log.warning("alert rules cannot use profile %r: %s", name, exc)
                self._loaded[name] = None
        found = self._loaded[name]
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        """The names loaded so far."""
        return (name for name, profile in self._loaded.items() if profile is not None)

    def __len__(self) -> int:
        """How many loaded."""
        return sum(1 for _ in self)


@dataclass
class _Open:
    """An alert not resolved yet, as the manager keeps it at hand."""

    id: str
    fingerprint: str
    labels: dict[str, str]
    state: AlertState
    started: datetime
    quiet: str
    notified_at: datetime | None = None
    escalated_at: datetime | None = None


@dataclass
class _Group:
    until: float
    pending: list[_Open] = field(default_factory=list)


def new_alert_id() -> str:
    """A short random alert id (a slug)."""
    return "a-" + secrets.token_hex(6)


class Alerting:
    """Detection and the alert lifecycle, running inside the API process."""

    def __init__(
        self,
        config: AlertsConfig,
        sessions: async_sessionmaker[AsyncSession],
        prefix: str,
        publish: Callable[[str, bytes], None] | None = None,
        registry_changes: Callable[[], int] = lambda: 0,
    ) -> None:
        """Load the rules (raises :class:`~api.alerts.rules.RulesError` if they are bad).

        ``publish`` sends an alert's lifecycle message (the live feed's connection).
        """
        self.config = config
        self.rules = load_rules(*config.rule_files())
        self.engine = Engine(self.rules, Profiles())
        self.sessions = sessions
        self.prefix, self.publish = prefix, publish
        self.registry_changes = registry_changes
        self.signals: asyncio.Queue[Signal] = asyncio.Queue()
        self.open: dict[str, _Open] = {}
        self.targets: dict[str, Target] = {
            f"{route.name}/{kind}/{index}": parse_target(text)
            for route in config.routes
            for kind in ("targets", "escalate_to")
            for index, text in enumerate(getattr(route, kind))
        }
        self.groups: dict[tuple[str, str], _Group] = {}
        self.outbox: asyncio.Queue[int] = asyncio.Queue()
        self.http: httpx.AsyncClient | None = None
        self.places: dict[str, dict[str, str]] = {}
        self.maintenance: dict[str, str] = {}
        self.silences: list[Silence] = []
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
            group.create_task(self._deliveries())

    async def _restore(self) -> None:
        async with self.sessions() as session:
            rows = await session.scalars(select(Alert).where(Alert.state != AlertState.RESOLVED))
            for alert in rows:
                self.open[alert.fingerprint] = _Open(
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
                await self._flush_groups()
                await self._remind_and_escalate()
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
            for route in self._routes(opened.labels):
                if route.send_resolved:
                    await self._notify(route, [opened], "resolved")

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
        quiet = self._quiet(signal.fingerprint, labels, now)
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
        opened = _Open(alert.id, signal.fingerprint, labels, AlertState.FIRING, now, quiet)
        self.open[signal.fingerprint] = opened
        await self._changed(alert.id, envelope)
        if quiet:
            log.info("alert %s (%s) is quiet: %s", alert.id, english, quiet)
            return
        for route in self._routes(labels):
            self._group(route, opened)

    def _quiet(self, fingerprint: str, labels: dict[str, str], now: datetime) -> str:
        """Why an alert with ``labels`` is not to be notified now ('' if it is)."""
        asset = labels.get("asset")
        if asset and asset in self.maintenance:
            return self.maintenance[asset]
        for silence in self.silences:
            if silence.starts_at <= now < silence.ends_at and _includes(labels, silence.matchers):
                return f"silenced by silence #{silence.id}"
        for rule in self.rules.inhibit:
            if not _includes(labels, rule.target):
                continue
            for other in self.open.values():
                if (
                    other.fingerprint != fingerprint
                    and _includes(other.labels, rule.source)
                    and all(other.labels.get(k) == labels.get(k) for k in rule.equal)
                ):
                    return f"inhibited by alert {other.id}"
        return ""

    def _routes(self, labels: dict[str, str]) -> list[Route]:
        return [route for route in self.config.routes if route.match.admits(labels)]

    # -- notifications -------------------------------------------------------------------

    def _group(self, route: Route, alert: _Open) -> None:
        key = (route.name, alert.labels.get("site", ""))
        group = self.groups.get(key)
        now = time.monotonic()
        if group is None or now >= group.until:
            self.groups[key] = _Group(now + route.group_interval_s)
            self.groups[key].pending.append(alert)
            self._soon(self._flush_group(route, key))
        else:
            group.pending.append(alert)

    def _soon(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        task.add_done_callback(_report)

    async def _flush_group(self, route: Route, key: tuple[str, str]) -> None:
        group = self.groups[key]
        pending, group.pending = group.pending, []
        fresh = [a for a in pending if a.fingerprint in self.open]
        if fresh:
            await self._notify(route, fresh, "firing")

    async def _flush_groups(self) -> None:
        now = time.monotonic()
        routes = {route.name: route for route in self.config.routes}
        for key, group in list(self.groups.items()):
            if group.pending and now >= group.until and key[0] in routes:
                group.until = now + routes[key[0]].group_interval_s
                await self._flush_group(routes[key[0]], key)

    async def _remind_and_escalate(self) -> None:
        now = datetime.now(UTC)
        for alert in list(self.open.values()):
            if alert.state is not AlertState.FIRING or alert.quiet:
                continue
            for route in self._routes(alert.labels):
                if (
                    route.escalate_after_s
                    and route.escalate_to
                    and alert.escalated_at is None
                    and now - alert.started >= timedelta(seconds=route.escalate_after_s)
                ):
                    alert.escalated_at = now
                    await self._notify(route, [alert], "escalation", "escalate_to")
                elif (
                    route.renotify_s
                    and alert.notified_at is not None
                    and now - alert.notified_at >= timedelta(seconds=route.renotify_s)
                ):
                    await self._notify(route, [alert], "reminder")

    async def _notify(
        self, route: Route, alerts: list[_Open], what: str, kind: str = "targets"
    ) -> None:
        """Record one delivery per target of ``route`` and hand them to the sender."""
        now = datetime.now(UTC)
        language = route.language
        async with self.sessions() as session, session.begin():
            rows = [await session.get(Alert, a.id) for a in alerts]
            found = [row for row in rows if row is not None]
            if not found:
                return
            title, text = _message(found, language, what)
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
            message = Message(title, text, what, language, [_alert_data(row) for row in found])
            first = [(d.id, self.targets.get(d.target_ref)) for d in made]
        for alert in alerts:
            if what in ("firing", "reminder"):
                alert.notified_at = now
        for delivery_id, chosen in first:  # sent at once, from what is at hand
            self._soon(self._attempt(delivery_id, (chosen, message)))

    async def _deliveries(self) -> None:
        """Retry the failed deliveries when due, and those left pending before a restart."""
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0)) as http:
            self.http = http
            async with self.sessions() as session:  # left pending before a restart
                due = await session.scalars(select(Delivery.id).where(Delivery.status == "pending"))
                for delivery_id in due:
                    self.outbox.put_nowait(delivery_id)
            while True:
                try:
                    async with asyncio.timeout(1.0):
                        delivery_id = await self.outbox.get()
                except TimeoutError:
                    await self._due_retries()
                    continue
                self._soon(self._attempt(delivery_id))

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
                self.outbox.put_nowait(delivery_id)

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
                delivery.title, delivery.text, delivery.what, "", [_alert_data(r) for r in rows]
            )
            return self.targets.get(delivery.target_ref), message

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
        now = datetime.now(UTC)
        async with self.sessions() as session:
            rows = await session.execute(
                select(
                    Binding.device,
                    Asset.id,
                    Asset.name,
                    Asset.category,
                    Asset.lifecycle,
                    Room.id,
                    Room.name,
                    Room.kind,
                    Floor.id,
                    Building.id,
                    Building.name,
                    Site.id,
                    Site.name,
                )
                .join(Asset, Binding.asset_id == Asset.id)
                .outerjoin(Room, Asset.room_id == Room.id)
                .outerjoin(Floor, Room.floor_id == Floor.id)
                .outerjoin(Building, Floor.building_id == Building.id)
                .outerjoin(Site, Building.site_id == Site.id)
                .where(
                    Binding.effective_from <= now,
                    or_(Binding.effective_to.is_(None), Binding.effective_to > now),
                )
            )
            places: dict[str, dict[str, str]] = {}
            maintenance: dict[str, str] = {}
            for (
                device,
                asset,
                asset_name,
                category,
                lifecycle,
                room,
                room_name,
                room_kind,
                floor,
                building,
                building_name,
                site,
                site_name,
            ) in rows:
                places[device] = {
                    k: v
                    for k, v in {
                        "asset": asset,
                        "asset_name": asset_name,
                        "category": category,
                        "room": room,
                        "room_name": room_name,
                        "room_kind": room_kind,
                        "floor": floor,
                        "building": building,
                        "building_name": building_name,
                        "site_name": site_name,
                        "registered_site": site,
                    }.items()
                    if v
                }
                if lifecycle is Lifecycle.UNDER_MAINTENANCE:
                    maintenance[asset] = f"asset {asset} is under maintenance"
            orders = await session.execute(
                select(WorkOrder.asset_id, WorkOrder.id).where(
                    WorkOrder.status != WorkOrderStatus.CLOSED
                )
            )
            for asset, number in orders:
                maintenance.setdefault(asset, f"work order #{number} is open on {asset}")
            self.silences = list(
                await session.scalars(select(Silence).where(Silence.ends_at > now))
            )
        self.places, self.maintenance = places, maintenance
        self.engine.place(places)

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
                place = self.places.get(device, {})
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
        self._soon(self.load_registry())


def _includes(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())


def _alert_data(alert: Alert) -> dict[str, Any]:
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


def _message(alerts: list[Alert], language: str, what: str) -> tuple[str, str]:
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


def _report(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("alert work failed", exc_info=task.exception())
