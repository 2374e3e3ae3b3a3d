"""What state an asset is in right now, and why (pure).

An asset's status comes from its lifecycle, its open work orders and the live state of the
devices bound to it, checked in this order, the first that applies winning:

1. ``maintenance``: marked under maintenance, or a work order is open on it;
2. ``unknown``: retired, no device bound, or a bound device not heard from yet;
3. ``offline``: a bound device's gateway is offline, the gateway reports the device not
   answering, or no reading came for ``stale_after_s``;
4. ``fault``: the gateway reports the device degraded, some of its points fail to read, or
   its values show a warning or critical fault of its profile (a flag set, a fault value),
   named as the profile names it in the reader's language;
5. ``idle``: marked idle;
6. ``ok``.

The "in use" predicates join this with the alert rules (issue 7).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from api.live import LiveDevice
from devices.profile import Texts
from facmon.contract import StatusEnvelope


class Status(StrEnum):
    """An asset's status."""

    OK = "ok"
    FAULT = "fault"
    OFFLINE = "offline"
    IDLE = "idle"
    MAINTENANCE = "maintenance"
    UNKNOWN = "unknown"


Language = Literal["en", "zh"]
"""The languages reasons are given in: English and Simplified Chinese."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A status and the reason for it, kept as a code and its values.

    The reason is rendered in words for people by :meth:`say`, in either language, so that
    one derivation serves the English API and a status page read in Chinese.
    """

    status: Status
    code: str
    values: tuple[tuple[str, str | int | float], ...] = ()

    @property
    def reason(self) -> str:
        """The reason in English."""
        return self.say("en")

    def say(self, language: Language) -> str:
        """The reason in ``language``."""
        values = dict(self.values)
        if f"faults_{language}" in values:  # the faults' names, given in each language
            values["faults"] = values[f"faults_{language}"]
        if "silent_s" in values:
            values["duration"] = _duration(float(values["silent_s"]), language)
        for key in ("error", "more"):
            if key in values:
                values[key] = PHRASES[f"{key}_suffix"][language].format(**values)
        return PHRASES[self.code][language].format(**{"error": "", "more": "", **values})


# The comm-loss alerts' texts share some (api.alerts.kinds.comm_loss).
PHRASES: dict[str, dict[Language, str]] = {
    "marked_maintenance": {"en": "marked under maintenance", "zh": "已标记为维修中"},
    "work_order": {
        "en": "work order #{id} open: {title}{more}",
        "zh": "工单 #{id} 未关闭：{title}{more}",
    },
    "more_suffix": {"en": " (and {more} more)", "zh": "（另有 {more} 个）"},
    "retired": {"en": "retired", "zh": "已报废"},
    "unbound": {"en": "no device bound", "zh": "未绑定设备"},
    "no_data_yet": {"en": "no data from {device} yet", "zh": "尚未收到 {device} 的数据"},
    "gateway_offline": {"en": "gateway {gateway} is offline", "zh": "网关 {gateway} 离线"},
    "not_answering": {"en": "{device} is not answering{error}", "zh": "{device} 无响应{error}"},
    "error_suffix": {"en": ": {error}", "zh": "：{error}"},
    "silent": {"en": "no data from {device} for {duration}", "zh": "{device} 已 {duration} 无数据"},
    "degraded": {"en": "{device} is degraded{error}", "zh": "{device} 运行异常{error}"},
    "bad_points": {
        "en": "{device}: {count} point(s) fail to read ({points})",
        "zh": "{device}：{count} 个测点读取失败（{points}）",
    },
    "device_fault": {
        "en": "{device} reports a fault: {faults}",
        "zh": "{device} 报告故障：{faults}",
    },
    "marked_idle": {"en": "marked idle", "zh": "已标记为闲置"},
    "reporting": {"en": "{devices} device(s) reporting", "zh": "{devices} 台设备上报正常"},
    "reporting_one": {"en": "1 device reporting", "zh": "1 台设备上报正常"},
}


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
        return Verdict(Status.MAINTENANCE, "marked_maintenance")
    if open_orders:
        order, more = open_orders[0], len(open_orders) - 1
        values = (("id", order.id), ("title", order.title), *((("more", more),) if more else ()))
        return Verdict(Status.MAINTENANCE, "work_order", values)
    if lifecycle == "retired":
        return Verdict(Status.UNKNOWN, "retired")
    if not devices:
        return Verdict(Status.UNKNOWN, "unbound")
    verdicts = [_device(d, live, gateways, now_ms, stale_after_s) for d in devices]
    for status in (Status.UNKNOWN, Status.OFFLINE, Status.FAULT):
        for verdict in verdicts:
            if verdict is not None and verdict.status is status:
                return verdict
    if lifecycle == "idle":
        return Verdict(Status.IDLE, "marked_idle")
    if len(devices) == 1:
        return Verdict(Status.OK, "reporting_one")
    return Verdict(Status.OK, "reporting", (("devices", len(devices)),))


def _device(
    device: str,
    live: Mapping[str, LiveDevice],
    gateways: Mapping[tuple[str, str], StatusEnvelope],
    now_ms: int,
    stale_after_s: float,
) -> Verdict | None:
    seen = live.get(device)
    if seen is None or seen.ts is None:
        return Verdict(Status.UNKNOWN, "no_data_yet", (("device", device),))
    gateway = gateways.get((seen.site, seen.gateway))
    if gateway is not None and gateway.state == "offline":
        return Verdict(Status.OFFLINE, "gateway_offline", (("gateway", seen.gateway),))
    error = (("error", seen.error),) if seen.error else ()
    if seen.state == "offline":
        return Verdict(Status.OFFLINE, "not_answering", (("device", device), *error))
    silent_s = (now_ms - seen.ts) / 1000
    if silent_s > stale_after_s:
        return Verdict(Status.OFFLINE, "silent", (("device", device), ("silent_s", silent_s)))
    if seen.state == "degraded":
        return Verdict(Status.FAULT, "degraded", (("device", device), *error))
    failing = sorted(p for p, flag in seen.quality.items() if flag == "bad")
    if failing:
        shown = ", ".join(failing[:5]) + (" ..." if len(failing) > 5 else "")
        values = (("device", device), ("count", len(failing)), ("points", shown))
        return Verdict(Status.FAULT, "bad_points", values)
    if seen.faults:
        return Verdict(Status.FAULT, "device_fault", (("device", device), *_faults(seen.faults)))
    return None


def _faults(names: Sequence[Texts]) -> tuple[tuple[str, str], ...]:
    """The faults' names as the reason lists them, in each language (five at the most)."""
    more = {"en": ", ...", "zh": "等"} if len(names) > 5 else {"en": "", "zh": ""}
    return (
        ("faults_en", ", ".join(n.say("en") for n in names[:5]) + more["en"]),
        ("faults_zh", "、".join(n.say("zh") for n in names[:5]) + more["zh"]),
    )


def _duration(seconds: float, language: Language) -> str:
    minutes, hours = ("min", "h") if language == "en" else ("分钟", "小时")
    if seconds < 120:
        return f"{seconds:.0f} s" if language == "en" else f"{seconds:.0f} 秒"
    if seconds < 7200:
        return f"{seconds / 60:.0f} {minutes}"
    return f"{seconds / 3600:.1f} {hours}"
