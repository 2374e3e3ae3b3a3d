"""Sending notifications: JSON webhooks, WeCom / DingTalk / Feishu robots, e-mail.

A target is written as a URL:

- ``https://hooks.example.com/facmon`` (or ``http://``): a JSON webhook, the alerts as data;
- ``wecom+https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY``: a WeCom group robot;
- ``dingtalk+https://oapi.dingtalk.com/robot/send?access_token=TOKEN&secret=SEC``: a
  DingTalk robot, signed when ``secret`` is given (the secret is not sent);
- ``feishu+https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN?secret=SEC``: a Feishu (or
  Lark) robot, signed when ``secret`` is given;
- ``mailto:ops@example.com,duty@example.com``: e-mail through the configured SMTP server.

The robots are written here rather than through apprise: apprise reports DingTalk's and
WeCom's refusals (HTTP 200 with an error code) as success, cannot sign for Feishu, and waits
5.5 s between two messages to one robot; a failed delivery must be seen and retried.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from pydantic import Field, SecretStr

from facmon.config import ConfigModel

Kind = Literal["webhook", "wecom", "dingtalk", "feishu", "email"]
_ROBOTS = {"wecom", "dingtalk", "feishu"}
_SECRET_PARAMS = {"key", "access_token", "secret", "token"}


class DeliveryError(Exception):
    """A notification that did not get through, with the reason."""

    def __init__(self, reason: str) -> None:
        """Keep ``reason``."""
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """Where a notification goes, parsed from its URL."""

    kind: Kind
    url: str
    """Where to POST (without the signing secret); for e-mail, empty."""
    secret: str | None = None
    recipients: tuple[str, ...] = ()
    shown: str = ""
    """The target as written, with keys, tokens and secrets hidden: safe to log and show."""


def parse_target(text: str) -> Target:
    """Parse a target URL.

    Raises:
        ValueError: not one of the forms in this module's description, naming what is wrong.
    """
    if text.startswith("mailto:"):
        recipients = tuple(a.strip() for a in text[len("mailto:") :].split(",") if a.strip())
        if not recipients or any("@" not in a or " " in a for a in recipients):
            raise ValueError(f"{text!r}: mailto: needs addresses, comma-separated")
        return Target("email", "", None, recipients, text)
    scheme, sep, rest = text.partition("+")
    kind: Kind = "webhook"
    if sep and scheme in _ROBOTS:
        kind = scheme  # type: ignore[assignment]
    else:
        rest = text
    parts = urlsplit(rest)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{text!r}: expected http(s)://..., wecom+https://..., dingtalk+https://..., "
            "feishu+https://... or mailto:..."
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    secret = next((v for k, v in query if k == "secret"), None)
    kept = urlencode([(k, v) for k, v in query if k != "secret"])
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, kept, ""))
    if kind == "wecom" and "key" not in dict(query):
        raise ValueError(f"{text!r}: a WeCom robot URL has ?key=...")
    if kind == "dingtalk" and "access_token" not in dict(query):
        raise ValueError(f"{text!r}: a DingTalk robot URL has ?access_token=...")
    hidden = urlencode([(k, "***" if k in _SECRET_PARAMS else v) for k, v in query])
    path = parts.path
    if kind == "feishu":  # the token is the last part of the path
        path = path.rstrip("/").rpartition("/")[0] + "/***"
    shown = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], path, hidden, ""))
    return Target(kind, url, secret, (), f"{kind}+{shown}" if kind in _ROBOTS else shown)


class SmtpConfig(ConfigModel):
    """The SMTP server e-mail notifications go through."""

    host: str
    """Server name or address."""
    port: int = Field(default=25, ge=1, le=65_535)
    """Server port (25, 587 with starttls, 465 with ssl)."""
    security: Literal["none", "starttls", "ssl"] = "starttls"
    """How the connection is protected."""
    username: str | None = None
    """Login, if the server wants one."""
    password: SecretStr | None = None
    """Password for ``username`` (better in an environment variable)."""
    sender: str
    """The From address."""
    sender_name: str = "facmon"
    """The From name."""
    timeout_s: float = Field(default=15.0, gt=0, le=300)
    """How long to wait for the server."""


@dataclass(frozen=True)
class Message:
    """One notification: a title, a text for people, and the alerts as data."""

    title: str
    text: str
    what: str
    """firing, resolved, reminder or escalation."""
    language: str
    alerts: list[dict[str, Any]]


async def deliver(
    target: Target, message: Message, http: httpx.AsyncClient, smtp: SmtpConfig | None
) -> None:
    """Send ``message`` to ``target``.

    Raises:
        DeliveryError: it did not get through (the reason says why).
    """
    if target.kind == "email":
        if smtp is None:
            raise DeliveryError("no SMTP server configured (alerts.smtp)")
        await asyncio.to_thread(_send_mail, smtp, target.recipients, message)
        return
    body, url = _robot_body(target, message)
    try:
        response = await http.post(url, json=body)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
    if response.status_code >= 300:
        raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")
    if target.kind in _ROBOTS:
        _check_robot_answer(target.kind, response)


def _robot_body(target: Target, message: Message) -> tuple[dict[str, Any], str]:
    text = f"{message.title}\n{message.text}"
    if target.kind == "webhook":
        return {
            "version": "1",
            "what": message.what,
            "title": message.title,
            "text": message.text,
            "language": message.language,
            "alerts": message.alerts,
        }, target.url
    if target.kind == "wecom":
        return {"msgtype": "text", "text": {"content": text}}, target.url
    if target.kind == "dingtalk":
        url = target.url
        if target.secret:
            stamp = str(int(time.time() * 1000))
            signed = hmac.new(
                target.secret.encode(), f"{stamp}\n{target.secret}".encode(), hashlib.sha256
            ).digest()
            url += "&" + urlencode({"timestamp": stamp, "sign": base64.b64encode(signed)})
        return {"msgtype": "text", "text": {"content": text}}, url
    body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
    if target.secret:  # Feishu signs with the string as key and an empty message
        stamp = str(int(time.time()))
        key = f"{stamp}\n{target.secret}".encode()
        body["timestamp"] = stamp
        body["sign"] = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    return body, target.url


def _check_robot_answer(kind: str, response: httpx.Response) -> None:
    """Robots answer HTTP 200 with an error code when they refuse."""
    try:
        answer = response.json()
    except ValueError:
        raise DeliveryError(f"{kind} answered something other than JSON") from None
    if not isinstance(answer, dict):
        raise DeliveryError(f"{kind} answered {str(answer)[:200]}")
    code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
    if code not in (0, None):
        detail = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage") or ""
        raise DeliveryError(f"{kind} refused it: code {code} {detail}".rstrip())


def _send_mail(smtp: SmtpConfig, recipients: tuple[str, ...], message: Message) -> None:
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = formataddr((smtp.sender_name, smtp.sender))
    mail["To"] = ", ".join(recipients)
    mail.set_content(message.text)
    try:
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout_s, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                password = smtp.password.get_secret_value() if smtp.password else ""
                client.login(smtp.username, password)
            client.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP {smtp.host}:{smtp.port}: {exc}") from None
