"""``door_forced``: an opening without a grant just before, or the controller's forced event."""

from __future__ import annotations

from api.alerts.engine import Engine
from api.alerts.rules import RuleSet
from devices.library import resolve_profile

PROFILES = {"door-controller": resolve_profile("door-controller")}
RULE = {"id": "forced", "kind": "door_forced", "grant_window": "15s", "resolve_after": "30m"}


def _engine() -> Engine:
    engine = Engine(RuleSet.model_validate({"rules": [RULE]}), PROFILES)
    engine.state("hq", "gw-1", "door-1", 0, "online", None, "door-controller", 5.0)
    return engine


def test_an_opening_without_a_grant_fires_and_resolves_after_a_while() -> None:
    engine = _engine()
    assert engine.data("hq", "gw-1", "door-1", 1_000, {"door_state": "closed"}) == []
    [fired] = engine.data("hq", "gw-1", "door-1", 2_000, {"door_state": "open"})
    assert (fired.rule.id, fired.firing, fired.fingerprint) == ("forced", True, "forced/door-1/")
    assert engine.tick(2_000 + 1_799_000) == []
    [resolved] = engine.tick(2_000 + 1_800_000)
    assert not resolved.firing


def test_an_opening_just_after_a_grant_is_not_forced() -> None:
    engine = _engine()
    engine.data("hq", "gw-1", "door-1", 1_000, {"door_state": "closed"})
    assert engine.event("hq", "gw-1", "door-1", 5_000, "access_granted", {"card": "C-1"}) == []
    assert engine.data("hq", "gw-1", "door-1", 10_000, {"door_state": "open"}) == []


def test_the_controllers_forced_event_fires_once() -> None:
    engine = _engine()
    [fired] = engine.event("hq", "gw-1", "door-1", 1_000, "door_forced", {"door": "north"})
    assert fired.values == {"door": "north"}
    assert engine.event("hq", "gw-1", "door-1", 2_000, "door_forced", {}) == []
