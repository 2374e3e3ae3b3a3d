"""The configuration reference in docs/ is what the models generate."""

from __future__ import annotations

from pathlib import Path

from launcher.reference import components, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_reference_matches_the_models() -> None:
    assert DOC.read_text(encoding="utf-8") == render(components()), (
        "docs/configuration.md is stale: run `facmon config-reference --output docs/configuration.md`"
    )


def test_every_field_is_explained() -> None:
    undocumented = [line for line in render(components()).splitlines() if line.endswith("|  |")]
    assert undocumented == []
