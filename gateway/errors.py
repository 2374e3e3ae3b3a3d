"""Why a Modbus exchange failed, as the gateway tells it apart."""

from __future__ import annotations


class BusError(Exception):
    """A request failed; ``kind`` names the failure for metrics and device state."""

    kind = "error"


class BusUnavailable(BusError):
    """The endpoint cannot be reached (connection refused, reset, closed)."""

    kind = "unreachable"


class DeviceTimeout(BusError):
    """The device did not answer within the bus timeout."""

    kind = "timeout"


class DeviceException(BusError):
    """The device answered with a Modbus exception response."""

    kind = "exception"

    def __init__(self, code: int) -> None:
        """Record the exception code (Modbus Application Protocol §7)."""
        super().__init__(f"Modbus exception {code:#04x}")
        self.code = code


class GarbageResponse(BusError):
    """The device answered something that is not a valid response to the request."""

    kind = "garbage"
