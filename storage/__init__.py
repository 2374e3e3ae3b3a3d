"""Telemetry storage: the sink protocol, records, line protocol, the InfluxDB and SQLite stores.

The collector writes through a :class:`storage.sink.Sink`; the API reads back through a
:class:`storage.sink.TelemetryReader`. Neither component imports the other.
"""
