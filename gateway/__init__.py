"""The edge gateway: polls devices, turns readings into envelopes and sends them uplink."""
