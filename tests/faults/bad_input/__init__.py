"""Hostile input at every entry point that reads bytes from outside: a corpus built by hypothesis.

Each entry point is fed random mutations of a valid example and must answer with its own
documented error, whose message names what was wrong; where it handles a batch, the good data
around the bad still comes through. One module per entry point; no network, no servers.
"""
