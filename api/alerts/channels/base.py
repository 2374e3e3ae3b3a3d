"""What every notification channel shares: the target, the message, the refusal.

A channel is one module of this package that registers one :class:`Channel` with
:mod:`api.alerts.channels.registry`: it parses a target URL of its scheme, renders the body
of a notification and sends it, and says how a refusal looks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

if TYPE_CHECKING:
    from api.alerts.channels.smtp import SmtpConfig

SECRET_PARAMS = {"key", "access_token", "secret", "token"}
"""Query parameters hidden wherever a target is shown."""


class NotWritten(ValueError):
    """A target URL not written the way its channel's URLs are (the caller says how)."""


class DeliveryError(Exception):
    """A notification that did not get through, with the reason."""

    def __init__(self, reason: str) -> None:
        """Keep ``reason``."""
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """Where a notification goes, parsed from its URL."""

    kind: str
    """The channel's name (webhook, wecom, dingtalk, feishu, email)."""
    url: str
    """Where to POST (without the signing secret); for e-mail, empty."""
    secret: str | None = None
    recipients: tuple[str, ...] = ()
    shown: str = ""
    """The target as written, with keys, tokens and secrets hidden: safe to log and show."""


@dataclass(frozen=True)
class Message:
    """One notification: a title, a text for people, and the alerts as data."""

    title: str
    text: str
    what: str
    """firing, resolved, reminder or escalation."""
    language: str
    alerts: list[dict[str, Any]]


class Channel(Protocol):
    """One way of telling people: a kind of target URL, its body, its sending."""

    @property
    def name(self) -> str:
        """The target's kind (webhook, wecom, ...), as deliveries record it."""
        ...

    @property
    def schemes(self) -> tuple[str, ...]:
        """What its URLs start with before ``:`` or ``+`` (``https``, ``wecom``, ``mailto``)."""
        ...

    @property
    def form(self) -> str:
        """How its URL is written, for error messages (``wecom+https://...``)."""
        ...

    def parse(self, text: str) -> Target:
        """Parse a target URL of this channel.

        Raises:
            NotWritten: the URL is not written as this channel's are.
            ValueError: the URL does not fit otherwise, naming what is wrong.
        """
        ...

    async def send(
        self, target: Target, message: Message, http: httpx.AsyncClient, smtp: SmtpConfig | None
    ) -> None:
        """Send ``message`` to ``target``.

        Raises:
            DeliveryError: it did not get through (the reason says why).
        """
        ...


def hidden(text: str) -> str:
    """``text`` with a password and the values of secret query parameters hidden."""
    parts = urlsplit(text)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if "@" not in parts.netloc and not any(k in SECRET_PARAMS for k, _ in query):
        return text
    shown = urlencode([(k, "***" if k in SECRET_PARAMS else v) for k, v in query])
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, shown, parts.fragment))


class PostedChannel:
    """A channel that POSTs a JSON body to an http(s) URL (a webhook or a chat robot)."""

    name = ""
    schemes: tuple[str, ...] = ()
    form = ""
    needs: tuple[str, str] | None = None
    """A query parameter the URL must have, and the error when it has not."""
    robot = True
    """Whether its URLs are written ``{name}+https://...`` (and it answers with a code)."""

    def parse(self, text: str) -> Target:
        """Parse ``{name}+https://...`` (or ``https://...`` for the webhook).

        Raises:
            NotWritten: not an http(s) URL with a host.
            ValueError: without the query parameter it needs.
        """
        rest = text.partition("+")[2] if self.robot else text
        parts = urlsplit(rest)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise NotWritten(text)
        query = parse_qsl(parts.query, keep_blank_values=True)
        secret = next((v for k, v in query if k == "secret"), None)
        kept = urlencode([(k, v) for k, v in query if k != "secret"])
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, kept, ""))
        if self.needs is not None and self.needs[0] not in dict(query):
            raise ValueError(f"{text!r}: {self.needs[1]}")
        shown_query = urlencode([(k, "***" if k in SECRET_PARAMS else v) for k, v in query])
        netloc = parts.netloc.rpartition("@")[2]
        shown = urlunsplit((parts.scheme, netloc, self.shown_path(parts.path), shown_query, ""))
        return Target(self.name, url, secret, (), f"{self.name}+{shown}" if self.robot else shown)

    def shown_path(self, path: str) -> str:
        """The URL's path as shown (a channel whose token is in the path hides it)."""
        return path

    def render(self, target: Target, message: Message) -> tuple[dict[str, Any], str]:
        """The JSON body for ``message``, and the URL to POST it to."""
        raise NotImplementedError

    async def send(
        self, target: Target, message: Message, http: httpx.AsyncClient, smtp: SmtpConfig | None
    ) -> None:
        """POST the rendered body; a status of 300 or more, or a refusal, is an error.

        Raises:
            DeliveryError: it did not get through (the reason says why).
        """
        body, url = self.render(target, message)
        try:
            response = await http.post(url, json=body)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        if response.status_code >= 300:
            raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")
        refused = self.refusal(response)
        if refused:
            raise DeliveryError(refused)

    def refusal(self, response: httpx.Response) -> str:
        """Why an answer of HTTP 2xx is a refusal ('' when it is not).

        The robots answer HTTP 200 with an error code when they refuse.
        """
        if not self.robot:
            return ""
        try:
            answer = response.json()
        except ValueError:
            return f"{self.name} answered something other than JSON"
        if not isinstance(answer, dict):
            return f"{self.name} answered {str(answer)[:200]}"
        code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
        if code not in (0, None):
            detail = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage") or ""
            return f"{self.name} refused it: code {code} {detail}".rstrip()
        return ""


def text_of(message: Message) -> str:
    """A robot's text: the title, then the text."""
    return f"{message.title}\n{message.text}"
