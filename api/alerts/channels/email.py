"""E-mail: ``mailto:ops@example.com,duty@example.com``, through the configured SMTP server."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr

import httpx

from api.alerts.channels.base import DeliveryError, Message, NotWritten, Target
from api.alerts.channels.registry import register
from api.alerts.channels.smtp import SmtpConfig


class Email:
    """E-mail to one or more addresses; the subject is the title, the body the text."""

    name = "email"
    schemes = ("mailto",)
    form = "mailto:..."

    def parse(self, text: str) -> Target:
        """Parse ``mailto:`` and comma-separated addresses.

        Raises:
            NotWritten: it does not start with ``mailto:``.
            ValueError: no addresses, or one that is not an address.
        """
        if not text.startswith("mailto:"):
            raise NotWritten(text)
        recipients = tuple(a.strip() for a in text[len("mailto:") :].split(",") if a.strip())
        if not recipients or any("@" not in a or " " in a for a in recipients):
            raise ValueError(f"{text!r}: mailto: needs addresses, comma-separated")
        return Target(self.name, "", None, recipients, text)

    def render(
        self, smtp: SmtpConfig, recipients: tuple[str, ...], message: Message
    ) -> EmailMessage:
        """The e-mail for ``message``."""
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = formataddr((smtp.sender_name, smtp.sender))
        mail["To"] = ", ".join(recipients)
        mail.set_content(message.text)
        return mail

    async def send(
        self, target: Target, message: Message, http: httpx.AsyncClient, smtp: SmtpConfig | None
    ) -> None:
        """Send it through ``smtp`` (in a thread: smtplib blocks).

        Raises:
            DeliveryError: no SMTP server is configured, or the server did not take it.
        """
        if smtp is None:
            raise DeliveryError("no SMTP server configured (alerts.smtp)")
        mail = self.render(smtp, target.recipients, message)
        await asyncio.to_thread(_send_mail, smtp, mail)


def _send_mail(smtp: SmtpConfig, mail: EmailMessage) -> None:
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


register(Email())
