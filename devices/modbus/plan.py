"""Compile a profile into a read plan: the fewest requests that read every point (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from devices.modbus.blocks import BlockDecoder
from devices.modbus.pdu import MAX_BITS, MAX_REGISTERS
from devices.modbus.tables import Table
from devices.profile import Point, Profile
from facmon.types import Value


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One Modbus read: ``count`` registers (or bits) of ``table`` from ``address``."""

    table: Table
    address: int
    count: int
    points: tuple[Point, ...]
    decoder: BlockDecoder = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        """Compile the decoder of this request's block."""
        object.__setattr__(
            self, "decoder", BlockDecoder(self.points, self.address, self.count, self.table.is_bits)
        )

    def decode(
        self, block: bytes | Sequence[int] | Sequence[bool]
    ) -> tuple[dict[str, Value], dict[str, str]]:
        """Decode every point of this request from the block the device answered.

        ``block`` is the registers as big-endian bytes (as on the wire), or as integers, or
        the bits of a coil or discrete-input request. A point that cannot be decoded (short
        block, NaN or infinite float, an ``invalid`` raw value) gets quality ``bad`` instead
        of a value; the other points are unaffected. A ``bitfield`` gives its raw value and
        one boolean per named flag.
        """
        return self.decoder.decode(block)


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """Every request needed to read a profile once, in table and address order."""

    profile: Profile
    requests: tuple[ReadRequest, ...]


def compile_plan(profile: Profile, max_gap: int = 8) -> ReadPlan:
    """Merge neighbouring points into requests.

    Two points share a request when the registers between them number at most ``max_gap``
    and the request stays within the protocol's limit for its table.
    """
    requests: list[ReadRequest] = []
    ordered = sorted(
        (p for p in profile.points if p.table is not None),
        key=lambda p: (list(Table).index(p.table or Table.COIL), p.address or 0),
    )
    group: list[Point] = []
    for point in ordered:
        if group:
            first, last_end = group[0], max(p.end for p in group)
            limit = MAX_BITS if point.table and point.table.is_bits else MAX_REGISTERS
            fits = point.end - (first.address or 0) <= limit
            if point.table is first.table and (point.address or 0) - last_end <= max_gap and fits:
                group.append(point)
                continue
            requests.append(_request(group))
        group = [point]
    if group:
        requests.append(_request(group))
    return ReadPlan(profile, tuple(requests))


def _request(points: list[Point]) -> ReadRequest:
    first = points[0]
    if first.table is None or first.address is None:
        raise ValueError(f"point {first.name!r} is not a Modbus point")
    end = max(p.end for p in points)
    return ReadRequest(first.table, first.address, end - first.address, tuple(points))


def split(request: ReadRequest) -> list[ReadRequest]:
    """Split a request in two at a point boundary, for a device that refused it whole.

    Devices answer exception 02 (illegal address) or 03 (illegal value) for a block that
    spans registers they do not have or is longer than they accept; halves are retried
    until each request is one point. A one-point request cannot be split: ``[request]``.
    """
    if len(request.points) < 2:
        return [request]
    middle = len(request.points) // 2
    return [_request(list(request.points[:middle])), _request(list(request.points[middle:]))]
