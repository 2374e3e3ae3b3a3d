"""Where the collector writes, and how the API reads back: InfluxDB or embedded SQLite."""

from __future__ import annotations

from typing import Protocol

from collector.record import DeviceLatest, Record


class SinkError(Exception):
    """The store could not take the batch now (down, timing out); retry later."""


class SinkRejected(Exception):
    """The store refused the batch because of its content; ``reason`` is the store's own."""

    def __init__(self, reason: str) -> None:
        """Keep the store's reason for the dead letter."""
        super().__init__(reason)
        self.reason = reason


class Sink(Protocol):
    """A store that durably accepts whole batches (idempotent: a replay overwrites itself)."""

    async def write(self, records: list[Record]) -> None:
        """Store ``records``; return only once they are durable.

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

    async def close(self) -> None:
        """Release connections."""
