"""The asset list's snapshot: when an answer may come from an older one, and when not."""

from __future__ import annotations

import asyncio

from api.listing import Listing


class Estate:
    """Statuses that change when told, and a compute that counts its runs."""

    def __init__(self) -> None:
        self.items = ["A"]
        self.runs = 0
        self.gate: asyncio.Event | None = None

    async def compute(self) -> tuple[list[str], float]:
        self.runs += 1
        items = list(self.items)
        if self.gate is not None:
            await self.gate.wait()
        return items, 60.0


async def test_an_answer_may_come_from_the_previous_snapshot_while_the_next_is_made() -> None:
    estate, listing = Estate(), Listing[str]()
    assert await listing.current(estate.compute, 1) == (1, ["A"])
    estate.items = ["B"]
    assert await listing.current(estate.compute, 2) == (1, ["A"])  # refreshed meanwhile
    await asyncio.sleep(0)
    assert await listing.current(estate.compute, 2) == (2, ["B"])


async def test_a_first_paint_comes_from_a_snapshot_made_after_it_was_asked_for() -> None:
    estate, listing = Estate(), Listing[str]()
    assert await listing.current(estate.compute, 1) == (1, ["A"])
    estate.items = ["B"]
    assert await listing.settled(estate.compute, 2) == (2, ["B"])
    # Nothing moved since: the snapshot is current, nothing is computed again.
    assert await listing.settled(estate.compute, 2) == (2, ["B"])
    assert estate.runs == 2


async def test_a_first_paint_waits_for_the_snapshot_being_made_and_shares_it() -> None:
    estate, listing = Estate(), Listing[str]()
    assert await listing.current(estate.compute, 1) == (1, ["A"])
    estate.items, estate.gate = ["B"], asyncio.Event()
    assert await listing.current(estate.compute, 2) == (1, ["A"])  # starts a refresh
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(listing.settled(estate.compute, 2)) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(task.done() for task in waiting)
    estate.gate.set()
    assert await asyncio.gather(*waiting) == [(2, ["B"])] * 3
    assert estate.runs == 2  # the three pages shared the refresh under way


async def test_a_refresh_begun_before_the_live_change_is_not_enough() -> None:
    estate, listing = Estate(), Listing[str]()
    assert await listing.current(estate.compute, 1) == (1, ["A"])
    estate.gate = asyncio.Event()
    await listing.current(estate.compute, 2)  # a refresh reading the estate as it was
    await asyncio.sleep(0)
    estate.items = ["C"]  # live state moves on (version 3) while that refresh runs
    waiting = asyncio.create_task(listing.settled(estate.compute, 3))
    await asyncio.sleep(0.01)
    estate.gate.set()
    assert await waiting == (3, ["C"])


async def test_after_a_registry_change_the_first_paint_is_computed_again() -> None:
    estate, listing = Estate(), Listing[str]()
    assert await listing.settled(estate.compute, 1) == (1, ["A"])
    estate.items = ["D"]
    listing.invalidate()
    assert await listing.settled(estate.compute, 1) == (2, ["D"])
