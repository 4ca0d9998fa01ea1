"""Which transition tells whom what (SPEC §3: every transition that concerns the idea giver
reaches them, with the motivation where one is given).

``followers`` of an idea are its idea giver, its co-authors and the people who supported it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Audience(StrEnum):
    """Who a notice goes to."""

    FOLLOWERS = "followers"
    PEOPLE = "people"


@dataclass(frozen=True)
class Notice:
    """One message to send because of one event."""

    template: str
    audience: Audience = Audience.FOLLOWERS
    person_ids: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)


#: Status of an idea after each status-changing event (for the reminders' projection).
STATUS_AFTER: dict[str, str] = {
    "idea.submitted": "submitted",
    "idea.assigned": "in_screening",
    "decision_basis.submitted": "awaiting_decision",
    "plan.anchored": "in_implementation",
    "idea.implemented": "implemented",
    "idea.evaluated": "evaluated",
    "idea.offered": "spread",
    "idea.withdrawn": "withdrawn",
    "idea.merged": "merged",
}


def status_after(key: str, data: Mapping[str, Any]) -> str | None:
    """The idea's status after event ``key`` (``<aggregate>.<event>``), if it changes it."""
    if key in ("screening.completed", "decision.made"):
        return str(data["outcome"])
    if key == "idea.resumed":
        return str(data["to_status"])
    return STATUS_AFTER.get(key)


def _opt(data: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: data[k] for k in keys if data.get(k)}


def feedback_for(key: str, data: Mapping[str, Any]) -> list[Notice]:
    """The notices event ``key`` with payload ``data`` gives rise to."""
    actor = data.get("actor_id")
    if key == "idea.submitted":
        return [Notice("received")]
    if key == "idea.assigned":
        return [
            Notice("assigned"),
            Notice("to_screen", Audience.PEOPLE, person_ids=(data["ambassador_id"],)),
        ]
    if key == "screening.completed":
        notices = [
            Notice(
                f"screening_{data['outcome']}",
                params=_opt(data, "motivation", "revisit_date"),
            )
        ]
        if data["outcome"] == "quick_win" and data.get("routed_to_person_id"):
            notices.append(
                Notice(
                    "quick_win_to_decide",
                    Audience.PEOPLE,
                    person_ids=(data["routed_to_person_id"],),
                )
            )
        return notices
    if key == "idea.resumed":
        return [Notice("resumed")]
    if key == "decision_basis.submitted":
        return [Notice("decision_basis_submitted")]
    if key == "decision.made":
        notices = [
            Notice(
                f"decision_{data['outcome']}",
                params=_opt(data, "motivation", "revisit_date"),
            )
        ]
        if data["outcome"] == "approved" and data.get("implementer_id"):
            notices.append(
                Notice("implementer_named", Audience.PEOPLE, person_ids=(data["implementer_id"],))
            )
        return notices
    if key == "plan.anchored":
        return [Notice("plan_anchored")]
    if key == "idea.implemented":
        return [Notice("implemented")]
    if key == "idea.evaluated":
        return [Notice("evaluated")]
    if key == "idea.offered":
        return [Notice("offered")]
    if key == "idea.merged":
        return [Notice("merged", params=_opt(data, "motivation"))]
    if key == "idea.commented":
        # The commenter does not need to hear about their own comment.
        return [
            Notice(
                "commented",
                exclude=(actor,) if actor else (),
                params={"comment": data.get("body", "")},
            )
        ]
    return []
