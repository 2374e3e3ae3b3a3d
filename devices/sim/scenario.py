"""A scenario: a timeline of faults and changes injected into the simulator (pure model)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from devices.sim.behaviour import FaultMode
from facmon.config import ConfigModel, FieldError
from facmon.types import Duration, Slug, Value


class Step(ConfigModel):
    """One change at time ``at`` after the start, undone after ``for`` when given.

    Exactly one of: ``set`` (point or flag values of ``device``), ``behaviour`` (how
    ``device`` answers: ``hang``, ``garbage``, ``exception``, ``slow`` with ``delay_s``,
    ``normal``), ``event`` (an MQTT device emits an event of that type) or ``link: down``
    (the endpoint at index ``endpoint`` stops accepting and drops its connections).
    """

    at: Duration
    """When, after the simulator starts (seconds, or 30s, 1m30s, 2h)."""
    duration: Duration | None = Field(default=None, alias="for")
    """How long until the change is undone; forever when absent."""
    device: Slug | None = None
    """The device changed (set, behaviour, event)."""
    set: dict[str, Value] | None = None
    """Point or flag values to hold."""
    behaviour: FaultMode | None = None
    """How the device answers from then on."""
    delay_s: float = Field(default=2.0, ge=0)
    """Answer delay of a ``slow`` device."""
    event: Slug | None = None
    """An event type the (MQTT) device emits once."""
    link: Literal["down"] | None = None
    """Take an endpoint's link down."""
    endpoint: int = Field(default=0, ge=0)
    """Index of the endpoint whose link goes down."""

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        actions = [
            name
            for name in ("set", "behaviour", "event", "link")
            if getattr(self, name) is not None
        ]
        if len(actions) != 1:
            raise FieldError(
                f"give exactly one of set, behaviour, event, link (got {actions or 'none'})", "at"
            )
        if self.link is None and self.device is None:
            raise FieldError(f"{actions[0]} needs a device", "device")
        return self


class Scenario(ConfigModel):
    """A timeline of steps."""

    steps: list[Step] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Change:
    """A step taking effect (``undo`` false) or being undone (``undo`` true) at time ``t``."""

    t: float
    step: Step
    undo: bool


def timeline(scenario: Scenario) -> list[Change]:
    """Return every change in time order (undoing before doing at equal times)."""
    changes = [Change(step.at, step, False) for step in scenario.steps]
    changes += [
        Change(step.at + step.duration, step, True)
        for step in scenario.steps
        if step.duration is not None
    ]
    return sorted(changes, key=lambda c: (c.t, not c.undo))
