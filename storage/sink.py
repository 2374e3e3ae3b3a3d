"""Where the collector writes, and how the API reads back: InfluxDB or embedded SQLite."""

from __future__ import annotations

from typing import Literal, Protocol, get_args

from facmon.contract import Scalar
from storage.records import DeviceLatest, Stored

Aggregate = Literal["mean", "min", "max", "sum", "count", "first", "last"]
"""How the values of one interval are combined."""
AGGREGATES: tuple[str, ...] = get_args(Aggregate)


class SinkError(Exception):
    """The store could not take the batch now (down, timing out); retry later."""


class QueryRefused(SinkError):
    """The store answered but refused the query (the mean of a string point, say)."""


class SinkRejected(Exception):
    """The store refused the batch because of its content; ``reason`` is the store's own."""

    def __init__(self, reason: str) -> None:
        """Keep the store's reason for the dead letter."""
        super().__init__(reason)
        self.reason = reason


class Sink(Protocol):
    """A store that durably accepts whole batches (idempotent: a replay overwrites itself)."""

    def encode(self, records: list[Stored]) -> bytes | None:
        """Do the CPU work of writing ``records`` ahead of :meth:`write`, or return None.

        The collector encodes one batch while the previous one is being written.
        """

    async def write(self, records: list[Stored], encoded: bytes | None = None) -> None:
        """Store ``records``; return only once they are durable.

        ``encoded`` is what :meth:`encode` made of the same records, when it was called.

        Raises:
            SinkError: try again later.
            SinkRejected: the content was refused.
        """

    async def close(self) -> None:
        """Release connections."""


class TelemetryReader(Protocol):
    """Reads back what a sink stored (used by the API)."""

    async def latest(self, device: str) -> DeviceLatest | None:
        """Return the newest stored values of ``device``, or None when nothing is stored.

        Raises:
            SinkError: the store cannot be read now.
        """

    async def history(
        self, device: str, point: str, start_ms: int, end_ms: int, every_ms: int, agg: Aggregate
    ) -> list[tuple[int, Scalar]]:
        """Return ``agg`` of ``point`` per interval of ``every_ms`` in ``[start_ms, end_ms)``.

        Intervals are aligned on the epoch (as InfluxDB's ``GROUP BY time()``); each row is the
        interval's start and its value; intervals without data are left out.

        Raises:
            QueryRefused: the store refused the query (for example the mean of a string).
            SinkError: the store cannot be read now.
        """

    async def close(self) -> None:
        """Release connections."""
