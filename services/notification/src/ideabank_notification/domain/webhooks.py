"""Webhook rules after the Standard Webhooks conventions: secrets, signatures, filters, retry."""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"
#: Tenancy person events carry names and email addresses: they never leave the platform.
NEVER_DELIVERED = ("person.*",)


class WebhookError(ValueError):
    """An invalid webhook registration, naming the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` for one secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per valid secret, space separated."""
    return " ".join(signature(s, msg_id, timestamp, body) for s in secrets_)


def validate_url(url: str) -> str:
    """The URL if it is an absolute http(s) URL with a host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise WebhookError("url", "only http and https URLs are accepted")
    if not parts.hostname:
        raise WebhookError("url", "the URL needs a host")
    return url.strip()


def validate_filters(patterns: Iterable[str]) -> list[str]:
    """Event type filters such as ``idea.*``, ``decision.made`` or ``*``."""
    out: list[str] = []
    for p in patterns:
        p = p.strip()
        if not p or len(p) > 100 or not all(c.isalnum() or c in "._*-" for c in p):
            raise WebhookError("event_types", f"invalid event type filter {p!r}")
        out.append(p)
    if not out:
        raise WebhookError("event_types", "give at least one event type filter, e.g. 'idea.*'")
    return out


def matches(patterns: Iterable[str], key: str) -> bool:
    """Whether event ``key`` (``<aggregate>.<event>``) passes the filter patterns."""
    if any(fnmatch.fnmatchcase(key, p) for p in NEVER_DELIVERED):
        return False
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def backoff_seconds(base: float, attempt: int) -> float:
    """Wait before retry number ``attempt`` (1, 2, …): base, 2·base, 4·base, …"""
    return float(base * (2 ** max(attempt - 1, 0)))


def succeeded(status_code: int | None) -> bool:
    """A 2xx answer counts as delivered."""
    return status_code is not None and 200 <= status_code < 300
