"""Turn the block a device answered into engineering values with quality flags (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from devices.codec import CodecError
from devices.decoding import decode_point
from devices.profile import Value
from gateway.plan import ReadRequest


def decode_block(
    request: ReadRequest, block: Sequence[int] | Sequence[bool]
) -> tuple[dict[str, Value], dict[str, str]]:
    """Decode every point of ``request`` from the block the device answered.

    A point that cannot be decoded (short block, NaN or infinite float) gets quality ``bad``
    instead of a value; the other points are unaffected. A ``bitfield`` gives its raw value
    and one boolean per named flag.
    """
    values: dict[str, Value] = {}
    quality: dict[str, str] = {}
    for point in request.points:
        offset = (point.address or 0) - request.address
        try:
            values.update(decode_point(point, block[offset : offset + point.count]))
        except CodecError:
            quality[point.name] = "bad"
            quality.update((flag.name, "bad") for flag in point.flags.values())
    return values, quality
