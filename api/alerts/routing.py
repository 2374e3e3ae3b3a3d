"""Routing: which alerts are quiet, and who is told of the others — grouped, reminded, escalated.

An alert is quiet while its asset is under maintenance (or has an open work order), a
silence matches it, or an alert that inhibits it fires. The others go to every route that
matches them: the first at once, those following within the route's group interval
together; a firing alert nobody acknowledged is told again every ``renotify_s``, and to
``escalate_to`` after ``escalate_after_s``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from api.alerts.config import AlertsConfig, Route
from api.alerts.outbox import Outbox, soon
from api.alerts.places import RegistryView
from api.alerts.rules import RuleSet
from api.registry.models import AlertState


@dataclass
class OpenAlert:
    """An alert not resolved yet, as alerting keeps it at hand."""

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
    pending: list[OpenAlert] = field(default_factory=list)


class Routing:
    """Decides who is told of which alert, and when."""

    def __init__(
        self,
        config: AlertsConfig,
        rules: RuleSet,
        outbox: Outbox,
        open_alerts: Mapping[str, OpenAlert],
    ) -> None:
        """Route by ``config``'s routes and ``rules``' inhibitions, through ``outbox``.

        ``open_alerts`` (fingerprint → alert) is alerting's own, read as it changes.
        """
        self.config, self.rules, self.outbox = config, rules, outbox
        self.open = open_alerts
        self.groups: dict[tuple[str, str], _Group] = {}

    def quiet(
        self, fingerprint: str, labels: dict[str, str], now: datetime, registry: RegistryView
    ) -> str:
        """Why an alert with ``labels`` is not to be notified now ('' if it is)."""
        asset = labels.get("asset")
        if asset and asset in registry.maintenance:
            return registry.maintenance[asset]
        for silence in registry.silences:
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

    def routes(self, labels: dict[str, str]) -> list[Route]:
        """The routes an alert with ``labels`` goes to."""
        return [route for route in self.config.routes if route.match.admits(labels)]

    def group(self, route: Route, alert: OpenAlert) -> None:
        """Tell ``route`` of a new alert: at once, or with the others of its group."""
        key = (route.name, alert.labels.get("site", ""))
        group = self.groups.get(key)
        now = time.monotonic()
        if group is None or now >= group.until:
            self.groups[key] = _Group(now + route.group_interval_s)
            self.groups[key].pending.append(alert)
            soon(self._flush_group(route, key))
        else:
            group.pending.append(alert)

    async def _flush_group(self, route: Route, key: tuple[str, str]) -> None:
        group = self.groups[key]
        pending, group.pending = group.pending, []
        fresh = [a for a in pending if a.fingerprint in self.open]
        if fresh:
            await self.notify(route, fresh, "firing")

    async def flush_groups(self) -> None:
        """Tell each route of the alerts whose group interval has passed."""
        now = time.monotonic()
        routes = {route.name: route for route in self.config.routes}
        for key, group in list(self.groups.items()):
            if group.pending and now >= group.until and key[0] in routes:
                group.until = now + routes[key[0]].group_interval_s
                await self._flush_group(routes[key[0]], key)

    async def remind_and_escalate(self) -> None:
        """Remind of firing alerts nobody acknowledged; escalate those waiting too long."""
        now = datetime.now(UTC)
        for alert in list(self.open.values()):
            if alert.state is not AlertState.FIRING or alert.quiet:
                continue
            for route in self.routes(alert.labels):
                if (
                    route.escalate_after_s
                    and route.escalate_to
                    and alert.escalated_at is None
                    and now - alert.started >= timedelta(seconds=route.escalate_after_s)
                ):
                    alert.escalated_at = now
                    await self.notify(route, [alert], "escalation", "escalate_to")
                elif (
                    route.renotify_s
                    and alert.notified_at is not None
                    and now - alert.notified_at >= timedelta(seconds=route.renotify_s)
                ):
                    await self.notify(route, [alert], "reminder")

    async def notify(
        self, route: Route, alerts: list[OpenAlert], what: str, kind: str = "targets"
    ) -> None:
        """Tell ``route``'s ``kind`` of targets of ``alerts`` (``what``: firing, resolved, ...)."""
        told = await self.outbox.record(route, [a.id for a in alerts], what, kind)
        if told is not None and what in ("firing", "reminder"):
            for alert in alerts:
                alert.notified_at = told


def _includes(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())
