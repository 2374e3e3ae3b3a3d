"""The channels by the scheme of their target URLs; parsing a target and sending to it.

A target is written as a URL; its scheme (before ``:``, or before ``+`` for the chat robots)
names the channel. A scheme no channel has registered is an error, never another channel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from api.alerts.channels.base import Channel, Message, NotWritten, Target, hidden

if TYPE_CHECKING:
    from api.alerts.channels.smtp import SmtpConfig

CHANNELS: dict[str, Channel] = {}
"""Channel by name (``webhook``, ``wecom``, ...), in the order registered."""
_BY_SCHEME: dict[str, Channel] = {}


def register(channel: Channel) -> Channel:
    """Add ``channel`` under its name and schemes (each module registers its own).

    Raises:
        ValueError: its name or one of its schemes is taken already.
    """
    if channel.name in CHANNELS or any(s in _BY_SCHEME for s in channel.schemes):
        raise ValueError(f"channel {channel.name!r} (or one of its schemes) is registered twice")
    CHANNELS[channel.name] = channel
    _BY_SCHEME.update(dict.fromkeys(channel.schemes, channel))
    return channel


def parse_target(text: str) -> Target:
    """Parse a target URL by the channel its scheme names.

    Raises:
        ValueError: no channel has its scheme, or it does not fit its channel's form; the
            message names the URL (a URL of no channel with its secrets hidden).
    """
    head = text.partition(":")[0]
    name, plus, _ = head.partition("+")
    channel = _BY_SCHEME.get(name if plus else head.lower())
    if channel is not None:
        try:
            return channel.parse(text)
        except NotWritten:
            pass
    *first, last = [c.form for c in CHANNELS.values()]
    raise ValueError(f"{hidden(text)!r}: expected {', '.join(first)} or {last}")


async def deliver(
    target: Target, message: Message, http: httpx.AsyncClient, smtp: SmtpConfig | None
) -> None:
    """Send ``message`` to ``target`` through its channel.

    Raises:
        DeliveryError: it did not get through (the reason says why).
        KeyError: no channel of the target's kind (targets come from :func:`parse_target`).
    """
    await CHANNELS[target.kind].send(target, message, http, smtp)
