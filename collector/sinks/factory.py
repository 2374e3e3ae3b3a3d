"""Build the sink and reader a configuration names."""

from __future__ import annotations

from collector.config import InfluxSinkConfig, SinkConfig
from collector.sinks import Sink, TelemetryReader
from collector.sinks.influx import InfluxReader, InfluxSink
from collector.sinks.sqlite import SqliteReader, SqliteSink


def make_sink(config: SinkConfig) -> Sink:
    """Return the sink for ``config``."""
    if isinstance(config, InfluxSinkConfig):
        return InfluxSink(config)
    return SqliteSink(config.path)


def make_reader(config: SinkConfig) -> TelemetryReader:
    """Return the reader for the store ``config`` writes to."""
    if isinstance(config, InfluxSinkConfig):
        return InfluxReader(config)
    return SqliteReader(config.path)
