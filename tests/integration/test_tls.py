"""TLS on loopback with certificates made for the test: the broker, the API, and no secret
in any log.

A private CA signs a certificate for 127.0.0.1. The gateway and the collector reach a
Mosquitto TLS listener through it (``mqtts://`` with ``ca_file``); a client without the CA
is refused. The API serves HTTPS with it, slows down token guessing (429, Retry-After), and
writes neither the tokens it holds nor those it refuses to its log.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from api.registry.tokens import new_token
from bench.harness.mosquitto import MosquittoServer
from bench.harness.servers import HOST
from facmon.net import free_port
from tests.integration.processes import FacmonProcess, readings_stored, wait_for

pytestmark = pytest.mark.integration


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate it signed for 127.0.0.1 and localhost: (ca, cert, key)."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=facmon test CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=127.0.0.1")  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext")  # fmt: skip
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


class TlsBroker(MosquittoServer):
    """Mosquitto with one TLS listener using the test's certificate."""

    def __init__(self, workdir: Path, certificates: tuple[Path, Path, Path]) -> None:
        super().__init__(workdir)
        self.certificates = certificates

    @property
    def url(self) -> str:
        """``mqtts://127.0.0.1:PORT``."""
        return f"mqtts://{HOST}:{self.port}"

    def _write_config(self) -> None:
        super()._write_config()
        ca, cert, key = self.certificates
        text = self.config_path.read_text()
        text += f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\ntls_version tlsv1.2\n"
        self.config_path.write_text(text)

    def _is_ready(self) -> bool:
        context = ssl.create_default_context(cafile=str(self.certificates[0]))
        try:
            with (
                socket.create_connection((HOST, self.port), timeout=1.0) as raw,
                context.wrap_socket(raw, server_hostname=HOST) as sock,
            ):
                sock.sendall(b"\x10\x12\x00\x04MQTT\x04\x02\x00\x0a\x00\x06probe!")
                return sock.recv(4) == b"\x20\x02\x00\x00"
        except OSError:
            return False


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


def test_gateway_and_collector_speak_tls_to_the_broker(
    tmp_path: Path, certificates: tuple[Path, Path, Path]
) -> None:
    ca = certificates[0]
    with TlsBroker(tmp_path / "broker", certificates) as broker:
        sim_port = free_port()
        sim = FacmonProcess(
            tmp_path,
            "sim",
            {
                "endpoints": [
                    {"port": sim_port, "devices": [{"id": "th-1", "profile": "th-sensor"}]}
                ]
            },
        )
        gateway = FacmonProcess(
            tmp_path,
            "gateway",
            {
                "site": "hq",
                "gateway": "gw-tls",
                "uplink": {"url": broker.url, "ca_file": str(ca)},
                "spool": {"path": str(tmp_path / "spool.db")},
                "buses": [{"id": "line", "host": HOST, "port": sim_port}],
                "devices": [
                    {"id": "th-1", "profile": "th-sensor", "bus": "line", "interval_s": 0.5}
                ],
            },
        )
        collector = FacmonProcess(
            tmp_path,
            "collector",
            {
                "id": "c-tls",
                "broker": {"url": broker.url, "ca_file": str(ca)},
                "sink": {"kind": "sqlite", "path": str(tmp_path / "telemetry.db")},
                "batch_max_delay_s": 0.1,
            },
        )
        (tmp_path / "stranger").mkdir()
        stranger = FacmonProcess(  # no ca_file: the system's CAs do not know ours
            tmp_path / "stranger",
            "collector",
            {
                "id": "c-stranger",
                "broker": {"url": broker.url},
                "sink": {"kind": "sqlite", "path": str(tmp_path / "stranger.db")},
            },
        )
        for process in (sim, collector, stranger, gateway):
            process.start()
        try:
            wait_for(
                lambda: readings_stored(tmp_path / "telemetry.db", 10),
                30,
                "readings stored over TLS",
                [gateway, collector],
            )
            wait_for(
                lambda: "CERTIFICATE_VERIFY_FAILED" in stranger.log(100_000) or None,
                20,
                "the stranger refused",
                [stranger],
            )
            stranger.assert_running()  # it retries; it does not crash
        finally:
            for process in (sim, gateway, collector, stranger):
                process.kill()


def test_the_api_serves_https_slows_guessing_and_logs_no_token(
    tmp_path: Path, mosquitto: MosquittoServer, certificates: tuple[Path, Path, Path]
) -> None:
    ca, cert, key = certificates
    admin, smtp_password, hook_key = new_token(), "smtp-S3cret-pw", "HookKey-9f8e7d"
    port = free_port()
    api = FacmonProcess(
        tmp_path,
        "api",
        {
            "port": port,
            "broker": {"url": mosquitto.url},
            "store": {"kind": "sqlite", "path": str(tmp_path / "telemetry.db")},
            "database": f"sqlite:///{tmp_path / 'registry.db'}",
            "tls": {"certfile": str(cert), "keyfile": str(key)},
            "failed_auth_limit": 3,
            "alerts": {
                "smtp": {
                    "host": HOST,
                    "port": free_port(),
                    "username": "alerts",
                    "sender": "alerts@example.com",
                },
                "routes": [
                    {
                        "name": "ops",
                        "targets": [
                            f"wecom+https://{HOST}:1/cgi-bin/webhook/send?key={hook_key}",
                            "mailto:ops@example.com",
                        ],
                    }
                ],
            },
        },
        env={"FACMON_BOOTSTRAP_TOKEN": admin, "FACMON_ALERTS__SMTP__PASSWORD": smtp_password},
    ).start()
    base = f"https://127.0.0.1:{port}"
    try:
        trusted = ssl.create_default_context(cafile=str(ca))
        with httpx.Client(verify=trusted, timeout=5) as https:

            def up() -> bool | None:
                try:
                    return https.get(f"{base}/healthz").status_code == 200 or None
                except httpx.TransportError:
                    return None

            wait_for(up, 30, "the API over HTTPS", [api])
            headers = {"Authorization": f"Bearer {admin}"}
            assert https.get(f"{base}/api/v1/sites", headers=headers).status_code == 200
            with pytest.raises(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)  # no plain HTTP
            with pytest.raises(httpx.ConnectError):  # a client that does not know the CA
                httpx.get(f"{base}/healthz", timeout=5)

            guesses = [new_token() for _ in range(4)]
            answers = [
                https.get(f"{base}/api/v1/sites", headers={"Authorization": f"Bearer {g}"})
                for g in guesses
            ]
            assert [a.status_code for a in answers] == [401, 401, 401, 429]
            retry = int(answers[-1].headers["retry-after"])
            assert 0 < retry <= 60
            assert "too many failed authentications" in answers[-1].json()["detail"]
            # Locked out: even the right token waits (it may be the guess that succeeded).
            assert https.get(f"{base}/api/v1/sites", headers=headers).status_code == 429
        time.sleep(0.5)
        log = api.log(10_000_000)
        assert "unknown or revoked API token from 127.0.0.1" in log
        for secret in [admin, smtp_password, hook_key, *guesses]:
            assert secret not in log, "a secret was written to the log"
    finally:
        api.kill()
