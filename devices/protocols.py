"""The field protocols this build speaks: the one registry the gateway and simulator look up.

Adding a protocol is one line in :data:`PROTOCOLS`; every lookup of an unknown kind is an
error when the configuration is loaded.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Discriminator, Tag

from devices.fieldbus import BusKind, FieldProtocol
from devices.modbus.protocol import MODBUS

PROTOCOLS: dict[str, FieldProtocol] = {p.name: p for p in (MODBUS,)}
"""Every field protocol, by the name a profile's ``protocol`` gives."""

DEFAULT_BUS_KIND = "tcp"
"""The kind of a bus whose config names none (Modbus TCP, as before kinds grew)."""


def _bus_kinds() -> dict[str, tuple[FieldProtocol, BusKind]]:
    kinds: dict[str, tuple[FieldProtocol, BusKind]] = {}
    for protocol in PROTOCOLS.values():
        for bus in protocol.buses:
            if bus.kind in kinds:
                owner = kinds[bus.kind][0].name
                raise ValueError(f"bus kind {bus.kind!r} of {protocol.name} is {owner}'s already")
            kinds[bus.kind] = (protocol, bus)
    return kinds


BUS_KINDS = _bus_kinds()
"""Every bus kind of the gateway's ``buses`` list: its protocol and its config and owner."""


def _bus_kind(value: object) -> str:
    # the name shows in the error for an unknown kind ("found using _bus_kind()")
    if isinstance(value, dict):
        return str(value.get("kind", DEFAULT_BUS_KIND))
    return str(getattr(value, "kind", DEFAULT_BUS_KIND))


def bus_of(config: object) -> tuple[FieldProtocol, BusKind]:
    """Return the protocol and bus kind of a validated bus config."""
    return BUS_KINDS[_bus_kind(config)]


def bus_config_type() -> Any:
    """Return the pydantic type of one entry of ``buses``: the union of every kind's model.

    ``kind`` picks the model; an unknown kind fails validation naming the known ones.
    """
    members = [Annotated[bus.config, Tag(kind)] for kind, (_, bus) in BUS_KINDS.items()]
    return Annotated[functools.reduce(operator.or_, members), Discriminator(_bus_kind)]


def endpoint_simulator(framing: str) -> Callable[..., Any]:
    """Return the simulator factory of an endpoint framing.

    Raises:
        KeyError: no protocol simulates that framing.
    """
    for protocol in PROTOCOLS.values():
        if framing in protocol.simulators:
            return protocol.simulators[framing]
    raise KeyError(f"no protocol simulates endpoints framed {framing!r}")
