"""The status page's board: which assets changed between snapshots, and when to start over."""

from __future__ import annotations

from api.board import KEPT_STEPS, Board, Line
from api.status import Status, Verdict

OK = Verdict(Status.OK, "reporting_one")
DOWN = Verdict(Status.OFFLINE, "gateway_offline", (("gateway", "gw-1"),))


def lines(**verdicts: Verdict) -> list[Line]:
    return [Line(key, key.upper(), "ups", "r1", verdict) for key, verdict in verdicts.items()]


def test_a_page_is_sent_what_changed_since_its_snapshot() -> None:
    board = Board()
    board.update(1, lines(a=OK, b=OK))
    layout = board.layout
    board.update(2, lines(a=DOWN, b=OK))
    board.update(5, lines(a=DOWN, b=DOWN))  # generations the board never saw are fine
    assert board.layout == layout
    assert [line.id for line in board.changed_since(1) or []] == ["a", "b"]
    assert [line.id for line in board.changed_since(2) or []] == ["b"]
    assert board.changed_since(5) == []
    assert board.changed_since(3) is None  # not a snapshot the board knows
    assert board.counts[Status.OFFLINE] == 2


def test_a_new_layout_or_a_page_far_behind_needs_the_whole_overview() -> None:
    board = Board()
    board.update(1, lines(a=OK))
    board.update(2, lines(a=OK, b=OK))  # an asset added
    assert board.layout == 2
    assert board.changed_since(1) is None
    moved = [Line("a", "A", "ups", "r2", OK), Line("b", "B", "ups", "r1", OK)]
    board.update(3, moved)
    assert board.layout == 3
    board.update(4, moved, relayout=True)  # the registry changed through the API
    assert board.layout == 4
    for generation in range(5, 6 + KEPT_STEPS):
        board.update(generation, moved)
    assert board.changed_since(4) is None  # fell too far behind
    assert board.changed_since(5) == []  # nothing changed since, and 5 is still known


def test_the_same_snapshot_twice_changes_nothing() -> None:
    board = Board()
    board.update(1, lines(a=OK))
    board.update(1, lines(a=DOWN))
    assert board.lines["a"].verdict == OK
