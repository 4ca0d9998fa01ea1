"""Per-person delivery preferences: per channel, immediately, in a daily or weekly digest,
or not at all."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class Channel(StrEnum):
    """Where a message is delivered."""

    INBOX = "inbox"
    EMAIL = "email"


class Mode(StrEnum):
    """When a channel delivers."""

    IMMEDIATE = "immediate"
    DAILY = "daily"
    WEEKLY = "weekly"
    OFF = "off"


DEFAULT_MODES: dict[Channel, Mode] = {Channel.INBOX: Mode.IMMEDIATE, Channel.EMAIL: Mode.IMMEDIATE}


def next_digest_at(mode: Mode, now: datetime, *, hour: int, weekday: int) -> datetime:
    """When a message that arrives ``now`` goes out in a ``mode`` digest.

    Daily digests go out at ``hour`` (UTC) the next time that hour comes; weekly ones at
    ``hour`` on ``weekday`` (0 = Monday).
    """
    at = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if mode is Mode.DAILY:
        return at if at > now else at + timedelta(days=1)
    if mode is Mode.WEEKLY:
        days = (weekday - now.weekday()) % 7
        at = at + timedelta(days=days)
        return at if at > now else at + timedelta(days=7)
    return now
