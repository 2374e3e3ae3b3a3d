"""thingsboard-gateway, the reference: installed in a venv of its own, configured for the same
fleet as facmon, and answered its ``getSessionLimits`` RPC as a ThingsBoard server would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from bench.gateway.fleet import REGISTERS, Fleet

CACHE = Path(__file__).resolve().parent / ".cache"
"""What the gateway benchmark keeps between runs (gitignored): this venv, the run history."""
TB_VERSION = "3.8.5"
TB_PYMODBUS = "3.9.2"  # what thingsboard-gateway 3.8.x insists on (it pip-installs it otherwise)
TB_VENV = CACHE / "tbgw-venv"
# thingsboard-gateway collapses at FLEET_INTERVAL_S with one request per key (its polls pile
# up); at this period it keeps up with the same fleet, so this run shows its capacity (tried
# on this machine: 0.5, 0.6 and 0.8 s delivered 2,100-2,600 points/s, 1 s 4,000-4,400).
TB_INTERVAL_S = 1.0
SESSION_LIMITS = {
    "maxPayloadSize": 65536,
    "maxInflightMessages": 100,
    "rateLimits": {},
    "gatewayRateLimits": {},
}


class SessionLimitsResponder:
    """Answers thingsboard-gateway's ``getSessionLimits`` RPC as a ThingsBoard server would.

    Without an answer the gateway holds all telemetry back.
    """

    def __init__(self, port: int) -> None:
        self.requests = 0
        self.ready = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-tb-server-{os.getpid()}"
        )
        self.client.on_connect = lambda c, *_: c.subscribe("v1/devices/me/rpc/request/+", qos=1)
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = self._answer
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not self.ready.wait(10):
            raise RuntimeError("responder could not subscribe")

    def _answer(self, client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.requests += 1
        request_id = msg.topic.rsplit("/", 1)[1]
        client.publish(
            f"v1/devices/me/rpc/response/{request_id}", json.dumps(SESSION_LIMITS), qos=1
        )

    def close(self) -> None:
        """Stop the network loop and disconnect."""
        self.client.loop_stop()
        self.client.disconnect()


def write_tb(workdir: Path, fleet: Fleet, broker_port: int, interval: float, wide: bool) -> Path:
    """thingsboard-gateway's config folder: tb_gateway.json, modbus.json, logs.json."""
    config_dir = workdir / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    no_limit = "0:0,"
    main = {
        "thingsboard": {
            "host": "127.0.0.1",
            "port": broker_port,
            "remoteShell": False,
            "remoteConfiguration": False,
            "latencyDebugMode": False,
            "statistics": {"enable": False, "statsSendPeriodInSeconds": 3600},
            "deviceFiltering": {"enable": False},
            "maxPayloadSizeBytes": 8196,
            "minPackSendDelayMS": 50,
            "minPackSizeToSend": 500,
            "checkConnectorsConfigurationInSeconds": 3600,
            "handleDeviceRenaming": True,
            "security": {"type": "accessToken", "accessToken": "bench-token"},
            "qos": 1,
            "reportStrategy": {"type": "ON_RECEIVED"},
            "checkingDeviceActivity": {"checkDeviceInactivity": False},
            "rateLimits": no_limit,
            "dpRateLimits": no_limit,
            "messagesRateLimits": no_limit,
            "deviceMessagesRateLimits": no_limit,
            "deviceRateLimits": no_limit,
            "deviceDpRateLimits": no_limit,
        },
        "storage": {"type": "memory", "read_records_count": 100, "max_records_count": 1_000_000},
        "grpc": {"enabled": False},
        "connectors": [{"type": "modbus", "name": "Modbus", "configuration": "modbus.json"}],
    }
    if wide:
        timeseries = [
            {
                "tag": "r${address}",
                "type": "16uint",
                "functionCode": 3,
                "objectsCount": 1,
                "address": f"0-{REGISTERS - 1}",
                "maxRegistersPerRequest": REGISTERS,
            }
        ]
    else:
        timeseries = [
            {
                "tag": f"r{i:03d}",
                "type": "16uint",
                "functionCode": 3,
                "objectsCount": 1,
                "address": i,
            }
            for i in range(REGISTERS)
        ]
    slaves = [
        {
            "host": "127.0.0.1",
            "port": port,
            "type": "tcp",
            "method": "socket",
            "unitId": u,
            "deviceName": f"e{e}-u{u}",
            "deviceType": "bench",
            "timeout": 1,
            "byteOrder": "BIG",
            "wordOrder": "BIG",
            "retries": 0,
            "pollPeriod": int(interval * 1000),
            "connectAttemptTimeMs": 5000,
            "connectAttemptCount": 5,
            "waitAfterFailedAttemptsMs": 300000,
            "attributes": [],
            "timeseries": timeseries,
            "attributeUpdates": [],
            "rpc": [],
        }
        for e, port, u in fleet.devices
    ]
    logs = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "f": {"format": "%(asctime)s |%(levelname)s| %(name)s %(module)s: %(message)s"}
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "f",
                "stream": "ext://sys.stdout",
            }
        },
        "loggers": {
            name: {"handlers": ["console"], "level": "WARNING", "propagate": False}
            for name in (
                "service",
                "connector",
                "converter",
                "tb_connection",
                "storage",
                "extension",
                "database",
                "Modbus",
            )
        },
        "root": {"level": "ERROR", "handlers": ["console"]},
    }
    (config_dir / "tb_gateway.json").write_text(json.dumps(main, indent=2))
    (config_dir / "modbus.json").write_text(json.dumps({"master": {"slaves": slaves}}, indent=2))
    (config_dir / "logs.json").write_text(json.dumps(logs, indent=2))
    return config_dir


def ensure_tb() -> Path:
    """thingsboard-gateway and the pymodbus it pins, in their own venv (gitignored)."""
    python = TB_VENV / "bin" / "python"
    probe = (
        "import importlib.metadata as m; "
        "print(m.version('thingsboard-gateway'), m.version('pymodbus'), m.version('pyserial-asyncio'))"
    )
    ok = python.exists() and subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, check=False
    ).stdout.split() == [TB_VERSION, TB_PYMODBUS, "0.6"]
    if not ok:
        print(f"installing thingsboard-gateway {TB_VERSION} into {TB_VENV} ...", flush=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(TB_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"thingsboard-gateway=={TB_VERSION}",
                f"pymodbus=={TB_PYMODBUS}",
                "pyserial",
                "pyserial-asyncio==0.6",
            ],
            check=True,
        )
    return TB_VENV / "bin" / "thingsboard-gateway"
