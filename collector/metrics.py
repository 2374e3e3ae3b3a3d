"""The collector's self-monitoring: Prometheus metrics in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class CollectorMetrics:
    """Every metric the collector exports on ``/metrics``."""

    def __init__(self) -> None:
        """Create the metrics in a private registry."""
        registry = self.registry = CollectorRegistry()
        self.received = Counter(
            "facmon_collector_messages", "Messages received from the broker", registry=registry
        )
        self.stored = Counter(
            "facmon_collector_records_stored",
            "Readings, events and alerts the store accepted",
            registry=registry,
        )
        self.dead_letters = Counter(
            "facmon_collector_dead_letters", "Messages sent to the dead letter", registry=registry
        )
        self.retries = Counter(
            "facmon_collector_write_retries",
            "Writes retried after a store failure",
            registry=registry,
        )
        self.batch_size = Histogram(
            "facmon_collector_batch_records",
            "Records (readings, events, alerts) per write",
            buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000),
            registry=registry,
        )
        self.write_seconds = Histogram(
            "facmon_collector_write_seconds",
            "Time for the store to accept a batch",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.lag_seconds = Gauge(
            "facmon_collector_lag_seconds",
            "Now minus the newest reading's time, at its write",
            registry=registry,
        )
        self.unacked = Gauge(
            "facmon_collector_unacked",
            "Messages received and not yet acknowledged",
            registry=registry,
        )
