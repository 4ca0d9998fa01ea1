"""Announcements (kommunicera): a draft for the communicator, approved once, then sent to
every person of the administration."""

from __future__ import annotations

from enum import StrEnum


class AnnouncementStatus(StrEnum):
    """Where an announcement stands."""

    DRAFT = "draft"
    SENDING = "sending"
    SENT = "sent"


class AnnouncementError(Exception):
    """An illegal step for an announcement (HTTP 409)."""


def check_approvable(status: str) -> None:
    """Only a draft can be approved; approving twice would announce twice."""
    if status != AnnouncementStatus.DRAFT:
        raise AnnouncementError(f"the announcement is already {status}")
