"""Idea rules of intake (registrera och fördela): which status allows which act.

Intake owns submission, revision, withdrawal, merging and assignment; the later statuses
belong to evaluation and decision, and intake only follows them (``project_status``) so
that its own rules and list filters see the idea where it stands.
"""

from __future__ import annotations

from dataclasses import dataclass

SUBMITTED = "submitted"
IN_SCREENING = "in_screening"
REJECTED = "rejected"
PAUSED = "paused"
QUICK_WIN = "quick_win"
IN_DEVELOPMENT = "in_development"
AWAITING_DECISION = "awaiting_decision"
APPROVED = "approved"
DEFERRED = "deferred"
IN_IMPLEMENTATION = "in_implementation"
IMPLEMENTED = "implemented"
EVALUATED = "evaluated"
SPREAD = "spread"
WITHDRAWN = "withdrawn"
MERGED = "merged"

ALL_STATUSES = (
    SUBMITTED,
    IN_SCREENING,
    REJECTED,
    PAUSED,
    QUICK_WIN,
    IN_DEVELOPMENT,
    AWAITING_DECISION,
    APPROVED,
    DEFERRED,
    IN_IMPLEMENTATION,
    IMPLEMENTED,
    EVALUATED,
    SPREAD,
    WITHDRAWN,
    MERGED,
)

#: Statuses in which the idea giver may still edit, provided no screening was completed.
EDITABLE = frozenset({SUBMITTED, IN_SCREENING})
#: Statuses before a decision: the idea giver may withdraw. A deferral is not a final
#: decision (the idea returns to its decision queue), so a deferred idea may be withdrawn.
WITHDRAWABLE = frozenset(
    {SUBMITTED, IN_SCREENING, PAUSED, QUICK_WIN, IN_DEVELOPMENT, AWAITING_DECISION, DEFERRED}
)
#: A duplicate can be merged while it still waits for (or in) screening.
MERGEABLE = frozenset({SUBMITTED, IN_SCREENING, PAUSED})
#: An idea can absorb a duplicate unless it is itself gone.
MERGE_TARGETS = frozenset(ALL_STATUSES) - {WITHDRAWN, MERGED}
#: Ideas that are gone from the idea giver's point of view; other services' later
#: events (a screening that raced with a withdrawal) do not bring them back.
CLOSED_BY_INTAKE = frozenset({WITHDRAWN, MERGED})
#: Ideas still alive enough to be worth pointing out as a likely duplicate.
OPEN_FOR_DUPLICATES = frozenset(ALL_STATUSES) - {WITHDRAWN, MERGED}

#: Status that each status-changing event of another service leads to. Events whose
#: status depends on their data (screening, decision, resume) are handled in the function.
_FIXED_STATUS = {
    "decision_basis.submitted": AWAITING_DECISION,
    # A manager handed a quick win to the management group.
    "decision.escalated": AWAITING_DECISION,
    "plan.anchored": IN_IMPLEMENTATION,
    "idea.implemented": IMPLEMENTED,
    "idea.evaluated": EVALUATED,
    "idea.offered": SPREAD,
}
STATUS_EVENTS = (
    "screening.completed",
    "idea.resumed",
    "decision.made",
    *_FIXED_STATUS,
)


class RuleBroken(Exception):
    """An act that the idea's current state does not allow; ``field`` names the input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class IdeaState:
    """What intake's rules need to know about an idea."""

    status: str
    screened: bool = False


def check_edit(state: IdeaState) -> None:
    """An idea may be revised until screening starts (no completed screening)."""
    if state.status not in EDITABLE or state.screened:
        raise RuleBroken(f"an idea that is {state.status} and screened cannot be edited", "status")


def check_withdraw(state: IdeaState) -> None:
    """An idea may be withdrawn at any time before a decision."""
    if state.status not in WITHDRAWABLE:
        raise RuleBroken(f"an idea that is {state.status} cannot be withdrawn", "status")


def check_merge(duplicate: IdeaState, target: IdeaState, *, same_idea: bool) -> None:
    """A duplicate still in or before screening can be merged into another living idea."""
    if same_idea:
        raise RuleBroken("an idea cannot be merged into itself", "into_idea_id")
    if duplicate.status not in MERGEABLE:
        raise RuleBroken(f"an idea that is {duplicate.status} cannot be merged", "status")
    if target.status not in MERGE_TARGETS:
        raise RuleBroken(f"cannot merge into an idea that is {target.status}", "into_idea_id")


def needs_assignment(state: IdeaState) -> bool:
    """A submitted idea waits for its administration's ambassador."""
    return state.status == SUBMITTED


def project_status(
    state: IdeaState, event: str, *, outcome: str | None = None, to_status: str | None = None
) -> IdeaState:
    """The state after another service's status event ``<aggregate>.<event>``.

    Unknown events leave the state as it is; an idea intake closed (withdrawn, merged)
    stays closed.
    """
    if state.status in CLOSED_BY_INTAKE:
        return state
    if event == "screening.completed" and outcome in (REJECTED, PAUSED, QUICK_WIN, IN_DEVELOPMENT):
        return IdeaState(outcome, screened=True)
    if event == "decision.made" and outcome in (APPROVED, REJECTED, DEFERRED):
        return IdeaState(outcome, screened=True)
    if event == "idea.resumed" and to_status in ALL_STATUSES:
        return IdeaState(to_status, screened=state.screened)
    fixed = _FIXED_STATUS.get(event)
    if fixed is not None:
        return IdeaState(fixed, screened=True)
    return state
