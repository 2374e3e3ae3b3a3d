"""The status page's board: every asset's status, and what changed from one snapshot to the next.

Every open page follows the same snapshots of the asset list (see :mod:`api.listing`). The
board compares each new snapshot with the one before once, whatever the number of pages
open, and keeps the assets that changed for the last :data:`KEPT_STEPS` snapshots; a page
that is a few snapshots behind is sent just those assets, one that is further behind, or
whose layout changed (an asset added, removed, renamed or moved), the whole overview again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from api.status import Status, Verdict

KEPT_STEPS = 120
"""Snapshots whose changes are kept for pages that fell behind."""


@dataclass(frozen=True, slots=True)
class Line:
    """An asset on the board."""

    id: str
    name: str
    category: str
    room_id: str | None
    verdict: Verdict

    @property
    def place(self) -> tuple[str, str, str | None]:
        """What the page lays out by: a change here needs a new overview."""
        return self.name, self.category, self.room_id


@dataclass
class Board:
    """The newest snapshot's assets by id, and the changes of the last snapshots."""

    generation: int = -1
    layout: int = 0
    """Counts the changes of layout: a page drawn from an older one must be sent it anew."""
    lines: dict[str, Line] = field(default_factory=dict)
    counts: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))
    steps: deque[tuple[int, list[str]]] = field(default_factory=lambda: deque(maxlen=KEPT_STEPS))
    """Each kept snapshot as (the generation before it, the assets it changed), oldest first."""

    def update(self, generation: int, lines: Iterable[Line], *, relayout: bool = False) -> None:
        """Take the snapshot ``generation``; ``relayout`` says the places may have changed."""
        if generation == self.generation:
            return
        new = {line.id: line for line in lines}
        old = self.lines
        if (
            relayout
            or new.keys() != old.keys()
            or any(line.place != old[key].place for key, line in new.items())
        ):
            self.layout += 1
            self.steps.clear()
        else:
            changed = [key for key, line in new.items() if line.verdict != old[key].verdict]
            self.steps.append((self.generation, changed))
        self.generation, self.lines = generation, new
        counts = dict.fromkeys(Status, 0)
        for line in new.values():
            counts[line.verdict.status] += 1
        self.counts = counts

    def changed_since(self, generation: int) -> list[Line] | None:
        """The assets changed after ``generation`` (of the current layout), or None if unknown.

        None means the page must be sent the whole overview: the changes since then are no
        longer kept.
        """
        if generation == self.generation:
            return []
        for index, (before, _) in enumerate(self.steps):
            if before == generation:
                steps = list(self.steps)[index:]
                ids = dict.fromkeys(key for _, changed in steps for key in changed)
                return [self.lines[key] for key in ids]
        return None
