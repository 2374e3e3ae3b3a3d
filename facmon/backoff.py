"""Exponential backoff with full jitter (pure; the random source is injectable)."""

from __future__ import annotations

import random


class Backoff:
    """Delays that double from ``initial`` up to ``maximum`` seconds, each drawn uniformly.

    Full jitter (a delay uniform in ``[0, cap]``) keeps many clients that lost the same
    server from reconnecting in lockstep.
    """

    def __init__(
        self, initial: float = 0.5, maximum: float = 30.0, rng: random.Random | None = None
    ) -> None:
        """Start at ``initial``; never exceed ``maximum``."""
        self.initial = initial
        self.maximum = maximum
        self._rng = rng or random.Random()
        self._attempt = 0

    def next(self) -> float:
        """Return the next delay in seconds."""
        cap = min(self.maximum, self.initial * 2**self._attempt)
        self._attempt = min(self._attempt + 1, 32)
        return self._rng.uniform(cap / 2, cap)

    def reset(self) -> None:
        """Start again from ``initial`` (after a success)."""
        self._attempt = 0
