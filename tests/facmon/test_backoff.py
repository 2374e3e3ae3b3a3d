"""Backoff delays grow, stay within bounds and reset."""

from __future__ import annotations

import random

from facmon.backoff import Backoff


def test_delays_double_up_to_the_maximum_and_reset() -> None:
    backoff = Backoff(1.0, 8.0, random.Random(1))
    delays = [backoff.next() for _ in range(8)]
    caps = [1, 2, 4, 8, 8, 8, 8, 8]
    assert all(cap / 2 <= d <= cap for d, cap in zip(delays, caps, strict=True))
    backoff.reset()
    assert backoff.next() <= 1.0
