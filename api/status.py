"""What state an asset is in right now, and why (pure).

An asset's status comes from its lifecycle, its open work orders and the live state of the
devices bound to it, checked in this order, the first that applies winning:

1. ``maintenance``: marked under maintenance, or a work order is open on it;
2. ``unknown``: retired, no device bound, or a bound device not heard from yet;
3. ``offline``: a bound device's gateway is offline, the gateway reports the device not
   answering, or no reading came for ``stale_after_s``;
4. ``fault``: the gateway reports the device degraded, or some of its points fail to read;
5. ``idle``: marked idle;
6. ``ok``.

Profile fault rules and the "in use" predicates join this with the alert rules (issue 7).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from api.live import LiveDevice
from facmon.contract import StatusEnvelope


class Status(StrEnum):
    """An asset's status."""

    OK = "ok"
    FAULT = "fault"
    OFFLINE = "offline"
    IDLE = "idle"
    MAINTENANCE = "maintenance"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A status and the reason for it, in words for people."""

    status: Status
    reason: str


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An open work order, as far as status needs it."""

    id: int
    title: str


def derive(
    lifecycle: str,
    devices: Sequence[str],
    live: Mapping[str, LiveDevice],
    gateways: Mapping[tuple[str, str], StatusEnvelope],
    open_orders: Sequence[OpenOrder],
    now_ms: int,
    stale_after_s: float,
) -> Verdict:
    """Return the status of an asset with ``lifecycle`` and ``devices`` bound now."""
    if lifecycle == "under_maintenance":
        return Verdict(Status.MAINTENANCE, "marked under maintenance")
    if open_orders:
        order = open_orders[0]
        more = f" (and {len(open_orders) - 1} more)" if len(open_orders) > 1 else ""
        return Verdict(Status.MAINTENANCE, f"work order #{order.id} open: {order.title}{more}")
    if lifecycle == "retired":
        return Verdict(Status.UNKNOWN, "retired")
    if not devices:
        return Verdict(Status.UNKNOWN, "no device bound")
    verdicts = [_device(d, live, gateways, now_ms, stale_after_s) for d in devices]
    for status in (Status.UNKNOWN, Status.OFFLINE, Status.FAULT):
        for verdict in verdicts:
            if verdict is not None and verdict.status is status:
                return verdict
    if lifecycle == "idle":
        return Verdict(Status.IDLE, "marked idle")
    return Verdict(Status.OK, f"{_count(len(devices))} reporting")


def _device(
    device: str,
    live: Mapping[str, LiveDevice],
    gateways: Mapping[tuple[str, str], StatusEnvelope],
    now_ms: int,
    stale_after_s: float,
) -> Verdict | None:
    seen = live.get(device)
    if seen is None or seen.ts is None:
        return Verdict(Status.UNKNOWN, f"no data from {device} yet")
    gateway = gateways.get((seen.site, seen.gateway))
    if gateway is not None and gateway.state == "offline":
        return Verdict(Status.OFFLINE, f"gateway {seen.gateway} is offline")
    if seen.state == "offline":
        detail = f": {seen.error}" if seen.error else ""
        return Verdict(Status.OFFLINE, f"{device} is not answering{detail}")
    silent_s = (now_ms - seen.ts) / 1000
    if silent_s > stale_after_s:
        return Verdict(Status.OFFLINE, f"no data from {device} for {_duration(silent_s)}")
    if seen.state == "degraded":
        detail = f": {seen.error}" if seen.error else ""
        return Verdict(Status.FAULT, f"{device} is degraded{detail}")
    failing = sorted(p for p, flag in seen.quality.items() if flag == "bad")
    if failing:
        shown = ", ".join(failing[:5]) + (" ..." if len(failing) > 5 else "")
        return Verdict(Status.FAULT, f"{device}: {len(failing)} point(s) fail to read ({shown})")
    return None


def _count(devices: int) -> str:
    return "1 device" if devices == 1 else f"{devices} devices"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
