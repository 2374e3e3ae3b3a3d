"""The device profile model: what a device is and how to read each of its points.

A profile is data (``devices/profiles/*.yaml``) validated by :class:`Profile`. The gateway
compiles it into a read plan; the simulator serves it; both read the same file.
"""

from __future__ import annotations

from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from devices.codec import ByteOrder, CodecError, PointType, normalise_order, register_count
from facmon.config import FieldError
from facmon.contract import Slug

PROFILE_DIR = Path(__file__).parent / "profiles"
"""Where the shipped profile library lives."""


class Table(StrEnum):
    """The four Modbus data tables."""

    COIL = "coil"
    DISCRETE = "discrete"
    INPUT = "input"
    HOLDING = "holding"

    @property
    def is_bits(self) -> bool:
        """Whether the table holds single bits (coils, discrete inputs)."""
        return self in (Table.COIL, Table.DISCRETE)


class Category(StrEnum):
    """The kind of equipment a profile describes."""

    OFFICE = "office"
    COMMUNICATION = "communication"
    BUILDING = "building"
    ENERGY = "energy"
    ENVIRONMENT = "environment"
    VEHICLE = "vehicle"
    SECURITY = "security"


class Simulation(BaseModel):
    """How the simulator moves a point: ``base + amplitude·sin(2πt/period) + noise``.

    ``drift_per_s`` adds a steady ramp from the simulator's start (a counter, an energy
    register); ``text`` is the value of a string point.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    base: float = 0.0
    amplitude: float = 0.0
    period_s: float = Field(default=86_400.0, gt=0)
    noise: float = Field(default=0.0, ge=0)
    drift_per_s: float = 0.0
    text: str = ""


class Point(BaseModel):
    """One value a device exposes.

    ``address`` is the zero-based PDU address in ``table``. The engineering value is
    ``raw * scale + offset``. ``length`` is the register count of a ``string``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Slug
    table: Table
    address: int = Field(ge=0, le=65_535)
    type: PointType
    order: ByteOrder = ByteOrder.ABCD
    length: int = Field(default=1, ge=1, le=125)
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ""
    description: str = ""
    access: Literal["r", "rw"] = "r"
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
    def _fits_table(self) -> Point:
        if self.table.is_bits and self.type is not PointType.BOOL:
            raise ValueError(f"a {self.table} point must be of type bool, not {self.type}")
        if not self.table.is_bits and self.type is PointType.BOOL:
            raise ValueError(
                f"a bool point must be in the coil or discrete table, not {self.table}"
            )
        if self.type is not PointType.STRING and "length" in self.model_fields_set:
            raise ValueError("length applies to string points only")
        if self.end > 65_536:
            raise ValueError(f"registers {self.address}..{self.end - 1} run past 65535")
        if self.access == "rw" and self.table in (Table.DISCRETE, Table.INPUT):
            raise ValueError(f"{self.table} points are read-only; access must be r")
        return self

    @property
    def count(self) -> int:
        """Registers (or bits) the point occupies."""
        return register_count(self.type, self.length)

    @property
    def end(self) -> int:
        """One past the point's last register (or bit)."""
        return self.address + self.count


class Profile(BaseModel):
    """A device model: identity, category, measurement and points."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Slug
    vendor: str
    model: str
    category: Category
    measurement: Slug
    description: str = ""
    points: list[Point] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_and_disjoint(self) -> Profile:
        seen: dict[str, int] = {}
        for index, point in enumerate(self.points):
            if point.name in seen:
                raise FieldError(
                    f"point name {point.name!r} is used twice "
                    f"(first in points[{seen[point.name]}])",
                    "points",
                    index,
                    "name",
                )
            seen[point.name] = index
        by_table: dict[Table, list[tuple[int, Point]]] = {}
        for index, point in enumerate(self.points):
            by_table.setdefault(point.table, []).append((index, point))
        for table, points in by_table.items():
            points.sort(key=lambda item: item[1].address)
            for (_, before), (index, after) in pairwise(points):
                if after.address < before.end:
                    raise FieldError(
                        f"{table} points {before.name!r} and {after.name!r} overlap "
                        f"at address {after.address}",
                        "points",
                        index,
                        "address",
                    )
        return self

    def point(self, name: str) -> Point:
        """Return the point called ``name``.

        Raises:
            KeyError: the profile has no such point.
        """
        for point in self.points:
            if point.name == name:
                return point
        raise KeyError(name)
