"""What an alert says, in English and Simplified Chinese (the teams work in Chinese)."""

from __future__ import annotations

from typing import Any

from api.status import PHRASES, Language

_SEVERITY = {
    "en": {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO"},
    "zh": {"critical": "严重", "warning": "警告", "info": "提示"},
}
_RESOLVED = {"en": "RESOLVED", "zh": "已恢复"}
_WHAT = {
    "reminder": {"en": "still firing", "zh": "仍未处理"},
    "escalation": {"en": "not acknowledged", "zh": "超时未确认"},
}

_TEXTS: dict[str, dict[Language, str]] = {
    "threshold_above": {
        "en": "{point} is {value}, above {level}",
        "zh": "{point} 为 {value}，高于 {level}",
    },
    "threshold_below": {
        "en": "{point} is {value}, below {level}",
        "zh": "{point} 为 {value}，低于 {level}",
    },
    "fault": {"en": "fault {key}{code}{description}", "zh": "故障 {key}{code}{description}"},
    "comm_loss_state": PHRASES["not_answering"],
    "comm_loss_silent": {
        "en": "no data from {device} for {silent_s} s",
        "zh": "{device} 已 {silent_s} 秒无数据",
    },
    "comm_loss_gateway": PHRASES["gateway_offline"],
    "idle": {"en": "idle for {idle_h} h of working time", "zh": "工作时间内闲置 {idle_h} 小时"},
    "speeding": {
        "en": "speed {value} km/h, above {level} km/h",
        "zh": "车速 {value} km/h，超过 {level} km/h",
    },
    "geofence_exit": {"en": "left {name}", "zh": "驶出 {name}"},
    "geofence_entry": {"en": "entered {name}", "zh": "驶入 {name}"},
    "movement": {
        "en": "moving at {value} km/h outside working time",
        "zh": "非工作时间行驶，车速 {value} km/h",
    },
    "long_idling": {
        "en": "standing with the engine running for {minutes} min",
        "zh": "原地怠速超过 {minutes} 分钟",
    },
    "door_held_open": {"en": "door held open over {seconds} s", "zh": "门超过 {seconds} 秒未关闭"},
    "door_forced": {"en": "door forced open", "zh": "门被强行打开"},
    "access_after_hours": {"en": "access outside working time{card}", "zh": "非工作时间通行{card}"},
    "denied_burst": {
        "en": "{count} denied swipes within {minutes} min{card}",
        "zh": "{minutes} 分钟内 {count} 次刷卡被拒{card}",
    },
    "tamper": {"en": "tampered with", "zh": "设备被拆动或打开"},
}


def summary(
    rule: Any,
    key: str,
    values: dict[str, Any],
    labels: dict[str, str],
    language: Language,
    flag: dict[str, str] | None = None,
) -> str:
    """What happened, in ``language``: the rule's own text, else its kind's."""
    fields = {**labels, **{k: _shown(v) for k, v in values.items()}, "key": key}
    if rule.summary is not None:
        return str(getattr(rule.summary, language)).format_map(_Blank(fields))
    kind = rule.kind
    if kind == "threshold":
        above = rule.above is not None
        point = rule.point
        fields |= {
            "point": point,
            "value": fields.get(point, "?"),
            "level": _shown(rule.above if above else rule.below),
        }
        kind = "threshold_above" if above else "threshold_below"
    elif kind == "fault":
        code, description = (flag or {}).get("code"), (flag or {}).get("description")
        fields["code"] = f" ({code})" if code else ""
        colon = ": " if language == "en" else "："
        fields["description"] = f"{colon}{description}" if description else ""
    elif kind == "comm_loss":
        kind = f"comm_loss_{key or 'state'}"
        error = values.get("error")
        fields["error"] = (f": {error}" if language == "en" else f"：{error}") if error else ""
    elif kind in ("speeding", "movement"):
        fields |= {"value": fields.get(rule.point, "?"), "level": _shown(rule.above)}
    elif kind == "geofence":
        kind = f"geofence_{rule.on}"
        fields["name"] = rule.name
    elif kind == "long_idling":
        fields["minutes"] = _shown(rule.for_s / 60)
    elif kind == "door_held_open":
        fields["seconds"] = _shown(rule.for_s)
    elif kind in ("access_after_hours", "denied_burst"):
        card = values.get("card") or key
        fields["card"] = (
            (f" (card {card})" if language == "en" else f"（卡号 {card}）") if card else ""
        )
        if kind == "denied_burst":
            fields["minutes"] = _shown(rule.within_s / 60)
    return _TEXTS[kind][language].format_map(_Blank(fields))


def title(
    severity: str,
    where: str,
    what: str,
    language: Language,
    *,
    resolved: bool = False,
    reason: str = "",
) -> str:
    """The first line of a notification: severity (or resolved), where, what."""
    head = _RESOLVED[language] if resolved else _SEVERITY[language].get(severity, severity)
    tail = f" ({_WHAT[reason][language]})" if reason in _WHAT else ""
    return f"[{head}] {where}: {what}{tail}"


def place(labels: dict[str, str]) -> str:
    """Where the alert is, in words: building, room and asset (or device, or gateway)."""
    parts = [labels.get("building_name", ""), labels.get("room_name", "")]
    who = labels.get("asset_name") or labels.get("device") or f"gateway {labels.get('gateway')}"
    return " ".join(p for p in [*parts, who] if p)


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e6 else f"{value:.0f}"
    return str(value)


class _Blank(dict[str, Any]):
    """Formatting values: a name a text asks for but the alert lacks shows as ``?``."""

    def __missing__(self, key: str) -> str:
        return "?"
