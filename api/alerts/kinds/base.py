"""What every rule kind shares: the rule's common fields, which devices it matches, its texts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

from api.alerts.labels import admits
from api.categories import Vocabulary, shipped
from facmon.types import Severity, Slug


class StrictModel(BaseModel):
    """A rules-file model: unknown keys are errors, values are frozen, aliases accepted."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Slugs = list[Slug]
"""Identifiers (an empty list, the default, matches any)."""


def _known_category(value: str, info: ValidationInfo) -> str:
    vocabulary = (info.context or {}).get("categories")
    return (vocabulary if isinstance(vocabulary, Vocabulary) else shipped()).check(value)


Category = Annotated[Slug, AfterValidator(_known_category)]
"""An asset category of the vocabulary: facmon's own, or the site's when the rules are loaded
with ``context={"categories": vocabulary}``."""


class Match(StrictModel):
    """Which devices a rule applies to: each list given must hold the device's value."""

    sites: Slugs = []
    buildings: Slugs = []
    rooms: Slugs = []
    room_kinds: Slugs = []
    assets: Slugs = []
    categories: list[Category] = []
    """Asset categories (ids of ``GET /api/v1/categories``)."""
    profiles: Slugs = []
    equipment: Slugs = []
    """Kinds of equipment, as the profile says: office, communication, building, energy,
    environment, vehicle, security."""
    devices: Slugs = []

    def admits(self, labels: dict[str, str]) -> bool:
        """Whether a device with ``labels`` is matched."""
        return admits(self, labels)


class Texts(StrictModel):
    """A text in English and Simplified Chinese; ``{name}`` takes a value of the alert."""

    en: str = Field(max_length=500)
    zh: str = Field(max_length=500)


class RuleModel(StrictModel):
    """The fields every rule has, whatever its kind (each kind's model adds its own)."""

    id: Slug
    severity: Severity = "warning"
    match: Match = Field(default_factory=Match)
    working_time: Literal["any", "only", "outside"] = "any"
    """Fire only in working time, only outside it, or at any time."""
    summary: Texts | None = None
    """Overrides the kind's text."""
    overrides: Slug | None = None
    """The id of a broader rule this one replaces for the devices it matches."""
    enabled: bool = True


def card_words(values: dict[str, Any], key: str, language: str) -> str:
    """`` (card C-17)`` for an alert about a card (from its values, else its key), or ''."""
    card = values.get("card") or key
    if not card:
        return ""
    return f" (card {card})" if language == "en" else f"（卡号 {card}）"
