"""Panels flow over the 24-column grid; rows take a line; ids follow the order."""

from __future__ import annotations

from typing import Any

import pytest

from dashboards.layout import place
from dashboards.panels import row, stat, timeseries


def positions(panels: list[Any]) -> list[tuple[int, int, int, int, int]]:
    return [(p.id, p.gridPos.x, p.gridPos.y, p.gridPos.w, p.gridPos.h) for p in panels]


def test_panels_wrap_below_the_tallest_of_the_line() -> None:
    placed = place(
        [
            row("One"),
            stat("a", "SELECT 1", w=8, h=4),
            timeseries("b", "SELECT 2", unit="short", w=12, h=8),
            stat("c", "SELECT 3", w=8, h=4),
            row("Two"),
            stat("d", "SELECT 4", w=24, h=4),
        ]
    )
    assert positions(placed) == [
        (1, 0, 0, 24, 1),
        (2, 0, 1, 8, 4),
        (3, 8, 1, 12, 8),
        (4, 0, 9, 8, 4),
        (5, 0, 13, 24, 1),
        (6, 0, 14, 24, 4),
    ]


def test_a_panel_wider_than_the_grid_is_an_error() -> None:
    with pytest.raises(ValueError, match="25 columns"):
        place([stat("wide", "SELECT 1", w=25)])
