"""Server-sent event streams: the response, the event format, and the bound on open streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse

KEEPALIVE_S = 15.0
"""Longest silence on a stream: proxies close connections idle for longer."""
MAX_STREAMS = 100
"""Streams of one kind open at once; more are refused with 503."""


def event(name: str, data: bytes) -> bytes:
    """One event: its name and its data (JSON on one line)."""
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


def counter(app: FastAPI, kind: str) -> dict[str, int]:
    """The count of open streams of ``kind``, refusing a new one beyond ``MAX_STREAMS``.

    Raises:
        HTTPException: 503, too many streams of this kind are open.
    """
    streams: dict[str, int] = app.state.__dict__.setdefault(f"streams_{kind}", {"open": 0})
    if streams["open"] >= MAX_STREAMS:
        raise HTTPException(503, f"{MAX_STREAMS} streams are open already: try again later")
    return streams


def response(events: AsyncIterator[bytes]) -> StreamingResponse:
    """A streaming response of ``events`` that proxies pass through unbuffered."""
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
