"""Detection rules as YAML: what to watch, where, for how long, and how bad it is.

A rules file has ``calendars`` (working time by name), ``places`` (which calendar a site or
building keeps), ``rules`` and ``inhibit``. Every rule has an ``id``, a ``kind`` and a
``match`` (which devices it applies to: by site, building, room, room kind, asset,
category, profile or device; empty matches all). A rule given again with the ``id`` of an
earlier one (for example in a site's own file after the defaults) replaces it, so defaults
are overridden per asset, room or category by adding a narrower rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from api.alerts.calendar import Calendar
from facmon.types import Duration, Severity, Slug


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Match(_Strict):
    """Which devices a rule applies to: each list given must hold the device's value."""

    sites: list[Slug] = Field(default_factory=list)
    buildings: list[Slug] = Field(default_factory=list)
    rooms: list[Slug] = Field(default_factory=list)
    room_kinds: list[Slug] = Field(default_factory=list)
    assets: list[Slug] = Field(default_factory=list)
    categories: list[Slug] = Field(default_factory=list)
    profiles: list[Slug] = Field(default_factory=list)
    equipment: list[Slug] = Field(default_factory=list)
    """Kinds of equipment, as the profile says: office, communication, building, energy,
    environment, vehicle, security."""
    devices: list[Slug] = Field(default_factory=list)

    def admits(self, labels: dict[str, str]) -> bool:
        """Whether a device with ``labels`` is matched."""
        for field, label in _MATCHED:
            wanted: list[str] = getattr(self, field)
            if wanted and labels.get(label) not in wanted:
                return False
        return True


_MATCHED = (
    ("sites", "site"),
    ("buildings", "building"),
    ("rooms", "room"),
    ("room_kinds", "room_kind"),
    ("assets", "asset"),
    ("categories", "category"),
    ("profiles", "profile"),
    ("equipment", "equipment"),
    ("devices", "device"),
)


class Texts(_Strict):
    """A text in English and Simplified Chinese; ``{name}`` takes a value of the alert."""

    en: str = Field(max_length=500)
    zh: str = Field(max_length=500)


class _Rule(_Strict):
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


class Threshold(_Rule):
    """A point above (or below) a level for a while; clears at a separate level."""

    kind: Literal["threshold"]
    point: Slug
    above: float | None = None
    below: float | None = None
    clear: float | None = None
    """Level at which it clears (hysteresis); the firing level when not given."""
    for_s: Duration = Field(default=0.0, alias="for")

    @model_validator(mode="after")
    def _one_side(self) -> Threshold:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above and below")
        if self.clear is not None:
            if self.above is not None and self.clear > self.above:
                raise ValueError(f"clear {self.clear} is above the firing level {self.above}")
            if self.below is not None and self.clear < self.below:
                raise ValueError(f"clear {self.clear} is below the firing level {self.below}")
        return self


class Faults(_Rule):
    """The profile's fault flags (severity warning/critical) and fault values."""

    kind: Literal["fault"]
    for_s: Duration = Field(default=0.0, alias="for")


class CommLoss(_Rule):
    """A device its gateway reports offline, a gateway gone, or no data for a while."""

    kind: Literal["comm_loss"]
    factor: float = Field(default=3.0, ge=1.5, le=100)
    """Silence longer than factor times the device's reporting interval is a loss."""
    silent_s: Duration = Field(default=600.0, alias="silent")
    """Silence that is a loss for devices without a known reporting interval."""


class Idle(_Rule):
    """Not in use (the profile's predicate) for a long stretch of working time."""

    kind: Literal["idle"]
    for_s: Duration = Field(default=4 * 3600.0, alias="for")
    """Working time spent not in use before the asset counts as idle."""
    unchanged_days: float | None = Field(default=None, gt=0)
    """For counters (``increases: true``): days without an increase."""


class Speeding(_Rule):
    """A vehicle above a speed for a while."""

    kind: Literal["speeding"]
    point: Slug = "speed_kmh"
    above: float = Field(default=80.0, gt=0)
    for_s: Duration = Field(default=10.0, alias="for")


class Geofence(_Rule):
    """A vehicle leaving (or entering) a polygon of latitude/longitude corners."""

    kind: Literal["geofence"]
    name: str = Field(max_length=100)
    polygon: list[tuple[float, float]] = Field(min_length=3, max_length=1000)
    """Corners as [latitude, longitude]."""
    on: Literal["exit", "entry"] = "exit"
    latitude: Slug = "lat"
    longitude: Slug = "lon"
    for_s: Duration = Field(default=0.0, alias="for")

    @model_validator(mode="after")
    def _on_earth(self) -> Geofence:
        for index, (lat, lon) in enumerate(self.polygon):
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"corner {index} ({lat}, {lon}) is not a latitude, longitude")
        return self


class Movement(_Rule):
    """A vehicle moving (outside working time, by default)."""

    kind: Literal["movement"]
    working_time: Literal["any", "only", "outside"] = "outside"
    point: Slug = "speed_kmh"
    above: float = Field(default=5.0, ge=0)
    for_s: Duration = Field(default=60.0, alias="for")


class LongIdling(_Rule):
    """A vehicle standing with its engine running."""

    kind: Literal["long_idling"]
    ignition: Slug = "ignition"
    speed: Slug = "speed_kmh"
    for_s: Duration = Field(default=600.0, alias="for")


class DoorHeldOpen(_Rule):
    """A door open for longer than allowed."""

    kind: Literal["door_held_open"]
    point: Slug = "door_state"
    open_value: str | bool | int = Field(default="open", alias="open")
    for_s: Duration = Field(default=120.0, alias="for")


class DoorForced(_Rule):
    """A door opened with no access granted just before (or the controller says forced)."""

    kind: Literal["door_forced"]
    point: Slug = "door_state"
    open_value: str | bool | int = Field(default="open", alias="open")
    granted: Slug = "access_granted"
    forced: Slug = "door_forced"
    grant_window_s: Duration = Field(default=15.0, alias="grant_window")
    resolve_after_s: Duration = Field(default=1800.0, alias="resolve_after")
    """Resolved on its own after this long, if nobody resolved it."""


class AccessAfterHours(_Rule):
    """Access granted outside working time."""

    kind: Literal["access_after_hours"]
    working_time: Literal["any", "only", "outside"] = "outside"
    event: Slug = "access_granted"
    resolve_after_s: Duration = Field(default=1800.0, alias="resolve_after")


class DeniedBurst(_Rule):
    """Too many denied swipes at one door, or by one card, within a window."""

    kind: Literal["denied_burst"]
    event: Slug = "access_denied"
    count: int = Field(default=5, ge=2, le=1000)
    within_s: Duration = Field(default=300.0, alias="within")
    by: Literal["door", "card"] = "door"
    card_attr: Slug = Field(default="card", alias="card")
    resolve_after_s: Duration = Field(default=1800.0, alias="resolve_after")


class Tamper(_Rule):
    """A sensor or controller reporting tamper (a point that is true, or an event)."""

    kind: Literal["tamper"]
    severity: Severity = "critical"
    point: Slug = "tamper"
    event: Slug = "tamper"
    resolve_after_s: Duration = Field(default=1800.0, alias="resolve_after")


def _kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("kind")
        return kind if isinstance(kind, str) else None
    return getattr(value, "kind", None)


Rule = Annotated[
    Annotated[Threshold, Tag("threshold")]
    | Annotated[Faults, Tag("fault")]
    | Annotated[CommLoss, Tag("comm_loss")]
    | Annotated[Idle, Tag("idle")]
    | Annotated[Speeding, Tag("speeding")]
    | Annotated[Geofence, Tag("geofence")]
    | Annotated[Movement, Tag("movement")]
    | Annotated[LongIdling, Tag("long_idling")]
    | Annotated[DoorHeldOpen, Tag("door_held_open")]
    | Annotated[DoorForced, Tag("door_forced")]
    | Annotated[AccessAfterHours, Tag("access_after_hours")]
    | Annotated[DeniedBurst, Tag("denied_burst")]
    | Annotated[Tamper, Tag("tamper")],
    Discriminator(_kind),
]
KINDS = [
    "threshold",
    "fault",
    "comm_loss",
    "idle",
    "speeding",
    "geofence",
    "movement",
    "long_idling",
    "door_held_open",
    "door_forced",
    "access_after_hours",
    "denied_burst",
    "tamper",
]


class Inhibit(_Strict):
    """An alert that keeps others quiet.

    While an alert whose labels include ``source`` fires, the alerts whose labels include
    ``target`` and share the ``equal`` labels with it are recorded but not notified.
    """

    source: dict[str, str]
    target: dict[str, str]
    equal: list[str] = Field(min_length=1)


class Places(_Strict):
    """Which calendar each site or building keeps (a building's wins over its site's)."""

    sites: dict[Slug, Slug] = Field(default_factory=dict)
    buildings: dict[Slug, Slug] = Field(default_factory=dict)


class RuleSet(_Strict):
    """A whole rules file."""

    calendars: dict[Slug, Calendar] = Field(default_factory=lambda: {"default": Calendar()})
    places: Places = Field(default_factory=Places)
    rules: list[Rule] = Field(default_factory=list)
    inhibit: list[Inhibit] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> RuleSet:
        ids = [rule.id for rule in self.rules]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"rule id {twice[0]!r} is used twice (use overrides: to replace)")
        earlier = (info.context or {}).get("earlier_ids", ())  # a file sees the files before it
        for rule in self.rules:
            if rule.overrides and rule.overrides not in ids and rule.overrides not in earlier:
                raise ValueError(f"rule {rule.id!r} overrides {rule.overrides!r}: no such rule")
        if "default" not in self.calendars:
            raise ValueError("calendars needs one named 'default'")
        for where, chosen in (("sites", self.places.sites), ("buildings", self.places.buildings)):
            for place, calendar in chosen.items():
                if calendar not in self.calendars:
                    raise ValueError(f"places.{where}.{place}: no calendar named {calendar!r}")
        return self

    def for_device(self, labels: dict[str, str]) -> list[Any]:
        """The enabled rules that apply to a device with ``labels``.

        A rule that ``overrides`` another removes it for the devices it matches itself (a
        disabled one too: that is how a rule is turned off for some devices).
        """
        matching = [rule for rule in self.rules if rule.match.admits(labels)]
        replaced = {rule.overrides for rule in matching if rule.overrides}
        return [rule for rule in matching if rule.enabled and rule.id not in replaced]

    def calendar(self, site: str | None, building: str | None) -> Calendar:
        """The calendar a device in ``site`` and ``building`` keeps."""
        name = self.places.buildings.get(building or "") or self.places.sites.get(site or "")
        return self.calendars[name or "default"]


class RulesError(ValueError):
    """A rules file that cannot be used, with where and why."""


def load_rules(*paths: Path) -> RuleSet:
    """Read rules files in order and join them: calendars, places, rules, inhibitions.

    Raises:
        RulesError: a file is missing, not YAML, or not valid, naming the file and field.
    """
    calendars: dict[str, Any] = {}
    places: dict[str, dict[str, Any]] = {"sites": {}, "buildings": {}}
    rules: list[Any] = []
    inhibit: list[Any] = []
    for path in paths:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RulesError(f"{path}: cannot be read: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise RulesError(f"{path}: not UTF-8: {exc}") from None
        except yaml.YAMLError as exc:
            raise RulesError(f"{path}: not YAML: {exc}") from None
        except RecursionError:
            raise RulesError(f"{path}: not YAML: nested too deeply") from None
        except (ValueError, LookupError, AttributeError) as exc:  # see facmon.config._read_yaml
            raise RulesError(f"{path}: not YAML: a value does not fit its type ({exc})") from None
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise RulesError(f"{path}: expected a mapping of rules, calendars, places, inhibit")
        unknown = sorted(map(str, set(data) - {"rules", "calendars", "places", "inhibit"}))
        if unknown:
            raise RulesError(f"{path}: {unknown[0]}: unknown section")
        for key, kind in (
            ("calendars", dict),
            ("places", dict),
            ("rules", list),
            ("inhibit", list),
        ):
            if not isinstance(data.get(key, kind()), kind):
                raise RulesError(
                    f"{path}: {key}: expected a {kind.__name__.replace('dict', 'mapping')}"
                )
        try:  # each file on its own, so that an error names its file
            RuleSet.model_validate(
                {
                    "calendars": {"default": {}, **calendars, **data.get("calendars", {})},
                    "places": data.get("places", {}),
                    "rules": data.get("rules", []),
                    "inhibit": data.get("inhibit", []),
                },
                context={"earlier_ids": {r.get("id") for r in rules if isinstance(r, dict)}},
            )
        except ValidationError as exc:
            raise RulesError(f"{path}: {_first_error(exc)}") from None
        calendars.update(data.get("calendars", {}))
        for key in ("sites", "buildings"):
            places[key].update(data.get("places", {}).get(key, {}))
        rules.extend(data.get("rules", []))
        inhibit.extend(data.get("inhibit", []))
    joined = {"calendars": {"default": {}, **calendars}, "places": places}
    try:
        return RuleSet.model_validate({**joined, "rules": rules, "inhibit": inhibit})
    except ValidationError as exc:
        raise RulesError(f"{', '.join(map(str, paths))}: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    more = exc.error_count() - 1
    message = str(error["msg"]).removeprefix("Value error, ")
    return (f"{where}: " if where else "") + message + (f" (and {more} more)" if more else "")
