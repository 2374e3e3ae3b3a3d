"""The gateway's Modbus bus models: Modbus TCP, RTU frames over TCP, RTU on a serial port."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from devices.fieldbus import BusConfig


class TcpBus(BusConfig):
    """A Modbus TCP endpoint: one device, or a Modbus TCP gateway in front of a line."""

    kind: Literal["tcp"] = "tcp"
    """Modbus TCP (MBAP framing)."""
    host: str
    """Host name or address."""
    port: int = Field(default=502, ge=1, le=65_535)
    """TCP port."""
    connections: int = Field(default=1, ge=1, le=16)
    """Parallel connections; devices are spread over them (only for endpoints that allow it)."""

    @property
    def connections_wanted(self) -> int:
        """The parallel connections configured."""
        return self.connections


class RtuOverTcpBus(BusConfig):
    """A serial server that passes RTU frames (with CRC) through a TCP socket."""

    kind: Literal["rtu-over-tcp"]
    """RTU frames over TCP."""
    host: str
    """Host name or address of the serial server."""
    port: int = Field(default=502, ge=1, le=65_535)
    """TCP port."""

    @property
    def where(self) -> str:
        """``host:port``, for messages."""
        return f"{self.host}:{self.port}"


class SerialBus(BusConfig):
    """An RS-485/RS-232 line on a local serial port, Modbus RTU."""

    kind: Literal["rtu"]
    """Modbus RTU on a serial port."""
    port: str
    """Serial device, e.g. /dev/ttyUSB0."""
    baudrate: int = Field(default=9600, ge=300, le=921_600)
    """Line speed in bit/s."""
    parity: Literal["N", "E", "O"] = "N"
    """Parity: none, even or odd."""
    stopbits: Literal[1, 2] = 1
    """Stop bits."""
    bytesize: Literal[7, 8] = 8
    """Data bits."""

    @property
    def where(self) -> str:
        """The serial device, for messages."""
        return self.port
