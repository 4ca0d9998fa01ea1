"""The idea statuses evaluation keeps, and how events of other services move them.

Evaluation owns in_screening → rejected | paused | quick_win | in_development, paused →
in_screening, and in_development → awaiting_decision. It follows intake's events for the
rest (submitted, assigned, withdrawn, merged) so that its own rules see the current status.
"""

from __future__ import annotations

from datetime import date

from ideabank_evaluation.domain.errors import InvalidTransition

#: Statuses an idea never leaves.
FINAL = frozenset({"withdrawn", "merged"})


def after_assigned(status: str) -> str:
    """An assignment puts a waiting idea in the queue; later, it only changes the ambassador."""
    return "in_screening" if status == "submitted" else status


def after_withdrawn_or_merged(status: str, new_status: str) -> str:
    """Withdrawal and merge end the idea, whatever evaluation thought it was."""
    return status if status in FINAL else new_status


def is_due(*, status: str, revisit_date: date | None, today: date) -> bool:
    """A paused idea returns to the queue on (or after) its revisit date."""
    return status == "paused" and revisit_date is not None and revisit_date <= today


def check_in_development(status: str) -> None:
    """A decision basis is compiled only for an idea in development."""
    if status != "in_development":
        raise InvalidTransition(
            f"the idea is {status}; a decision basis is compiled only in_development"
        )
