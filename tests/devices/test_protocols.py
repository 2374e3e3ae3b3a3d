"""The protocol registry: every bus kind and endpoint framing is found, an unknown one refused."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from devices.fieldbus import BusConfig
from devices.modbus.config import SerialBus, TcpBus
from devices.protocols import BUS_KINDS, PROTOCOLS, bus_config_type, bus_of, endpoint_simulator

BUSES: TypeAdapter[BusConfig] = TypeAdapter(bus_config_type())


def test_a_bus_without_kind_is_modbus_tcp_and_each_kind_picks_its_model() -> None:
    assert type(BUSES.validate_python({"id": "a", "host": "h"})) is TcpBus
    serial = BUSES.validate_python({"id": "b", "kind": "rtu", "port": "/dev/ttyS0"})
    assert type(serial) is SerialBus
    assert bus_of(serial)[0] is PROTOCOLS["modbus"]


def test_an_unknown_bus_kind_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="'tcp', 'rtu-over-tcp', 'rtu'"):
        BUSES.validate_python({"id": "a", "kind": "modbus-udp", "host": "h"})


@pytest.mark.parametrize("kind", sorted(BUS_KINDS))
def test_every_bus_kind_opens_an_owner_that_has_not_connected(kind: str) -> None:
    protocol, bus = BUS_KINDS[kind]
    settings = {"port": "/dev/ttyS0"} if kind == "rtu" else {"host": "127.0.0.1"}
    config = bus.config.model_validate({"id": "x", "kind": kind, **settings})
    owner = bus.open(config)
    assert owner.requests == 0
    owner.close()
    assert protocol.name in PROTOCOLS


def test_endpoint_framings_have_a_simulator_and_an_unknown_one_is_an_error() -> None:
    assert endpoint_simulator("tcp") is endpoint_simulator("rtu")
    with pytest.raises(KeyError, match="snmp"):
        endpoint_simulator("snmp")
