"""Production files: compose validates with Debian's docker-compose; shipped configs load."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from api.config import ApiConfig
from collector.config import CollectorConfig
from devices.sim.model import SimConfig
from devices.sim.runner import build_simulators
from facmon.config import load_config
from gateway.config import GatewayConfig
from gateway.main import compile_plans

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "facmon" / "deploy"
SECRETS = [
    "GATEWAY_MQTT_PASSWORD",
    "COLLECTOR_MQTT_PASSWORD",
    "API_MQTT_PASSWORD",
    "INFLUXDB_ADMIN_PASSWORD",
    "INFLUXDB_FACMON_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "POSTGRES_PASSWORD",
    "API_ADMIN_TOKEN",
]


def compose(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: run tests/setup-services.sh"
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [
            binary,
            "--project-directory",
            str(ROOT),
            "--env-file",
            str(env_file),
            "-f",
            str(ROOT / "docker-compose.yml"),
            *args,
        ],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=120,
        check=False,
    )


def test_compose_config_is_valid_when_every_secret_is_set(tmp_path: Path) -> None:
    env = {name: f"secret-{i}" for i, name in enumerate(SECRETS)}
    result = compose(tmp_path, env, "config", "-q")
    assert result.returncode == 0, result.stderr
    services = compose(tmp_path, env, "config", "--services").stdout.split()
    assert {"mosquitto", "influxdb", "grafana", "postgres", "gateway", "collector", "api"} <= set(
        services
    )


@pytest.mark.parametrize("missing", SECRETS)
def test_compose_refuses_to_start_without_each_secret(tmp_path: Path, missing: str) -> None:
    env = {name: "x" for name in SECRETS if name != missing}
    result = compose(tmp_path, env, "config", "-q")
    assert result.returncode != 0
    assert f"set {missing} in .env" in result.stderr


def test_no_password_is_written_in_any_shipped_file() -> None:
    for path in [ROOT / "docker-compose.yml", ROOT / ".env.example", *DEPLOY.rglob("*")]:
        if path.is_file():
            for line in path.read_text().splitlines():
                if (
                    "password" in line.lower()
                    and ":" in line
                    and "${" not in line
                    and not line.lstrip().startswith("#")
                ):
                    value = line.split(":", 1)[1].strip().strip("\"'")
                    assert value in {"", "|", ">"} or value.startswith(
                        ("$", "mosquitto_passwd", "/")
                    ), f"{path}: {line}"


def test_shipped_component_configs_load() -> None:
    gateway = load_config(GatewayConfig, DEPLOY / "gateway.yaml", env={})
    assert compile_plans(gateway)
    load_config(CollectorConfig, DEPLOY / "collector.yaml", env={})
    load_config(ApiConfig, DEPLOY / "api.yaml", env={})
    assert build_simulators(load_config(SimConfig, DEPLOY / "sim.yaml", env={}))
