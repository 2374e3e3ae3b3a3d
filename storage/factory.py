"""Build the sink and reader a configuration names, by its ``kind``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage.config import SinkConfig
from storage.influx import InfluxReader, InfluxSink
from storage.sink import Sink, TelemetryReader
from storage.sqlite import SqliteReader, SqliteSink

_STORES: dict[str, tuple[Callable[[Any], Sink], Callable[[Any], TelemetryReader]]] = {
    "influxdb": (InfluxSink, InfluxReader),
    "sqlite": (lambda config: SqliteSink(config.path), lambda config: SqliteReader(config.path)),
}


def make_sink(config: SinkConfig) -> Sink:
    """Return the sink for ``config``."""
    return _STORES[config.kind][0](config)


def make_reader(config: SinkConfig) -> TelemetryReader:
    """Return the reader for the store ``config`` writes to."""
    return _STORES[config.kind][1](config)
