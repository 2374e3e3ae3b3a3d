"""The rule kinds by name: each kind's model, its checks and its texts, registered once.

Each kind is one module of :mod:`api.alerts.kinds` that calls :func:`register` with a
:class:`RuleKind`. The rules file's union of rule models, the engine's compiling and the
alerts' texts all look the kind up here; a kind nobody registered is an error at load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from api.alerts.calendar import Calendar
from api.alerts.checks import Check, Communication
from api.alerts.kinds.base import RuleModel
from api.status import Language
from devices.profile import Profile

Checks = Callable[[Any, dict[str, str], Calendar, Profile | None], list[Check]]
"""(rule, the device's labels, its calendar, its profile) → the checks the rule makes."""
Watch = Callable[[Any, dict[str, str], Calendar, Any, float | None], Communication]
"""(rule, labels, calendar, the watch so far or None, reporting interval) → the watch."""


@dataclass(slots=True)
class Wording:
    """What an alert's text is made from."""

    key: str
    """The alert's key (a flag, a card, ``state``/``silent``/``gateway``)."""
    values: dict[str, Any]
    """The alert's values as the check gave them."""
    fields: dict[str, str]
    """What the text's ``{name}`` take: the labels, the values as shown, ``key``; a kind's
    ``words`` adds its own."""
    language: str
    """en or zh."""
    flag: dict[str, str] | None = None
    """What the profile says of the key (see :attr:`RuleKind.detail`)."""


Words = Callable[[Any, Wording], str]
"""(rule, wording) → the name of the text to say; adds the fields it needs."""


def own_text(rule: Any, said: Wording) -> str:
    """The text named after the kind, with the alert's values as they are."""
    return str(rule.kind)


def each(check: Callable[[Any, dict[str, str], Calendar], Check]) -> Checks:
    """Checks of one ``check`` per rule and device, whatever the profile."""

    def checks(
        rule: Any, labels: dict[str, str], calendar: Calendar, profile: Profile | None
    ) -> list[Check]:
        return [check(rule, labels, calendar)]

    return checks


def no_detail(profile: Profile | None, key: str) -> dict[str, str] | None:
    """No detail from the profile for the texts."""
    return None


def no_points(rule: Any) -> tuple[str, ...]:
    """A rule that reads no point of its own."""
    return ()


@dataclass(frozen=True)
class RuleKind:
    """A kind of rule: its model, how it judges a device, and what its alerts say."""

    name: str
    """As written in rules files (``kind: threshold``)."""
    model: type[RuleModel]
    """The pydantic model of its rules."""
    texts: Mapping[str, Mapping[Language, str]]
    """Text name → language (en, zh) → text; ``{name}`` takes a field of the alert."""
    checks: Checks | None = None
    """The checks a rule of this kind makes for one device."""
    watch: Watch | None = None
    """Instead of checks: the device's one communication watch (state messages, silence,
    its gateway's presence)."""
    words: Words = own_text
    """Which text an alert says, after adding the fields it needs."""
    points: Callable[[Any], tuple[str, ...]] = no_points
    """The points a rule reads without which it cannot hold (no checks for a profile
    without them)."""
    detail: Callable[[Profile | None, str], dict[str, str] | None] = no_detail
    """What the device's profile says of an alert's key (a fault's code and description),
    given to :attr:`words` as ``flag``."""


KINDS: dict[str, RuleKind] = {}
"""Kind by name, in the order registered (the order error messages list them)."""


def register(kind: RuleKind) -> RuleKind:
    """Add ``kind`` (each kind's module registers its own).

    Raises:
        ValueError: a kind of that name is registered already, or it has neither checks nor
            a watch.
    """
    if kind.name in KINDS:
        raise ValueError(f"rule kind {kind.name!r} is registered twice")
    if (kind.checks is None) == (kind.watch is None):
        raise ValueError(f"rule kind {kind.name!r}: give checks or a watch")
    KINDS[kind.name] = kind
    return kind


def shown(value: Any) -> str:
    """A value as a text shows it: floats short (``28.25``, ``3456790``), others as written."""
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e6 else f"{value:.0f}"
    return str(value)
