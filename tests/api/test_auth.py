"""Guessing tokens is slowed down: failed authentications per address, in a sliding window."""

from __future__ import annotations

from api.auth import FailedLogins


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_is_locked_after_the_limit_until_its_oldest_failure_ages_out() -> None:
    clock = Clock()
    limiter = FailedLogins(limit=3, window_s=60, clock=clock)
    for n in range(3):
        assert limiter.wait_s("10.0.0.1") == 0
        assert limiter.failed("10.0.0.1") == n + 1
        clock.now += 10
    assert limiter.wait_s("10.0.0.1") == 30  # the first failure (at 1000) leaves at 1060
    assert limiter.wait_s("10.0.0.2") == 0  # others are not punished
    clock.now += 29.5
    assert limiter.wait_s("10.0.0.1") == 0.5
    clock.now += 0.5
    assert limiter.wait_s("10.0.0.1") == 0
    assert limiter.failed("10.0.0.1") == 3  # two still count; a third locks again
    assert limiter.wait_s("10.0.0.1") == 10


def test_failures_out_of_the_window_are_forgotten() -> None:
    clock = Clock()
    limiter = FailedLogins(limit=2, window_s=5, clock=clock)
    limiter.failed("a")
    clock.now += 6
    limiter.failed("a")
    assert limiter.wait_s("a") == 0
    clock.now += 6
    assert limiter.wait_s("a") == 0
    assert limiter._failures == {}  # nothing kept for an address that stopped failing


def test_a_flood_of_addresses_does_not_grow_without_bound() -> None:
    limiter = FailedLogins(limit=5, window_s=60)
    for n in range(25_000):
        limiter.failed(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    assert len(limiter._failures) <= 10_000
