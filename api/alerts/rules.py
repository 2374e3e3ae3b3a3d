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
from typing import TYPE_CHECKING, Annotated, Any, Union

import yaml
from pydantic import (
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from api.alerts.calendar import Calendar
from api.alerts.kinds.base import RuleModel, StrictModel
from api.alerts.kinds.registry import KINDS
from api.categories import Vocabulary, shipped
from facmon.types import Slug


def _kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("kind")
        return kind if isinstance(kind, str) else None
    return getattr(value, "kind", None)


if TYPE_CHECKING:
    Rule = RuleModel
else:  # the union of every registered kind's model, told apart by ``kind``
    Rule = Annotated[
        Union[tuple(Annotated[k.model, Tag(k.name)] for k in KINDS.values())],  # noqa: UP007
        Discriminator(_kind),
    ]


class Inhibit(StrictModel):
    """An alert that keeps others quiet.

    While an alert whose labels include ``source`` fires, the alerts whose labels include
    ``target`` and share the ``equal`` labels with it are recorded but not notified.
    """

    source: dict[str, str]
    target: dict[str, str]
    equal: list[str] = Field(min_length=1)


class Places(StrictModel):
    """Which calendar each site or building keeps (a building's wins over its site's)."""

    sites: dict[Slug, Slug] = Field(default_factory=dict)
    buildings: dict[Slug, Slug] = Field(default_factory=dict)


class RuleSet(StrictModel):
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


def load_rules(*paths: Path, categories: Vocabulary | None = None) -> RuleSet:
    """Read rules files in order and join them: calendars, places, rules, inhibitions.

    ``categories`` is the site's vocabulary of asset categories (facmon's own if not given).

    Raises:
        RulesError: a file is missing, not YAML, or not valid (a category unknown, too),
            naming the file and field.
    """
    vocabulary = shipped() if categories is None else categories
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
                context={
                    "earlier_ids": {r.get("id") for r in rules if isinstance(r, dict)},
                    "categories": vocabulary,
                },
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
        return RuleSet.model_validate(
            {**joined, "rules": rules, "inhibit": inhibit}, context={"categories": vocabulary}
        )
    except ValidationError as exc:
        raise RulesError(f"{', '.join(map(str, paths))}: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    more = exc.error_count() - 1
    message = str(error["msg"]).removeprefix("Value error, ")
    return (f"{where}: " if where else "") + message + (f" (and {more} more)" if more else "")
