"""A real Mosquitto 2.x broker on a free port, for tests and benchmarks."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from bench.harness.servers import HOST, ServiceProcess, find_executable


class MosquittoServer(ServiceProcess):
    """A Mosquitto 2.x broker with anonymous access and on-disk persistence.

    Sessions, subscriptions, retained and queued QoS 1/2 messages are written
    to ``persistence_dir`` on a clean shutdown (``stop()``) and reloaded by
    the next ``start()``.
    """

    name = "mosquitto"
    start_timeout = 15.0

    @property
    def url(self) -> str:
        """Broker URL, ``mqtt://127.0.0.1:PORT``."""
        return f"mqtt://{HOST}:{self.port}"

    @property
    def config_path(self) -> Path:
        """The generated ``mosquitto.conf``."""
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        """The broker's own log file (``log_dest file``)."""
        return self.workdir / "mosquitto.log"

    @property
    def persistence_dir(self) -> Path:
        """Directory holding ``mosquitto.db``."""
        return self.workdir / "persistence"

    def _log_paths(self) -> list[Path]:
        return [self.log_path, self.output_path]

    def _command(self) -> list[str]:
        return [find_executable("mosquitto", "mosquitto"), "-c", str(self.config_path)]

    def _write_config(self) -> None:
        self.persistence_dir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} {HOST}",
            "allow_anonymous true",
            "persistence true",
            # The trailing slash is required: Mosquitto concatenates the
            # location and persistence_file without inserting a separator.
            f"persistence_location {self.persistence_dir}/",
            "max_queued_messages 1000000",
            # 0 = unlimited in-flight QoS 1/2 messages per client.
            "max_inflight_messages 0",
            f"log_dest file {self.log_path}",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        ]
        if os.geteuid() == 0:
            # Started as root, Mosquitto otherwise drops to the "mosquitto"
            # user, which cannot write the log or the persistence database in
            # pytest's 0700 temp dirs (the save at shutdown fails silently
            # except for a "Permission denied" on stdout).
            lines.append("user root")
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _is_ready(self) -> bool:
        """Complete an MQTT 3.1.1 CONNECT/CONNACK with a clean session."""
        client_id = b"facmon-readiness-probe"
        variable_header = b"\x00\x04MQTT\x04\x02\x00\x0a"  # v3.1.1, clean, 10 s
        payload = len(client_id).to_bytes(2, "big") + client_id
        body = variable_header + payload
        connect = bytes([0x10, len(body)]) + body
        try:
            with socket.create_connection((HOST, self.port), timeout=1.0) as sock:
                sock.sendall(connect)
                connack = sock.recv(4)
                sock.sendall(b"\xe0\x00")  # DISCONNECT
        except OSError:
            return False
        return connack == b"\x20\x02\x00\x00"


class DetachedMosquitto(MosquittoServer):
    """Mosquitto in a session of its own: the terminal's Ctrl-C reaches only the benchmark."""

    def _command(self) -> list[str]:
        return ["setsid", *super()._command()]  # not a group leader: setsid execs in place
