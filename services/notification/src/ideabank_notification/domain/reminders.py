"""Reminders for ideas that wait too long, and for paused or deferred ideas that came back."""

from __future__ import annotations

from datetime import datetime, timedelta

#: Roles that decide on an idea in each waiting status (SPEC §3: the management group for
#: developed ideas, the unit or department manager for quick wins).
DECIDERS: dict[str, tuple[str, ...]] = {
    "awaiting_decision": ("management",),
    "quick_win": ("unit_manager", "department_manager"),
}


def waiting_for(status: str) -> str | None:
    """``screening`` or ``decision`` for a status that waits on someone, else None."""
    if status == "in_screening":
        return "screening"
    if status in DECIDERS:
        return "decision"
    return None


def overdue_since(now: datetime, days: float) -> datetime:
    """Ideas waiting since before this moment are overdue."""
    return now - timedelta(days=days)


def reminder_key(kind: str, idea_id: str, since: datetime) -> str:
    """Identifies one reminder, so that each is sent once per wait."""
    return f"{kind}:{idea_id}:{since.isoformat()}"
