"""Reproducible benchmarks that report ratios against references measured in the same run."""
