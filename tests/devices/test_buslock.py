"""The bus lock: one holder at a time, urgent waiters first, cancellation-safe."""

from __future__ import annotations

import asyncio
import contextlib

from devices.fieldbus import NORMAL, SUSPECT, URGENT, BusLock


async def test_lanes_are_served_in_priority_order() -> None:
    lock = BusLock()
    order: list[str] = []

    async def use(name: str, priority: int) -> None:
        await lock.acquire(priority)
        order.append(name)
        await asyncio.sleep(0)
        lock.release()

    await lock.acquire()
    lanes = [("suspect", SUSPECT), ("poll-1", NORMAL), ("poll-2", NORMAL), ("write", URGENT)]
    tasks = [asyncio.create_task(use(n, p)) for n, p in lanes]
    await asyncio.sleep(0)
    lock.release()
    await asyncio.gather(*tasks)
    assert order == ["write", "poll-1", "poll-2", "suspect"]


async def test_a_cancelled_waiter_does_not_keep_the_lock() -> None:
    lock = BusLock()
    await lock.acquire()
    waiter = asyncio.create_task(lock.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.sleep(0)
    lock.release()
    await asyncio.wait_for(lock.acquire(), 1)


async def test_cancelling_a_waiter_after_a_release_skipped_it() -> None:
    lock = BusLock()
    await lock.acquire()
    first = asyncio.create_task(lock.acquire())
    second = asyncio.create_task(lock.acquire())
    await asyncio.sleep(0)
    first.cancel()
    second.cancel()
    lock.release()  # skips both cancelled waiters before their handlers run
    for task in (first, second):
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await asyncio.wait_for(lock.acquire(), 1)
