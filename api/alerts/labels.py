"""Matching by labels: which devices a rule applies to, which alerts a route takes."""

from __future__ import annotations

from pydantic import BaseModel

MATCHED = (
    ("sites", "site"),
    ("buildings", "building"),
    ("rooms", "room"),
    ("room_kinds", "room_kind"),
    ("assets", "asset"),
    ("categories", "category"),
    ("profiles", "profile"),
    ("equipment", "equipment"),
    ("devices", "device"),
    ("severities", "severity"),
    ("rules", "rule"),
)
"""Each list field a match may have, and the label it is compared with."""


def admits(match: BaseModel, labels: dict[str, str]) -> bool:
    """Whether each list field of ``match`` that is given holds the label it names."""
    for name, label in MATCHED:
        wanted: list[str] = getattr(match, name, None) or []
        if wanted and labels.get(label) not in wanted:
            return False
    return True
