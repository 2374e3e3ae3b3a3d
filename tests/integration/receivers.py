"""Receivers on loopback for notifications: a webhook and robot endpoint, an SMTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from facmon.net import free_port


@dataclass
class Received:
    """What the loopback receivers got."""

    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    mails: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hooks(self, what: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            found = [body for path, body in self.posts if path.startswith("/hook")]
        return [b for b in found if what is None or b["what"] == what]

    def at(self, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return [(p, b) for p, b in self.posts if p.startswith(prefix)]


def receivers() -> Iterator[tuple[Received, int, int]]:
    """A webhook and robot receiver, and an SMTP server, on loopback: what they got, the
    HTTP port and the SMTP port. Paths containing ``fail`` answer as a refusing robot."""
    got = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with got.lock:
                got.posts.append((self.path, body))
            answer = (
                {"errcode": 310000, "errmsg": "sign not match"}
                if "fail" in self.path
                else {"errcode": 0, "code": 0}
            )
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()

    class Mailbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
            with got.lock:
                got.mails.append(envelope)
            return "250 OK"

    smtp_port = free_port()
    smtp = Controller(Mailbox(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    yield got, http.server_address[1], smtp_port
    smtp.stop()
    http.shutdown()
