"""The device profile model: what a device is and how to read each of its points.

A profile is data (``devices/profiles/*.yaml``) validated by :class:`Profile`. The gateway
compiles a Modbus profile into a read plan and maps an MQTT profile's messages into
envelopes; the simulator serves the same file. See docs/devices.md for a worked example.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from devices.modbus.codec import (
    INTEGER_TYPES,
    ByteOrder,
    CodecError,
    PointType,
    normalise_order,
    register_count,
)
from devices.modbus.tables import Table
from facmon.config import FieldError
from facmon.contract import RESERVED_NAMES, RESERVED_PREFIX
from facmon.types import Severity, Slug, Value

PROFILE_DIR = Path(__file__).parent / "profiles"
"""Where the shipped profile library lives."""

Op = Literal[">", ">=", "<", "<=", "==", "!="]
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class _Model(BaseModel):
    # no NaN or infinity: an infinite offset or scale made the decoder raise ValueError
    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False
    )


class Texts(_Model):
    """A text people read, in English and Simplified Chinese.

    Written ``{en: ..., zh: ...}``; a plain string is the English text alone, so profiles
    written before keep loading (``facmon profiles check`` warns that the Chinese is missing).
    """

    en: str = ""
    zh: str = ""

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, value: object) -> object:
        return {"en": value} if isinstance(value, str) else value

    @property
    def blank(self) -> bool:
        """Neither language says anything."""
        return not (self.en or self.zh)

    @property
    def complete(self) -> bool:
        """Both languages are given."""
        return bool(self.en and self.zh)

    def say(self, language: str) -> str:
        """The text in ``language`` (``zh`` or ``en``), else in the other one."""
        first, second = (self.zh, self.en) if language == "zh" else (self.en, self.zh)
        return first or second


ABNORMAL = Texts(en="{name} abnormal", zh="{name}异常")
"""The name of a fault whose profile gives none: the point's name and "abnormal"."""


class Category(StrEnum):
    """The kind of equipment a profile describes."""

    OFFICE = "office"
    COMMUNICATION = "communication"
    BUILDING = "building"
    ENERGY = "energy"
    ENVIRONMENT = "environment"
    VEHICLE = "vehicle"
    SECURITY = "security"


class Simulation(_Model):
    """How the simulator moves a point.

    ``shape: sine`` gives ``base + amplitude·sin(2πt/period_s)``; ``shape: office`` gives
    ``base`` outside working hours and ``base + amplitude`` from 08:00 to 18:00 on weekdays
    (simulator local time), a daily load curve; it also switches bool and enum points
    (``base: 0, amplitude: 1``: on in working hours). Other bool, enum and bitfield points
    keep ``base`` until a scenario or a client changes them. ``noise`` adds Gaussian noise (standard
    deviation), ``drift_per_s`` a steady ramp from the simulator's start (counters, energy).
    ``text`` is the value of a string point.
    """

    base: float = 0.0
    amplitude: float = 0.0
    shape: Literal["sine", "office"] = "sine"
    period_s: float = Field(default=86_400.0, gt=0)
    noise: float = Field(default=0.0, ge=0)
    drift_per_s: float = 0.0
    text: str = ""


class Flag(_Model):
    """One bit of a ``bitfield`` point: a named status or alarm."""

    name: Slug
    """Name of the boolean value the bit becomes (unique within the profile)."""
    severity: Severity = "info"
    """``warning`` or ``critical`` make the bit a fault when set."""
    code: str | None = None
    """The equipment's own fault code, as in its manual (E01, A12, ...)."""
    label: Texts = Texts()
    """What people call it (``{en: Mains abnormal, zh: 市电异常}``)."""
    description: Texts = Texts()
    """What it means, in a sentence."""


class Condition(_Model):
    """A comparison of a point's value: ``point op value``."""

    point: Slug
    op: Op
    value: Value

    def holds(self, value: Value | None) -> bool:
        """Whether ``point op value`` holds for ``value`` (False for a value of another kind)."""
        if value is None:
            return False
        try:
            return bool(OPERATORS[self.op](value, self.value))
        except TypeError:
            return False


class Fault(Condition):
    """A value that means the equipment is at fault."""

    severity: Severity = "warning"
    code: str | None = None
    label: Texts = Texts()
    """What people call the fault (``{en: On battery, zh: 电池放电}``)."""
    description: Texts = Texts()
    """What it means, in a sentence."""

    @property
    def key(self) -> str:
        """How its alert is keyed: ``point op value``."""
        return f"{self.point}{self.op}{self.value}"


class InUse(_Model):
    """What "in use" means for idle detection: a condition, or a counter that increases.

    Either ``op`` and ``value`` (``power_w > 15``) or ``increases: true`` (an hour meter, an
    energy register).
    """

    point: Slug
    op: Op | None = None
    value: Value | None = None
    increases: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> InUse:
        if self.increases == (self.op is not None):
            raise ValueError("give either op and value, or increases: true")
        if self.op is not None and self.value is None:
            raise ValueError("op needs a value")
        return self


class Point(_Model):
    """One value a device exposes.

    Modbus points have ``table``, ``address`` (zero-based PDU address) and ``type``; MQTT
    points have ``path`` (dotted path into the device's JSON message) and ``type``. The
    engineering value is ``raw * scale + offset``.
    """

    name: Slug
    type: PointType
    table: Table | None = None
    address: int | None = Field(default=None, ge=0, le=65_535)
    order: ByteOrder = ByteOrder.ABCD
    """Byte order of multi-register values; aliases (big, little, word-swapped, ...) accepted."""
    length: int = Field(default=1, ge=1, le=125)
    """Registers of a ``string`` (two characters each) or a ``bitfield`` (16 bits each)."""
    path: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ""
    label: Texts = Texts()
    """What people call the point (``{en: Battery voltage, zh: 电池电压}``)."""
    description: Texts = Texts()
    """What it measures, in a sentence."""
    enum: dict[int, Texts] = Field(default_factory=dict)
    """Names of the states an integer point takes (code → name)."""
    flags: dict[int, Flag] = Field(default_factory=dict)
    """Bits of a ``bitfield`` point (bit 0 is the least significant)."""
    invalid: list[int] = Field(default_factory=list)
    """Raw values the device sends for "no reading" (0x7FFF, 0xFFFF, ...): decoded as bad."""
    deadband: float | None = Field(default=None, ge=0)
    """Smallest change worth reporting when reporting by exception."""
    access: Literal["r", "rw"] = "r"
    min: float | None = None
    """Lowest value a write may set (``rw`` points)."""
    max: float | None = None
    """Highest value a write may set (``rw`` points)."""
    sim: Simulation | None = None

    @field_validator("order", mode="before")
    @classmethod
    def _normalise_order(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return normalise_order(value)
            except CodecError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Point:
        if self.scale == 0:
            raise FieldError("scale cannot be 0 (a written value is divided by it)", "scale")
        if self.table is not None:
            self._check_modbus(self.table)
        if self.flags and self.type is not PointType.BITFIELD:
            raise FieldError("flags apply to bitfield points only", "flags")
        for bit in self.flags:
            if not 0 <= bit < 16 * self.length:
                raise FieldError(
                    f"bit {bit} is outside a {16 * self.length}-bit field", "flags", bit
                )
        if self.invalid and self.type not in INTEGER_TYPES:
            raise FieldError(f"invalid applies to integer points, not {self.type}", "invalid")
        if self.enum and self.type not in INTEGER_TYPES:
            raise FieldError(f"enum applies to integer points, not {self.type}", "enum")
        if self.access == "r" and (self.min is not None or self.max is not None):
            raise FieldError("min and max apply to writable (rw) points", "min")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise FieldError(f"min {self.min} is above max {self.max}", "min")
        return self

    def _check_modbus(self, table: Table) -> None:
        if self.address is None:
            raise FieldError("a Modbus point needs an address", "address")
        if table.is_bits and self.type is not PointType.BOOL:
            raise FieldError(f"a {table} point must be of type bool, not {self.type}", "type")
        if not table.is_bits and self.type is PointType.BOOL:
            raise FieldError("a bool point must be in the coil or discrete table", "table")
        if (
            self.type not in (PointType.STRING, PointType.BITFIELD)
            and "length" in self.model_fields_set
        ):
            raise FieldError("length applies to string and bitfield points only", "length")
        if self.type is PointType.BITFIELD and self.length > 2:
            raise FieldError("a bitfield is one or two registers", "length")
        if self.end > 65_536:
            raise FieldError(f"registers {self.address}..{self.end - 1} run past 65535", "address")
        if self.access == "rw" and table in (Table.DISCRETE, Table.INPUT):
            raise FieldError(f"{table} points are read-only; access must be r", "access")

    @property
    def count(self) -> int:
        """Registers (or bits) the point occupies."""
        return register_count(self.type, self.length)

    @property
    def end(self) -> int:
        """One past the point's last register (or bit)."""
        return (self.address or 0) + self.count


TopicPattern = Annotated[
    str, StringConstraints(pattern=r"^[^#]*\{device\}[^#]*(#)?$", max_length=256)
]


class EventMapping(_Model):
    """Turns a device message into an event: when ``path`` equals ``equals``, emit ``type``."""

    type: Slug
    path: str = Field(pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
    equals: Value
    attrs: dict[Slug, str] = Field(default_factory=dict)
    """Event attributes: attribute name → dotted path into the message."""


class MqttSource(_Model):
    """Where an MQTT-native device publishes, and how its messages map to points and events.

    ``topic`` contains ``{device}``, which stands for the device id, and may contain ``+``
    wildcards (``vendor/+/{device}/up``).
    """

    topic: TopicPattern
    events: list[EventMapping] = Field(default_factory=list)


class Profile(_Model):
    """A device model: identity, category, measurement, points and what its values mean."""

    name: Slug
    vendor: str
    model: str
    category: Category
    measurement: Slug
    description: Texts = Texts()
    protocol: Literal["modbus", "mqtt"] = "modbus"
    points: list[Point] = Field(min_length=1)
    mqtt: MqttSource | None = None
    """For MQTT-native devices: topic and event mapping."""
    in_use: InUse | None = None
    """What "in use" means, for idle detection and utilization."""
    faults: list[Fault] = Field(default_factory=list)
    """Values that mean a fault (bitfield flags with severity warning/critical count too)."""

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        self._check_protocol()
        if self.measurement.startswith(RESERVED_PREFIX):
            raise FieldError(f"names starting with {RESERVED_PREFIX} are reserved", "measurement")
        names: dict[str, str] = {}
        for index, point in enumerate(self.points):
            for name, where in [
                (point.name, "name"),
                *((f.name, f"flags.{b}") for b, f in point.flags.items()),
            ]:
                if name in RESERVED_NAMES:
                    raise FieldError(f"name {name!r} is reserved", "points", index, where)
                if name in names:
                    raise FieldError(
                        f"name {name!r} is used twice (first by {names[name]})",
                        "points",
                        index,
                        where,
                    )
                names[name] = f"points[{index}]"
        self._check_overlaps()
        if self.in_use is not None and self.in_use.point not in names:
            raise FieldError(f"no point or flag named {self.in_use.point!r}", "in_use", "point")
        for index, fault in enumerate(self.faults):
            if fault.point not in names:
                raise FieldError(
                    f"no point or flag named {fault.point!r}", "faults", index, "point"
                )
        return self

    def _check_protocol(self) -> None:
        for index, point in enumerate(self.points):
            if self.protocol == "modbus" and point.table is None:
                raise FieldError("a Modbus point needs a table", "points", index, "table")
            if self.protocol == "mqtt":
                if point.table is not None or point.address is not None:
                    raise FieldError(
                        "an MQTT point has a path, not a table or address", "points", index
                    )
                if point.path is None:
                    raise FieldError(
                        "an MQTT point needs a path into the message", "points", index, "path"
                    )
                if point.type is PointType.BITFIELD:
                    raise FieldError("an MQTT point cannot be a bitfield", "points", index, "type")
        if self.protocol == "mqtt" and self.mqtt is None:
            raise FieldError("an MQTT profile needs an mqtt block (topic)", "mqtt")
        if self.protocol == "modbus" and self.mqtt is not None:
            raise FieldError("a Modbus profile has no mqtt block", "mqtt")

    def _check_overlaps(self) -> None:
        by_table: dict[Table, list[tuple[int, Point]]] = {}
        for index, point in enumerate(self.points):
            if point.table is not None:
                by_table.setdefault(point.table, []).append((index, point))
        for table, points in by_table.items():
            points.sort(key=lambda item: item[1].address or 0)
            for (_, before), (index, after) in pairwise(points):
                if (after.address or 0) < before.end:
                    raise FieldError(
                        f"{table} points {before.name!r} and {after.name!r} overlap "
                        f"at address {after.address}",
                        "points",
                        index,
                        "address",
                    )

    def point(self, name: str) -> Point:
        """Return the point called ``name``.

        Raises:
            KeyError: the profile has no such point.
        """
        for point in self.points:
            if point.name == name:
                return point
        raise KeyError(name)

    def faults_in(self, values: Mapping[str, Value]) -> tuple[Texts, ...]:
        """The names of the warning and critical faults that ``values`` show, in both languages.

        Flags set and fault values holding count.
        """
        found = [
            self.name_of(flag.name)
            for point in self.points
            for flag in point.flags.values()
            if flag.severity in ("warning", "critical") and _set(values.get(flag.name))
        ]
        found += [
            self.name_of(fault.key)
            for fault in self.faults
            if fault.severity in ("warning", "critical") and fault.holds(values.get(fault.point))
        ]
        return tuple(found)

    def fault(self, key: str) -> Flag | Fault | None:
        """The flag or fault value an alert's ``key`` names (a flag's name, ``point op value``)."""
        for point in self.points:
            for flag in point.flags.values():
                if flag.name == key:
                    return flag
        return next((fault for fault in self.faults if fault.key == key), None)

    def name_of(self, key: str) -> Texts:
        """What people call the fault ``key`` (never ``point op value``).

        Its label, else the name of the point it tests and "abnormal".
        """
        found = self.fault(key)
        if found is not None and not found.label.blank:
            return found.label
        name = self.label_of(found.point if isinstance(found, Fault) else point_of(key))
        return Texts(en=ABNORMAL.en.format(name=name.en), zh=ABNORMAL.zh.format(name=name.zh))

    def label_of(self, name: str) -> Texts:
        """What people call the point or flag ``name`` (its name, spaced, when unlabelled)."""
        for point in self.points:
            if point.name == name and not point.label.blank:
                return _both(point.label)
            for flag in point.flags.values():
                if flag.name == name and not flag.label.blank:
                    return _both(flag.label)
        spaced = name.replace("_", " ")
        return Texts(en=spaced, zh=spaced)


def point_of(key: str) -> str:
    """The point (or flag) the fault ``key`` tests: ``on_battery`` of ``on_battery==True``."""
    return next((key.split(op, 1)[0] for op in OPERATORS if op in key), key)


def _both(text: Texts) -> Texts:
    return Texts(en=text.say("en"), zh=text.say("zh"))


def _set(value: Value | None) -> bool:
    return value is True or (isinstance(value, int | float) and value != 0)
