"""Place panels on Grafana's 24-column grid and number them, in the order they are given."""

from __future__ import annotations

from collections.abc import Sequence

import attr
from grafanalib import core as g

from dashboards.panels import GPanel

COLUMNS = 24
"""The width of a dashboard in grid units."""


def place(panels: Sequence[GPanel]) -> list[GPanel]:
    """Return ``panels`` positioned left to right, top to bottom, with ids 1, 2, 3...

    A panel that does not fit in what is left of the line starts a new line, below the
    tallest panel of the line; a row header always starts a line of its own. Ids follow
    the order of ``panels``, so that the same code always gives the same ids.

    Raises:
        ValueError: a panel is wider than the grid.
    """
    placed: list[GPanel] = []
    x = y = line_height = 0
    for number, panel in enumerate(panels, start=1):
        w, h = panel.gridPos.w, panel.gridPos.h
        if not 0 < w <= COLUMNS:
            raise ValueError(f"panel {panel.title!r} is {w} columns wide (1 to {COLUMNS})")
        if isinstance(panel, g.RowPanel) or x + w > COLUMNS:
            x, y, line_height = 0, y + line_height, 0
        placed.append(attr.evolve(panel, id=number, gridPos=g.GridPos(h=h, w=w, x=x, y=y)))
        x, line_height = x + w, max(line_height, h)
        if isinstance(panel, g.RowPanel):
            x, y, line_height = 0, y + h, 0
    return placed
