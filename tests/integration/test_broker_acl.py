"""The shipped broker configuration (facmon/deploy/mosquitto) on a real Mosquitto.

Nobody gets in without an account; a gateway publishes only under its own
``{site}/{gateway}`` and reads only its own commands; collectors and the API read and
publish only what they need. The real gateway and collector work through it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from bench.harness.mosquitto import MosquittoServer
from bench.harness.servers import HOST
from facmon.net import free_port
from tests.integration.processes import FacmonProcess, readings_stored, wait_for

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "facmon" / "deploy" / "mosquitto"
ACCOUNTS = {"hq/gw-a": "pw-a", "hq/gw-b": "pw-b", "collector": "pw-c", "api": "pw-api"}
NOT_AUTHORIZED = 0x87


class ShippedBroker(MosquittoServer):
    """Mosquitto run with the shipped mosquitto.conf and acl, on a free loopback port."""

    def _write_config(self) -> None:
        self.persistence_dir.mkdir(parents=True, exist_ok=True)
        passwd = self.workdir / "passwd"
        passwd.unlink(missing_ok=True)
        for number, (user, password) in enumerate(ACCOUNTS.items()):
            create = ["-c"] if number == 0 else []
            subprocess.run(
                ["mosquitto_passwd", "-b", *create, str(passwd), user, password], check=True
            )
        local = {
            "listener": f"listener {self.port} {HOST}",
            "password_file": f"password_file {passwd}",
            "acl_file": f"acl_file {DEPLOY / 'acl'}",  # the shipped file, as it is
            "persistence_location": f"persistence_location {self.persistence_dir}/",
            "log_dest": f"log_dest file {self.log_path}",
        }
        shipped = (DEPLOY / "mosquitto.conf").read_text().splitlines()
        lines = [local.get(line.split(" ", 1)[0], line) for line in shipped]
        if os.geteuid() == 0:
            lines.append("user root")
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _is_ready(self) -> bool:
        """The broker answers a CONNECT (refusing it: no account is given)."""
        connect = b"\x10\x12\x00\x04MQTT\x04\x02\x00\x0a\x00\x06probe!"
        try:
            with socket.create_connection((HOST, self.port), timeout=1.0) as sock:
                sock.sendall(connect)
                return sock.recv(4)[:2] == b"\x20\x02"
        except OSError:
            return False


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShippedBroker]:
    with ShippedBroker(tmp_path_factory.mktemp("shipped-broker")) as server:
        yield server


class Client:
    """An MQTT 5 client that records what the broker answered and what it delivered."""

    def __init__(self, broker: ShippedBroker, user: str | None, password: str | None) -> None:
        self.connected = threading.Event()
        self.refused: ReasonCode | None = None
        self.acks: dict[int, ReasonCode] = {}
        self.granted: dict[int, list[ReasonCode]] = {}
        self.received: list[tuple[str, bytes]] = []
        self.mqtt = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if user is not None:
            self.mqtt.username_pw_set(user, password)
        self.mqtt.on_connect = self._on_connect
        self.mqtt.on_publish = self._on_publish
        self.mqtt.on_subscribe = self._on_subscribe
        self.mqtt.on_message = lambda _c, _u, m: self.received.append((m.topic, m.payload))
        self.mqtt.connect(HOST, broker.port)
        self.mqtt.loop_start()
        wait_for(lambda: self.connected.is_set() or self.refused is not None or None, 10, "CONNACK")

    def _on_connect(self, *args: Any) -> None:
        reason: ReasonCode = args[3]
        if reason.is_failure:
            self.refused = reason
        else:
            self.connected.set()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        self.acks[mid] = reason

    def _on_subscribe(
        self, _c: Any, _u: Any, mid: int, reasons: list[ReasonCode], _p: Properties
    ) -> None:
        self.granted[mid] = reasons

    def publish(self, topic: str, payload: bytes = b"{}") -> int:
        """Publish at QoS 1; return the PUBACK's reason code."""
        mid = self.mqtt.publish(topic, payload, qos=1).mid
        return wait_for(lambda: self.acks.get(mid), 10, f"PUBACK for {topic}").value

    def subscribe(self, topic: str) -> int:
        """Subscribe at QoS 1; return the SUBACK's reason code."""
        _, mid = self.mqtt.subscribe(topic, qos=1)
        assert mid is not None
        return wait_for(lambda: self.granted.get(mid), 10, f"SUBACK for {topic}")[0].value

    def close(self) -> None:
        self.mqtt.disconnect()
        self.mqtt.loop_stop()


@pytest.fixture
def clients(broker: ShippedBroker) -> Iterator[dict[str, Client]]:
    made = {user: Client(broker, user, password) for user, password in ACCOUNTS.items()}
    yield made
    for client in made.values():
        client.close()


def test_nobody_gets_in_without_an_account(broker: ShippedBroker) -> None:
    anonymous = Client(broker, None, None)
    wrong = Client(broker, "hq/gw-a", "guess")
    for client in (anonymous, wrong):
        assert client.refused is not None
        assert client.refused.value in (0x86, NOT_AUTHORIZED)  # bad user name or password
    for client in (anonymous, wrong):
        client.close()


def test_a_gateway_publishes_only_as_itself(clients: dict[str, Client]) -> None:
    gateway, collector = clients["hq/gw-a"], clients["collector"]
    assert collector.subscribe("facmon/v1/#") < 0x80
    own = "facmon/v1/hq/gw-a/ups-1/data"
    assert gateway.publish(own, b'{"own": 1}') < 0x80
    assert gateway.publish("facmon/v1/hq/gw-a/status", b"{}") < 0x80
    spoofed = [
        "facmon/v1/hq/gw-b/ups-1/data",  # another gateway of the site
        "facmon/v1/hq/gw-b/status",  # its presence
        "facmon/v1/other-site/gw-a/ups-1/data",  # same gateway name, another site
        "facmon/v1/alerts/hq",  # the API's
        "facmon/v1/deadletter",  # the collectors'
        "facmon/v1/hq/gw-a-2/ups-1/data",  # a name that starts like its own
        "facmon/v2/hq/gw-a/ups-1/data",  # another contract version
    ]
    for topic in spoofed:
        assert gateway.publish(topic, b'{"spoof": 1}') == NOT_AUTHORIZED, topic
    time.sleep(0.5)
    delivered = [topic for topic, _ in collector.received]
    assert own in delivered
    assert not set(spoofed) & set(delivered)


def test_each_service_reads_and_writes_only_what_it_needs(clients: dict[str, Client]) -> None:
    gateway, other, collector, api = (
        clients[u] for u in ("hq/gw-a", "hq/gw-b", "collector", "api")
    )
    # Mosquitto grants any subscription and then delivers only what the reader may read.
    for topic in ("facmon/v1/hq/gw-a/+/cmd", "facmon/v1/hq/gw-b/+/cmd", "facmon/v1/#"):
        assert gateway.subscribe(topic) < 0x80
    assert other.subscribe("facmon/v1/hq/gw-b/+/cmd") < 0x80
    assert collector.subscribe("$share/collectors/facmon/v1/#") < 0x80
    assert other.publish("facmon/v1/hq/gw-a/ups-1/cmd") == NOT_AUTHORIZED  # no commanding
    command = orjson.dumps({"id": "c1", "ts": 1, "point": "setpoint", "value": 22})
    assert api.publish("facmon/v1/hq/gw-a/ups-1/cmd", command) < 0x80
    assert api.publish("facmon/v1/hq/gw-b/ups-9/cmd", command) < 0x80
    assert other.publish("facmon/v1/hq/gw-b/ups-9/data") < 0x80
    assert api.publish("facmon/v1/alerts/hq") < 0x80
    assert api.publish("facmon/v1/usage/hq") < 0x80
    assert api.publish("facmon/v1/meters/hq") < 0x80
    assert api.publish("facmon/v1/hq/gw-a/ups-1/data") == NOT_AUTHORIZED
    assert collector.publish("facmon/v1/deadletter") < 0x80
    assert collector.publish("facmon/v1/hq/gw-a/ups-1/data") == NOT_AUTHORIZED
    assert collector.publish("facmon/v1/alerts/hq") == NOT_AUTHORIZED
    wait_for(lambda: other.received or None, 10, "gw-b's command at gw-b")
    wait_for(lambda: collector.received or None, 10, "data at the shared subscription")
    time.sleep(0.5)
    # gw-a hears its own command only: not gw-b's, nor anyone's data, alerts or dead letters.
    assert {topic for topic, _ in gateway.received} == {"facmon/v1/hq/gw-a/ups-1/cmd"}


def test_the_gateway_and_collector_work_through_it(broker: ShippedBroker, tmp_path: Path) -> None:
    sim_port = free_port()
    sim = FacmonProcess(
        tmp_path,
        "sim",
        {"endpoints": [{"port": sim_port, "devices": [{"id": "th-1", "profile": "th-sensor"}]}]},
    )
    url = f"mqtt://{HOST}:{broker.port}"
    gateway = FacmonProcess(
        tmp_path,
        "gateway",
        {
            "site": "hq",
            "gateway": "gw-a",
            "uplink": {"url": url, "username": "hq/gw-a"},
            "spool": {"path": str(tmp_path / "spool.db")},
            "buses": [{"id": "line", "host": HOST, "port": sim_port}],
            "devices": [{"id": "th-1", "profile": "th-sensor", "bus": "line", "interval_s": 0.5}],
        },
        env={"FACMON_UPLINK__PASSWORD": ACCOUNTS["hq/gw-a"]},
    )
    collector = FacmonProcess(
        tmp_path,
        "collector",
        {
            "id": "c-acl",
            "broker": {"url": url, "username": "collector"},
            "sink": {"kind": "sqlite", "path": str(tmp_path / "telemetry.db")},
            "batch_max_delay_s": 0.1,
        },
        env={"FACMON_BROKER__PASSWORD": ACCOUNTS["collector"]},
    )
    for process in (sim, collector, gateway):
        process.start()
    try:
        wait_for(
            lambda: readings_stored(tmp_path / "telemetry.db", 10),
            30,
            "readings stored through the shipped ACL",
            [gateway, collector],
        )
        assert "not authori" not in gateway.log(100_000).lower()
        logs = gateway.log(10_000_000) + collector.log(10_000_000)
        assert "Traceback" not in logs
        assert ACCOUNTS["hq/gw-a"] not in logs
        assert ACCOUNTS["collector"] not in logs
    finally:
        for process in (sim, gateway, collector):
            process.kill()
