"""One measured configuration of the gateway benchmark and the rates derived from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Result:
    """One measured configuration."""

    name: str
    seconds: float
    polls: int
    points: int
    cpu_s: float
    sim_cpu_s: float = 0.0
    broker_cpu_s: float = 0.0
    bench_cpu_s: float = 0.0
    other_cpu_s: float = 0.0
    offered_polls_per_s: float = 0.0
    lost: int | None = None
    devices_seen: int = 0
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def polls_per_s(self) -> float:
        """Polls answered per second (data envelopes, or devices' telemetry entries)."""
        return self.polls / self.seconds

    @property
    def points_per_s(self) -> float:
        """Values received per second."""
        return self.points / self.seconds

    @property
    def cpu_pct(self) -> float:
        """CPU of the process under test, % of one core."""
        return 100 * self.cpu_s / self.seconds

    @property
    def us_per_point(self) -> float:
        """CPU µs of the process under test per value received."""
        return 1e6 * self.cpu_s / self.points if self.points else float("nan")

    @property
    def us_per_poll(self) -> float:
        """CPU µs of the process under test per poll answered."""
        return 1e6 * self.cpu_s / self.polls if self.polls else float("nan")
