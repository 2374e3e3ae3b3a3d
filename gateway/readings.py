"""Turn the block a device answered into engineering values with quality flags (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from devices.blocks import registers_to_bytes
from facmon.types import Value
from gateway.plan import ReadRequest


def decode_block(
    request: ReadRequest, block: bytes | Sequence[int] | Sequence[bool]
) -> tuple[dict[str, Value], dict[str, str]]:
    """Decode every point of ``request`` from the block the device answered.

    ``block`` is the registers as big-endian bytes (as on the wire), or as integers, or the
    bits of a coil or discrete-input request. A point that cannot be decoded (short block,
    NaN or infinite float, an ``invalid`` raw value) gets quality ``bad`` instead of a
    value; the other points are unaffected. A ``bitfield`` gives its raw value and one
    boolean per named flag.
    """
    if request.table.is_bits:
        return request.decoder.decode([bool(b) for b in block])
    if not isinstance(block, bytes | bytearray):
        block = registers_to_bytes([int(r) for r in block])
    return request.decoder.decode(bytes(block))
