"""Grafana dashboards as code (grafanalib) and their provisioning files."""
