"""Downlink commands: write a point the profile marks writable, within its limits, and answer."""

from __future__ import annotations

import logging
import time

from devices.fieldbus import BusError, WriteRefused
from facmon.contract import (
    CommandEnvelope,
    CommandResultEnvelope,
    ContractError,
    Topic,
    TopicKind,
    parse_envelope,
)
from gateway.poller import DevicePoller
from gateway.uplink import Uplink

log = logging.getLogger(__name__)
audit = logging.getLogger("facmon.audit")


class CommandHandler:
    """Executes ``.../cmd`` messages for this gateway's devices; results go to ``.../cmd/result``.

    Every command is logged on the ``facmon.audit`` logger with its outcome.
    """

    def __init__(self, pollers: dict[str, DevicePoller], uplink: Uplink) -> None:
        """Know the devices (by id) and where to send results."""
        self.pollers = pollers
        self.uplink = uplink

    async def handle(self, topic: Topic, payload: bytes) -> None:
        """Execute one command message; never raises for bad input (it answers instead)."""
        device = str(topic.device)
        try:
            command = parse_envelope(CommandEnvelope, payload)
        except ContractError as exc:
            audit.warning("command to %s refused: %s", device, exc.reason)
            return  # without a valid id there is nobody to answer
        error = await self._execute(device, command)
        audit.info(
            "command %s: %s.%s = %r -> %s",
            command.id,
            device,
            command.point,
            command.value,
            error or "ok",
        )
        result = CommandResultEnvelope(
            id=command.id, ts=int(time.time() * 1000), ok=error is None, error=error
        )
        result_topic = Topic(
            TopicKind.CMD_RESULT, topic.site, topic.gateway, topic.device, topic.prefix
        )
        self.uplink.send(result_topic, result)

    async def _execute(self, device: str, command: CommandEnvelope) -> str | None:
        poller = self.pollers.get(device)
        if poller is None:
            return f"no device {device!r} on this gateway"
        try:
            point = poller.plan.profile.point(command.point)
        except KeyError:
            return f"{poller.plan.profile.name} has no point {command.point!r}"
        if point.access != "rw":
            return f"{command.point} is not writable"
        try:
            await poller.bus.write(poller.device, point, command.value)
        except WriteRefused as exc:
            return str(exc)
        except BusError as exc:
            return f"{exc.kind}: {exc}"
        return None
