"""Processes and servers that benchmarks and tests both start.

Tests may import this package; nothing under ``bench/`` imports ``tests``.
"""
