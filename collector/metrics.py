"""The collector's self-monitoring: Prometheus metrics in a registry of its own."""

from __future__ import annotations

from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class CollectorMetrics:
    """Every metric the collector exports on ``/metrics``."""

    def __init__(self) -> None:
        """Create the metrics in a private registry."""
        registry = self.registry = CollectorRegistry()
        counter = partial(Counter, registry=registry)
        gauge = partial(Gauge, registry=registry)
        histogram = partial(Histogram, registry=registry)
        self.received = counter("facmon_collector_messages", "Messages received from the broker")
        self.stored = counter(
            "facmon_collector_records_stored", "Readings, events and alerts the store accepted"
        )
        self.dead_letters = counter(
            "facmon_collector_dead_letters", "Messages sent to the dead letter"
        )
        self.retries = counter(
            "facmon_collector_write_retries", "Writes retried after a store failure"
        )
        self.batch_size = histogram(
            "facmon_collector_batch_records",
            "Records (readings, events, alerts) per write",
            buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000),
        )
        self.write_seconds = histogram(
            "facmon_collector_write_seconds",
            "Time for the store to accept a batch",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.lag_seconds = gauge(
            "facmon_collector_lag_seconds", "Now minus the newest reading's time, at its write"
        )
        self.unacked = gauge(
            "facmon_collector_unacked", "Messages received and not yet acknowledged"
        )
