"""Configuration loading: YAML, environment overrides, and errors naming file, line and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from facmon.config import ConfigError, load_config
from gateway.config import GatewayConfig

GOOD = """\
site: hq
gateway: gw1
uplink:
  url: mqtt://127.0.0.1:1883
buses:
  - {id: line-1, host: 127.0.0.1, port: 5020}
devices:
  - {id: ups-1, profile: ups, bus: line-1, unit: 1}
  - {id: th-1, profile: th-sensor, bus: line-1, unit: 2, interval_s: 2}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return path


def test_good_config_loads(tmp_path: Path) -> None:
    config = load_config(GatewayConfig, write(tmp_path, GOOD), env={})
    assert config.devices[1].interval_s == 2
    assert config.uplink.port == 1883


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    env = {
        "FACMON_UPLINK__URL": "mqtt://broker:1884",
        "FACMON_DEVICES__1__INTERVAL_S": "0.5",
        "FACMON_LOG_LEVEL": "debug",  # not a gateway field: ignored
        "OTHER": "x",
    }
    config = load_config(GatewayConfig, write(tmp_path, GOOD), env=env)
    assert config.uplink.host == "broker"
    assert config.uplink.port == 1884
    assert config.devices[1].interval_s == 0.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("unit: 2", "unit: 300"),
            ":9: devices[1].unit: Input should be less than or equal to 255",
        ),
        (
            GOOD.replace("bus: line-1, unit: 2", "bus: line-9, unit: 2"),
            ":9: devices[1].bus: no bus 'line-9' (buses: line-1)",
        ),
        (
            GOOD.replace("id: th-1", "id: ups-1"),
            ":9: devices[1].id: device id 'ups-1' is used twice",
        ),
        (GOOD.replace("mqtt://", "http://"), ":4: uplink.url: broker URL must start with mqtt://"),
        (GOOD.replace("site: hq", "site: HQ"), ":1: site: String should match pattern"),
        (GOOD.replace("gateway: gw1\n", ""), ":1: gateway: Field required"),
        (GOOD.replace("profile: ups, ", ""), ":8: devices[0].profile: Field required"),
        (GOOD + "colour: red\n", ":10: colour: Extra inputs are not permitted"),
        (
            GOOD.replace("interval_s: 2", "interval_s: fast"),
            ":9: devices[1].interval_s: Input should be a valid number",
        ),
        ("site: [\n", ":2: invalid YAML"),
        ("- a\n- b\n", ": the top level must be a mapping"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(GatewayConfig, path, env={})
    assert f"{path}{expected}" in str(caught.value)


def test_a_control_character_echoed_in_an_error_is_escaped(tmp_path: Path) -> None:
    # "\x1e" is a line boundary for str.splitlines: echoed raw, it broke the error in two
    path = write(tmp_path, GOOD.replace("{id: line-1,", '{id: line-1, kind: "t\\x1ec\\x1b[2Jp",'))
    with pytest.raises(ConfigError) as caught:
        load_config(GatewayConfig, path, env={})
    message = str(caught.value)
    assert message.splitlines() == [message]
    assert message.startswith(f"{path}:6: buses[0]: ")
    assert "\\x1e" in message
    assert message.isprintable()


def test_environment_errors_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"FACMON_UPLINK__KEEPALIVE_S \(environment\): uplink.keepalive_s"
    ):
        load_config(GatewayConfig, write(tmp_path, GOOD), env={"FACMON_UPLINK__KEEPALIVE_S": "1"})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(GatewayConfig, tmp_path / "absent.yaml", env={})


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "launcher", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_exits_2_naming_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("port: 5020", "port: 70000"))
    result = run_cli("gateway", "--config", str(path))
    assert result.returncode == 2
    assert f"{path}:6: buses[0].port: Input should be less than or equal to 65535" in result.stderr


def test_cli_exits_2_for_an_unknown_profile(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("profile: ups", "profile: no-such-thing"))
    result = run_cli("gateway", "--config", str(path))
    assert result.returncode == 2
    assert "devices[0].profile: no profile named 'no-such-thing'" in result.stderr


@pytest.mark.parametrize("command", ["collector", "api", "sim"])
def test_every_service_validates_its_config(tmp_path: Path, command: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("no_such_setting: 1\n")
    result = run_cli(command, "--config", str(path))
    assert result.returncode == 2
    assert f"{path}:1: no_such_setting: Extra inputs are not permitted" in result.stderr


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("facmon ")


def test_bus_kinds_and_templates(tmp_path: Path) -> None:
    text = (
        GOOD
        + """\
  - {id: line-2-dev, profile: th-sensor, bus: line-2, unit: 9}
templates:
  - {id: "meter-{unit:02d}", profile: th-sensor, bus: line-3, units: "1-3,7", interval_s: 30}
"""
    )
    text = text.replace(
        "buses:\n",
        "buses:\n  - {id: line-2, kind: rtu-over-tcp, host: 10.0.0.9, port: 4001}\n"
        "  - {id: line-3, kind: rtu, port: /dev/ttyUSB0, baudrate: 19200, parity: E}\n",
    )
    config = load_config(GatewayConfig, write(tmp_path, text), env={})
    assert [b.kind for b in config.buses] == ["rtu-over-tcp", "rtu", "tcp"]
    devices = config.all_devices()
    assert [d.id for d in devices][-4:] == ["meter-01", "meter-02", "meter-03", "meter-07"]
    assert devices[-1].unit == 7
    assert devices[-1].interval_s == 30


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("kind: rtu,", "kind: rtu, baudrate: 7,"),
            ":7: buses[1].baudrate: Input should be greater than or equal to 300",
        ),
        (
            ("kind: rtu,", "kind: modbus-udp,"),
            ":7: buses[1]: Input tag 'modbus-udp' found using _bus_kind() does not match",
        ),
        (
            ('units: "1-3,7"', 'units: "1-3,x"'),
            ":13: templates[0].units: units '1-3,x' must look like",
        ),
        (
            ('units: "1-3,7"', 'units: "1-3,300"'),
            ":13: templates[0].units: unit id 300 is outside 0..255",
        ),
        (
            ('"meter-{unit:02d}"', '"ups-{unit}"'),
            ":13: templates[0].id: device id 'ups-1' is used twice",
        ),
    ],
)
def test_bus_and_template_errors(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    text = GOOD.replace(
        "buses:\n",
        "buses:\n  - {id: line-2, kind: rtu-over-tcp, host: h}\n  - {id: line-3, kind: rtu, port: /dev/ttyS0}\n",
    )
    text += 'templates:\n  - {id: "meter-{unit:02d}", profile: th-sensor, bus: line-3, units: "1-3,7"}\n'
    path = write(tmp_path, text.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_config(GatewayConfig, path, env={})
    assert f"{path}{expected}" in str(caught.value)
