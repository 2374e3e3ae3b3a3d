"""Simulators built from the same profiles the gateway reads."""
