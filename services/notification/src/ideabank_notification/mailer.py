"""Email over SMTP (aiosmtplib): one connection per batch of messages."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from ideabank_notification.settings import NotificationSettings


@dataclass(frozen=True)
class Email:
    """One email to one person."""

    key: str
    to: str
    subject: str
    body: str


def build(settings: NotificationSettings, email: Email) -> EmailMessage:
    """The MIME message; its Message-ID derives from the dedup key so receivers can spot repeats."""
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = email.to
    msg["Subject"] = email.subject
    msg["Date"] = formatdate(usegmt=True)
    domain = settings.smtp_from.rpartition("@")[2] or "ideabank"
    msg["Message-ID"] = f"<{hashlib.sha256(email.key.encode()).hexdigest()[:32]}@{domain}>"
    msg.set_content(email.body)
    return msg


async def send_batch(
    settings: NotificationSettings, emails: Sequence[Email]
) -> dict[str, str | None]:
    """Send each email; the answer maps its key to None (sent) or the error."""
    results: dict[str, str | None] = {}
    if not emails:
        return results
    assert settings.smtp_host
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        timeout=settings.smtp_timeout_seconds,
        start_tls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=settings.smtp_password,
    )
    try:
        await client.connect()
    except Exception as exc:
        return {e.key: f"connect: {exc}" for e in emails}
    try:
        for email in emails:
            try:
                await client.send_message(build(settings, email))
                results[email.key] = None
            except Exception as exc:
                results[email.key] = f"{type(exc).__name__}: {exc}"
    finally:
        try:
            await client.quit()
        except Exception:  # noqa: S110 - the server may already have closed the connection
            pass
    return results
