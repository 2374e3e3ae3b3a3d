"""The gateway's self-monitoring: Prometheus metrics in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class GatewayMetrics:
    """Every metric the gateway exports on ``/metrics``."""

    def __init__(self) -> None:
        """Create the metrics in a private registry (several gateways can share a process)."""
        self.registry = CollectorRegistry()
        self.poll_seconds = Histogram(
            "facmon_gateway_poll_seconds",
            "Time to execute one device's read plan",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.polls = Counter("facmon_gateway_polls", "Polls executed", registry=self.registry)
        self.requests = Counter(
            "facmon_gateway_requests", "Modbus requests sent", registry=self.registry
        )
        self.errors = Counter(
            "facmon_gateway_errors", "Failed requests by kind", ["kind"], registry=self.registry
        )
        self.overruns = Counter(
            "facmon_gateway_overruns",
            "Poll slots skipped because a poll overran",
            registry=self.registry,
        )
        self.points = Counter(
            "facmon_gateway_points", "Point values published", registry=self.registry
        )
        self.spool_depth = Gauge(
            "facmon_gateway_spool_depth", "Messages waiting for the broker", registry=self.registry
        )
        self.dropped = Gauge(
            "facmon_gateway_dropped", "Messages dropped (spool full)", registry=self.registry
        )
        self.reconnects = Gauge(
            "facmon_gateway_uplink_reconnects", "Uplink reconnections", registry=self.registry
        )
        self.devices = Gauge(
            "facmon_gateway_devices",
            "Devices by communication state",
            ["state"],
            registry=self.registry,
        )
