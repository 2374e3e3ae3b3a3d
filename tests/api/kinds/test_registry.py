"""The rule kinds' registry: every kind registered once, with its texts; no unknown kind loads."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

from api.alerts.kinds.registry import KINDS, RuleKind, register
from api.alerts.rules import RulesError, RuleSet, load_rules


def test_every_kind_is_registered_in_order() -> None:
    assert list(KINDS) == [
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


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_has_its_texts_in_both_languages(kind: str) -> None:
    texts = KINDS[kind].texts
    assert texts
    for text in texts.values():
        assert set(text) == {"en", "zh"}
        names = {
            name
            for language in ("en", "zh")
            for _, name, _, _ in string.Formatter().parse(text[language])
            if name
        }
        assert names == {n for _, n, _, _ in string.Formatter().parse(text["en"]) if n}


def test_an_unknown_kind_is_an_error_at_load_naming_the_kinds() -> None:
    with pytest.raises(ValueError, match="does not match any of the expected tags: 'threshold'"):
        RuleSet.model_validate({"rules": [{"id": "x", "kind": "no_such_kind"}]})


def test_an_unknown_kind_in_a_rules_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules: [{id: x, kind: smoke}]")
    with pytest.raises(RulesError, match=r"rules.yaml: rules.0: .*'smoke'"):
        load_rules(path)


def test_a_kind_is_registered_once_and_needs_checks_or_a_watch() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        register(KINDS["tamper"])
    lonely = RuleKind("lonely", KINDS["tamper"].model, {})
    with pytest.raises(ValueError, match="give checks or a watch"):
        register(lonely)
    assert "lonely" not in KINDS
