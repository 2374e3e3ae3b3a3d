"""Build and parse every topic of the wire contract (see docs/contract.md).

Topics are frozen value objects: an invalid identifier is rejected when the topic is
built, so a malformed topic can never be published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from facmon.contract.errors import TopicError
from facmon.types import SLUG_CHARS, SLUG_MAX

VERSION = "v1"
DEFAULT_PREFIX = "facmon"
_SLUG = re.compile(f"{SLUG_CHARS}{{1,{SLUG_MAX}}}")


def is_slug(value: str) -> bool:
    """Return whether ``value`` is an identifier slug: ``[a-z0-9_-]``, 1 to 64 characters."""
    return _SLUG.fullmatch(value) is not None


def check_slug(value: str, what: str) -> str:
    """Return ``value`` when it is a slug; raise :class:`TopicError` naming ``what`` otherwise."""
    if not isinstance(value, str) or not is_slug(value):
        raise TopicError(f"{what} {value!r} is not a slug ([a-z0-9_-], 1 to {SLUG_MAX} chars)")
    return value


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` when every ``/``-separated segment is a slug; raise TopicError."""
    for segment in prefix.split("/"):
        check_slug(segment, "prefix segment")
    return prefix


class TopicKind(StrEnum):
    """What a topic carries; the value is the topic's last segment(s)."""

    STATUS = "status"
    DATA = "data"
    EVENT = "event"
    STATE = "state"
    CMD = "cmd"
    CMD_RESULT = "cmd/result"
    ALERTS = "alerts"
    USAGE = "usage"
    METERS = "meters"
    DEADLETTER = "deadletter"


_DEVICE_KINDS = {TopicKind.DATA, TopicKind.EVENT, TopicKind.STATE, TopicKind.CMD}
_RETAINED = {TopicKind.STATUS, TopicKind.STATE}
_SITE_KINDS = {TopicKind.ALERTS, TopicKind.USAGE, TopicKind.METERS}
"""Kinds published by the API for a whole site: ``{p}/v1/{kind}/{site}``."""


@dataclass(frozen=True, slots=True)
class Topic:
    """One concrete topic of the contract.

    Which identifiers are required depends on ``kind``: ``status`` needs site and gateway;
    ``data``, ``event``, ``state``, ``cmd`` and ``cmd/result`` need site, gateway and device;
    ``alerts``, ``usage`` and ``meters`` need the site; ``deadletter`` needs none.

    Raises:
        TopicError: an identifier is missing, superfluous or not a slug.
    """

    kind: TopicKind
    site: str | None = None
    gateway: str | None = None
    device: str | None = None
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        """Validate the identifiers against the kind."""
        check_prefix(self.prefix)
        needs = _required(self.kind)
        for name in ("site", "gateway", "device"):
            value = getattr(self, name)
            if name in needs:
                if value is None:
                    raise TopicError(f"a {self.kind} topic needs a {name}")
                check_slug(value, name)
            elif value is not None:
                raise TopicError(f"a {self.kind} topic has no {name}")

    @property
    def retained(self) -> bool:
        """Whether messages on this topic are published retained."""
        return self.kind in _RETAINED

    def __str__(self) -> str:
        """Return the topic string as published."""
        head = f"{self.prefix}/{VERSION}"
        if self.kind is TopicKind.DEADLETTER:
            return f"{head}/deadletter"
        if self.kind in _SITE_KINDS:
            return f"{head}/{self.kind.value}/{self.site}"
        if self.kind is TopicKind.STATUS:
            return f"{head}/{self.site}/{self.gateway}/status"
        return f"{head}/{self.site}/{self.gateway}/{self.device}/{self.kind.value}"

    @classmethod
    def parse(cls, topic: str, prefix: str = DEFAULT_PREFIX) -> Topic:
        """Parse a topic string published under ``prefix``.

        Raises:
            TopicError: the topic is not one of the contract's, or an identifier is bad.
        """
        head = f"{prefix}/{VERSION}/"
        if not topic.startswith(head):
            if topic.startswith(f"{prefix}/"):
                version = topic[len(prefix) + 1 :].split("/", 1)[0]
                raise TopicError(f"unsupported contract version {version!r} (expected {VERSION})")
            raise TopicError(f"topic {topic[:200]!r} is not under {prefix}/{VERSION}/")
        parts = topic[len(head) :].split("/")
        match parts:
            case ["deadletter"]:
                return cls(TopicKind.DEADLETTER, prefix=prefix)
            case [("alerts" | "usage" | "meters") as kind, site]:
                return cls(TopicKind(kind), site=site, prefix=prefix)
            case [site, gateway, "status"]:
                return cls(TopicKind.STATUS, site=site, gateway=gateway, prefix=prefix)
            case [site, gateway, device, "cmd", "result"]:
                return cls(TopicKind.CMD_RESULT, site, gateway, device, prefix)
            case [site, gateway, device, kind] if kind in {k.value for k in _DEVICE_KINDS}:
                return cls(TopicKind(kind), site, gateway, device, prefix)
        raise TopicError(f"topic {topic[:200]!r} is not a {VERSION} contract topic")


def _required(kind: TopicKind) -> frozenset[str]:
    if kind is TopicKind.DEADLETTER:
        return frozenset()
    if kind in _SITE_KINDS:
        return frozenset({"site"})
    if kind is TopicKind.STATUS:
        return frozenset({"site", "gateway"})
    return frozenset({"site", "gateway", "device"})


def subscription(
    kind: TopicKind,
    prefix: str = DEFAULT_PREFIX,
    site: str = "+",
    gateway: str = "+",
    device: str = "+",
) -> str:
    """Return the MQTT filter matching every ``kind`` topic, narrowed by the given identifiers.

    ``+`` (the default) matches any value of that identifier.

    Raises:
        TopicError: an identifier is neither ``+`` nor a slug.
    """
    check_prefix(prefix)
    for name, value in (("site", site), ("gateway", gateway), ("device", device)):
        if value != "+":
            check_slug(value, name)
    head = f"{prefix}/{VERSION}"
    if kind is TopicKind.DEADLETTER:
        return f"{head}/deadletter"
    if kind in _SITE_KINDS:
        return f"{head}/{kind.value}/{site}"
    if kind is TopicKind.STATUS:
        return f"{head}/{site}/{gateway}/status"
    return f"{head}/{site}/{gateway}/{device}/{kind.value}"


def everything(prefix: str = DEFAULT_PREFIX) -> str:
    """Return the MQTT filter matching every topic under ``prefix``, of any contract version.

    A consumer that must report what it cannot read (unknown topics, other versions)
    subscribes to this rather than to its own topics only.

    Raises:
        TopicError: the prefix is not made of slugs.
    """
    return f"{check_prefix(prefix)}/#"


def shared(group: str, topic_filter: str) -> str:
    """Return ``topic_filter`` as a shared subscription of ``group`` (MQTT 5 ``$share``).

    Raises:
        TopicError: ``group`` is not a slug.
    """
    return f"$share/{check_slug(group, 'share group')}/{topic_filter}"
