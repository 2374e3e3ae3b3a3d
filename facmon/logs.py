"""Logging set-up shared by every facmon process."""

from __future__ import annotations

import logging
import sys
from typing import Literal

import orjson

LogFormat = Literal["text", "json"]


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def setup_logging(level: str = "info", fmt: LogFormat = "text") -> None:
    """Send log records to stderr as text lines or JSON objects, at ``level`` and above.

    Chatty libraries (Alembic's migration steps, HTTP clients, the MQTT and Modbus stacks) log
    only warnings and errors unless ``level`` is debug (Alembic) or always (the others).
    """
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in (
        *("pymodbus", "amqtt", "transitions", "httpx", "httpcore"),
        *("uvicorn.access", "alembic"),
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # Migrations say what they do at debug level; otherwise only their warnings and errors.
    if root.level <= logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.INFO)
