"""Processes and servers that benchmarks and tests both start.

Real Mosquitto, InfluxDB and PostgreSQL servers on free ports (:mod:`bench.harness.mosquitto`,
:mod:`bench.harness.influxdb`, :mod:`bench.harness.postgres`, on the lifecycle of
:mod:`bench.harness.servers`), and the benchmark's own child processes and their readings
from ``/proc`` (:mod:`bench.harness.processes`). Tests may import this package; nothing under
``bench/`` imports ``tests``.
"""
