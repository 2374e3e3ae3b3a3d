"""Simulated MQTT-native devices: messages in each device's own JSON format (pure; no I/O).

The message shape comes from the profile: each point's ``path`` says where its value goes,
each event mapping says which key carries which value. Behaviours by category: vehicles
drive a route during working hours and park outside them; access controllers see card
swipes (mostly granted, some denied) during working hours; other devices report their
points' simulated values.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

from devices.modbus.codec import PointType
from devices.profile import Category, Profile
from devices.sim.behaviour import sim_value
from devices.sim.model import SimMqttDevice
from facmon.types import Value

DEFAULT_ROUTE = [(30.5200, 114.3100), (30.5350, 114.3300), (30.5500, 114.3150), (30.5380, 114.2950)]
"""A loop of about 9 km (Wuhan); used when a vehicle has no route of its own."""
CARDS = ["A1B2C3D4", "0F1E2D3C", "77AA0042", "5C5C9911", "DEADBEEF"]


def working_time(now: float, utc_offset_h: float) -> bool:
    """Return whether ``now`` falls in 08:00-18:00 on a weekday, local time."""
    local = time.gmtime(now + utc_offset_h * 3600)
    return local.tm_wday < 5 and 8 <= local.tm_hour < 18


def put(message: dict[str, Any], path: str, value: Value) -> None:
    """Set ``value`` at dotted ``path`` in ``message``, creating nested objects."""
    *parents, leaf = path.split(".")
    for key in parents:
        message = message.setdefault(key, {})
    message[leaf] = value


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat = math.radians((a[0] + b[0]) / 2)
    dy = (b[0] - a[0]) * 111.32
    dx = (b[1] - a[1]) * 111.32 * math.cos(lat)
    return math.hypot(dx, dy)


class MqttDeviceSim:
    """One MQTT device: advances with time and yields the messages it would publish."""

    def __init__(
        self, device: SimMqttDevice, profile: Profile, seed: int, utc_offset_h: float = 8.0
    ) -> None:
        """Prepare the device's state; nothing is published until :meth:`step`."""
        if profile.mqtt is None:
            raise ValueError(f"profile {profile.name} is not an MQTT profile")
        self.device = device
        self.profile = profile
        self.topic = (
            profile.mqtt.topic.replace("{device}", device.id).replace("+", "0").rstrip("/#")
        )
        self.utc_offset_h = utc_offset_h
        self.pinned: dict[str, Value] = {}
        self._rng = random.Random(seed)
        self._paths = {p.name: p.path or p.name for p in profile.points}
        self._events = {e.type: e for e in profile.mqtt.events}
        self._route = device.route or DEFAULT_ROUTE
        self._leg, self._along_km, self._odometer = 0, 0.0, 10_000.0 + self._rng.uniform(0, 5_000)
        self._ignition: bool | None = None
        self._started: float | None = None
        self._next_report = 0.0
        self._next_swipe: float | None = None

    def step(self, now: float, dt: float) -> list[dict[str, Any]]:
        """Advance by ``dt`` seconds to ``now``; return the messages published meanwhile."""
        if self._started is None:
            self._started = now
        messages: list[dict[str, Any]] = []
        values = self._values(now)
        if self.profile.category is Category.VEHICLE:
            messages += self._drive(now, dt, values)
        elif self._has_event("access_granted"):
            messages += self._swipes(now)
        if now >= self._next_report:
            self._next_report = now + self.device.interval_s
            messages.append(self._message(values))
        return messages

    def event(self, event_type: str, now: float) -> dict[str, Any]:
        """Return the message that makes the device emit ``event_type`` now.

        Raises:
            KeyError: the profile maps no such event.
        """
        mapping = self._events[event_type]
        message = self._message(self._values(now))
        for path in mapping.attrs.values():
            if path == "card":
                put(message, path, self._rng.choice(CARDS))
            elif self._point_at(path) is None:
                put(message, path, 1)
        put(message, mapping.path, mapping.equals)
        return message

    def _has_event(self, event_type: str) -> bool:
        return event_type in self._events

    def _values(self, now: float) -> dict[str, Value]:
        values: dict[str, Value] = {}
        for point in self.profile.points:
            if point.sim is None:
                continue
            if point.type is PointType.STRING:
                values[point.name] = point.sim.text
            elif point.type is PointType.BOOL:
                values[point.name] = bool(point.sim.base)
            else:
                value = sim_value(
                    point.sim, now, self._started or now, 0.0, self._rng, self.utc_offset_h
                )
                values[point.name] = round(value) if point.type not in _FLOATS else round(value, 3)
        values.update(self.pinned)
        return values

    def _message(self, values: dict[str, Value]) -> dict[str, Any]:
        message: dict[str, Any] = {}
        for name, value in values.items():
            if name in self._paths:
                put(message, self._paths[name], value)
        return message

    def _point_at(self, path: str) -> str | None:
        return next((name for name, p in self._paths.items() if p == path), None)

    def _drive(self, now: float, dt: float, values: dict[str, Value]) -> list[dict[str, Any]]:
        driving = working_time(now, self.utc_offset_h)
        ignition_point = self._point_at("ign")
        if ignition_point and ignition_point in self.pinned:
            driving = bool(self.pinned[ignition_point])
        speed_point = self._point_at("gps.speed_kmh")
        speed = 0.0
        if driving:
            speed = float(values.get(speed_point, 40.0)) if speed_point else 40.0
            speed = max(
                0.0,
                speed
                if speed_point in self.pinned
                else 40 + 12 * math.sin(now / 97) + self._rng.gauss(0, 2),
            )
            self._advance(speed * dt / 3600)
        lat, lon, heading = self._position()
        for path, value in (
            ("gps.lat", lat),
            ("gps.lon", lon),
            ("gps.heading", heading),
            ("gps.speed_kmh", round(speed, 1)),
            ("ign", driving),
            ("odo_km", round(self._odometer, 1)),
        ):
            name = self._point_at(path)
            if name is not None and name not in self.pinned:
                values[name] = value
        messages = []
        if self._ignition is not None and driving != self._ignition:
            kind = "ignition_on" if driving else "ignition_off"
            if self._has_event(kind):
                message = self._message(values)
                put(message, self._events[kind].path, self._events[kind].equals)
                messages.append(message)
        self._ignition = driving
        return messages

    def _advance(self, km: float) -> None:
        self._odometer += km
        self._along_km += km
        while True:
            a, b = self._route[self._leg], self._route[(self._leg + 1) % len(self._route)]
            length = _distance_km(a, b)
            if self._along_km < length or length == 0:
                return
            self._along_km -= length
            self._leg = (self._leg + 1) % len(self._route)

    def _position(self) -> tuple[float, float, int]:
        a, b = self._route[self._leg], self._route[(self._leg + 1) % len(self._route)]
        length = _distance_km(a, b) or 1.0
        f = min(self._along_km / length, 1.0)
        heading = round(math.degrees(math.atan2(b[1] - a[1], b[0] - a[0]))) % 360
        return round(a[0] + f * (b[0] - a[0]), 6), round(a[1] + f * (b[1] - a[1]), 6), heading

    def _swipes(self, now: float) -> list[dict[str, Any]]:
        rate = 1 / 120 if working_time(now, self.utc_offset_h) else 1 / 3600  # swipes per second
        if self._next_swipe is None:
            self._next_swipe = now + self._rng.expovariate(rate)
        messages = []
        while now >= self._next_swipe:
            kind = "access_granted" if self._rng.random() < 0.9 else "access_denied"
            if self._has_event(kind):
                messages.append(self.event(kind, now))
            self._next_swipe += self._rng.expovariate(rate)
        return messages


_FLOATS = {PointType.FLOAT32, PointType.FLOAT64}
