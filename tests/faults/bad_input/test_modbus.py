"""Hostile Modbus frames: the gateway's decoding, its TCP client, the simulator's answering."""

from __future__ import annotations

import asyncio
import itertools
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from devices.fieldbus import BusError
from devices.modbus import rtu
from devices.modbus.answer import answer
from devices.modbus.memory import DeviceMemory
from devices.modbus.pdu import read_answer, read_pdu, write_pdu
from devices.modbus.plan import ReadRequest
from devices.modbus.tables import Table
from devices.modbus.tcp import ModbusTcpConnection
from devices.profile import Profile
from tests.faults.bad_input.corpus import (
    QUICK,
    assert_contract_valid,
    corrupted,
    outcome,
    read_requests,
    shipped_profiles,
)

# --- 2. Modbus frames: the gateway's decoding and the simulator's answering --------------


def _answer_pdu(request: ReadRequest, data: bytes) -> bytes:
    function = {Table.COIL: 1, Table.DISCRETE: 2, Table.HOLDING: 3, Table.INPUT: 4}
    return bytes((function[request.table], len(data))) + data


def _data_size(request: ReadRequest) -> int:
    return (request.count + 7) // 8 if request.table.is_bits else 2 * request.count


@st.composite
def device_answers(draw: st.DrawFn) -> tuple[Profile, ReadRequest, bytes]:
    """A read request and a response PDU to it: random, or a right one corrupted."""
    profile, request = draw(st.sampled_from(read_requests()))
    size = _data_size(request)
    good = _answer_pdu(request, draw(st.binary(min_size=size, max_size=size)))
    response = draw(st.binary(max_size=260) | corrupted(good, [b"\x83\x02", b"\x00", b"\xff"]))
    return profile, request, response


@QUICK
@given(device_answers())
def test_a_device_answer_is_decoded_or_refused_as_garbage_never_crashes(
    case: tuple[Profile, ReadRequest, bytes],
) -> None:
    profile, request, response = case
    block = outcome(lambda: read_answer(response, request.count, request.table.is_bits), BusError)
    if isinstance(block, BusError):
        assert str(block)
        return
    assert len(block) == (request.count if request.table.is_bits else 2 * request.count)
    values, quality = request.decode(block)
    assert_contract_valid(profile, request, values, quality)


NAN32 = struct.pack(">f", float("nan"))
INF64 = struct.pack(">d", float("inf"))


@QUICK
@given(case=st.sampled_from(read_requests()), data=st.data())
def test_a_garbled_or_cut_off_point_leaves_the_values_of_its_neighbours_alone(
    case: tuple[Profile, ReadRequest], data: st.DataObject
) -> None:
    profile, request = case
    size = _data_size(request)
    clean = data.draw(st.binary(min_size=size, max_size=size), label="clean block")
    bits = request.table.is_bits
    block: Any = (
        [bool(clean[i // 8] >> (i % 8) & 1) for i in range(request.count)] if bits else clean
    )
    before, _ = request.decode(block)
    victim = data.draw(st.sampled_from(request.points), label="garbled point")
    offset = (victim.address or 0) - request.address
    cut = bits or data.draw(st.booleans(), label="the answer ends inside the garbled point")
    if bits:
        garbled: Any = block[:offset]
    else:
        start, end = 2 * offset, 2 * (offset + victim.count)
        junk = data.draw(
            st.binary(min_size=end - start, max_size=end - start)
            | st.just((NAN32 * victim.count)[: end - start])
            | st.just((INF64 * victim.count)[: end - start])
        )
        garbled = clean[:start] + (junk[: len(junk) // 2] if cut else junk + clean[end:])
    values, quality = request.decode(garbled)
    assert_contract_valid(profile, request, values, quality)
    if cut:  # a point the answer holds only in part is flagged, never guessed
        assert quality.get(victim.name) == "bad"
    for point in request.points:
        ends_before = (point.address or 0) + point.count <= (victim.address or 0)
        if point is victim or (cut and not ends_before):
            continue
        for name in (point.name, *(f.name for f in point.flags.values())):
            assert values.get(name) == before.get(name), name
            assert name not in quality or before.get(name) is None, name


@dataclass
class _Wire(asyncio.Transport):
    """A TCP transport that keeps what the gateway writes and closes only when told."""

    sent: bytearray
    closed: bool = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Keep the bytes written."""
        self.sent += data

    def is_closing(self) -> bool:
        """Whether :meth:`close` was called."""
        return self.closed

    def close(self) -> None:
        """Mark the transport closed."""
        self.closed = True


async def exchange_over(
    reply: Callable[[int], list[bytes]], unit: int, pdu: bytes
) -> bytes | Exception:
    """Send ``pdu`` on a fake connection fed ``reply(transaction)``; the answer or the error.

    If the bytes fed do not complete the exchange, the device hangs up (so no test waits).
    """
    connection = ModbusTcpConnection()
    wire = _Wire(bytearray())
    connection.connection_made(wire)
    task = asyncio.ensure_future(connection.exchange(unit, pdu, timeout_s=30))
    await asyncio.sleep(0)
    transaction = int.from_bytes(wire.sent[:2], "big")
    for chunk in reply(transaction):
        connection.data_received(chunk)
    if not task.done():
        connection.connection_lost(None)
    try:
        return await task
    except BusError as exc:
        return exc


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def _mbap(transaction: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu


@QUICK
@given(
    case=device_answers(),
    header=st.one_of(
        st.just("right"), st.just("random"), st.tuples(st.integers(0, 2**16 - 1), st.integers())
    ),
    cuts=st.lists(st.integers(0, 400), max_size=4),
)
async def test_an_mbap_stream_of_junk_is_answered_or_ends_in_a_bus_error_never_a_crash(
    case: tuple[Profile, ReadRequest, bytes], header: Any, cuts: list[int]
) -> None:
    profile, request, response = case
    pdu = read_pdu(_answer_pdu(request, b"")[0], request.address, request.count)

    def reply(transaction: int) -> list[bytes]:
        if header == "random":
            frame = response
        elif header == "right":
            frame = _mbap(transaction, 1, response)
        else:
            frame = struct.pack(">HHHB", header[0], header[1] % 2**16, len(response) + 1, 1)
            frame += response
        return _chunks(frame, cuts)

    answered = await exchange_over(reply, 1, pdu)
    if isinstance(answered, Exception):
        assert str(answered)
        return
    assert answered[0] == pdu[0]
    block = outcome(lambda: read_answer(answered, request.count, request.table.is_bits), BusError)
    if not isinstance(block, BusError):
        assert_contract_valid(profile, request, *request.decode(block))


@QUICK
@given(
    case=st.sampled_from(read_requests()),
    stale=st.lists(
        st.tuples(st.integers(0, 2**16 - 1), st.binary(min_size=1, max_size=40)), max_size=4
    ),
    cuts=st.lists(st.integers(0, 600), max_size=6),
    data=st.data(),
)
async def test_late_answers_to_other_requests_are_skipped_and_the_right_one_is_taken(
    case: tuple[Profile, ReadRequest],
    stale: list[tuple[int, bytes]],
    cuts: list[int],
    data: st.DataObject,
) -> None:
    _, request = case
    body = data.draw(st.binary(min_size=_data_size(request), max_size=_data_size(request)))
    right = _answer_pdu(request, body)
    pdu = read_pdu(right[0], request.address, request.count)

    def reply(transaction: int) -> list[bytes]:
        frames = [_mbap(t, 1, p) for t, p in stale if t != transaction]
        return _chunks(b"".join(frames) + _mbap(transaction, 1, right), cuts)

    assert await exchange_over(reply, 1, pdu) == right


@cache
def simulated(name: str) -> DeviceMemory:
    """The simulator's memory of a shipped Modbus profile."""
    return DeviceMemory(shipped_profiles()[name], seed=1)


MODBUS_PROFILES = sorted(n for n, p in shipped_profiles().items() if p.protocol == "modbus")


@st.composite
def requests_to_simulator(draw: st.DrawFn) -> bytes:
    """A request PDU: random bytes, or a valid read or write corrupted."""
    valid = draw(
        st.one_of(
            st.builds(read_pdu, st.integers(1, 4), st.integers(0, 2**16 - 1), st.integers(0, 300)),
            st.builds(
                write_pdu,
                st.sampled_from([0x0F, 0x10]),
                st.integers(0, 300),
                st.lists(st.integers(0, 2**16 - 1), min_size=1, max_size=10),
            ),
            st.builds(
                lambda f, a, v: struct.pack(">BHH", f, a, v),
                st.sampled_from([5, 6]),
                st.integers(0, 300),
                st.sampled_from([0, 0xFF00, 0x1234]),
            ),
        )
    )
    return draw(st.binary(max_size=260) | st.just(valid) | corrupted(valid, [b"\x00", b"\xff"]))


@QUICK
@given(name=st.sampled_from(MODBUS_PROFILES), pdu=requests_to_simulator())
@example(name="ups.yaml", pdu=b"")
@example(name="ups.yaml", pdu=b"\x0f\x00\x00\x00\x08\x01")
def test_the_simulator_answers_any_request_pdu_with_a_response_or_an_exception(
    name: str, pdu: bytes
) -> None:
    function = pdu[0] if pdu else 0
    response = answer(simulated(name), pdu)
    assert response[0] in (function, function | 0x80)
    if response[0] != function:
        assert len(response) == 2
        assert response[1] in (1, 2, 3)


@QUICK
@given(
    head=st.binary(min_size=7, max_size=7),
    frame=st.builds(rtu.frame, st.integers(0, 255), st.binary(min_size=1, max_size=252)),
    data=st.data(),
)
def test_rtu_framing_sizes_any_request_and_a_changed_byte_never_passes_the_crc(
    head: bytes, frame: bytes, data: st.DataObject
) -> None:
    length = rtu.request_length(head)
    assert length is None or 8 <= length <= 9 + 255
    assert rtu.check(frame)
    at = data.draw(st.integers(0, len(frame) - 1))
    changed = frame[:at] + bytes([frame[at] ^ data.draw(st.integers(1, 255))]) + frame[at + 1 :]
    assert not rtu.check(changed)
    assert isinstance(rtu.check(data.draw(st.binary(max_size=300))), bool)
