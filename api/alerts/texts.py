"""What an alert says, in English and Simplified Chinese (the teams work in Chinese)."""

from __future__ import annotations

from typing import Any

from api.alerts.kinds.registry import KINDS, Wording, shown
from api.status import Language

_SEVERITY = {
    "en": {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO"},
    "zh": {"critical": "严重", "warning": "警告", "info": "提示"},
}
_RESOLVED = {"en": "RESOLVED", "zh": "已恢复"}
_WHAT = {
    "reminder": {"en": "still firing", "zh": "仍未处理"},
    "escalation": {"en": "not acknowledged", "zh": "超时未确认"},
}


def summary(
    rule: Any,
    key: str,
    values: dict[str, Any],
    labels: dict[str, str],
    language: Language,
    flag: dict[str, str] | None = None,
) -> str:
    """What happened, in ``language``: the rule's own text, else its kind's.

    Raises:
        KeyError: the rule's kind is not registered (rules files cannot have one).
    """
    fields = {**labels, **{k: shown(v) for k, v in values.items()}, "key": key}
    if rule.summary is not None:
        return str(getattr(rule.summary, language)).format_map(_Blank(fields))
    kind = KINDS[rule.kind]
    name = kind.words(rule, Wording(key, values, fields, language, flag))
    return kind.texts[name][language].format_map(_Blank(fields))


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


class _Blank(dict[str, Any]):
    """Formatting values: a name a text asks for but the alert lacks shows as ``?``."""

    def __missing__(self, key: str) -> str:
        return "?"
