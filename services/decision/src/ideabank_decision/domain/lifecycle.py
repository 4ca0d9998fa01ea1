"""The second half of the idea lifecycle (SPEC §3): decision, implementation, evaluation, spread.

Statuses are the strings of the contracts' ``IdeaStatus``. Each action of this service names
the statuses it may start from; anything else is an illegal transition (409).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from ideabank_decision.domain.errors import Forbidden, IllegalTransition, InvalidInput

SUBMITTED = "submitted"
IN_SCREENING = "in_screening"
PAUSED = "paused"
QUICK_WIN = "quick_win"
IN_DEVELOPMENT = "in_development"
AWAITING_DECISION = "awaiting_decision"
APPROVED = "approved"
REJECTED = "rejected"
DEFERRED = "deferred"
IN_IMPLEMENTATION = "in_implementation"
IMPLEMENTED = "implemented"
EVALUATED = "evaluated"
SPREAD = "spread"
WITHDRAWN = "withdrawn"
MERGED = "merged"

#: Statuses the other services (intake, evaluation) move an idea between; once this service
#: has decided, their late or replayed events no longer change the status it keeps.
BEFORE_DECISION = frozenset(
    {SUBMITTED, IN_SCREENING, PAUSED, QUICK_WIN, IN_DEVELOPMENT, AWAITING_DECISION}
)
DECIDED = frozenset(
    {APPROVED, REJECTED, DEFERRED, IN_IMPLEMENTATION, IMPLEMENTED, EVALUATED, SPREAD}
)
DECIDABLE = frozenset({QUICK_WIN, AWAITING_DECISION})

# Which action may start from which statuses, and where it leads.
ACTIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "escalate": (frozenset({QUICK_WIN}), AWAITING_DECISION),
    "plan": (frozenset({APPROVED}), IN_IMPLEMENTATION),
    "trial": (frozenset({IN_IMPLEMENTATION}), None),
    "implement": (frozenset({IN_IMPLEMENTATION}), IMPLEMENTED),
    "define_indicator": (frozenset({APPROVED, IN_IMPLEMENTATION, IMPLEMENTED}), None),
    "measure": (frozenset({IN_IMPLEMENTATION, IMPLEMENTED, EVALUATED, SPREAD}), None),
    "evaluate": (frozenset({IMPLEMENTED}), EVALUATED),
    "offer": (frozenset({EVALUATED}), SPREAD),
}

_WHY_NOT: dict[str, dict[str, str]] = {
    "plan": {IN_IMPLEMENTATION: "a plan is already anchored for this idea"},
    "trial": {APPROVED: "anchor a plan before recording trial actions"},
    "implement": {
        APPROVED: "no plan is anchored yet: anchor a plan before reporting it implemented"
    },
    "evaluate": {IN_IMPLEMENTATION: "the idea is not implemented yet"},
    "offer": {SPREAD: "the idea is already offered to the network"},
}


def check_action(action: str, status: str) -> str | None:
    """Raise IllegalTransition unless ``action`` may start from ``status``; return the next status."""
    allowed, to = ACTIONS[action]
    if status not in allowed:
        reason = _WHY_NOT.get(action, {}).get(status)
        raise IllegalTransition(
            reason
            or f"cannot {action.replace('_', ' ')} an idea that is {status} "
            f"(allowed from: {', '.join(sorted(allowed))})",
            field="status",
        )
    return to


@dataclass(frozen=True)
class Decision:
    """A decision as asked for, before it is checked."""

    outcome: str
    kind: str | None = None
    implementer_id: str | None = None
    motivation: str | None = None
    revisit_date: date | None = None


def check_decision(decision: Decision, *, status: str, today: date, implementer_known: bool) -> str:
    """Check a decision against the idea's status and the outcome's needs; return the next status."""
    if status not in DECIDABLE:
        if status in DECIDED:
            raise IllegalTransition(f"the idea is already decided ({status})", field="status")
        raise IllegalTransition(
            f"the idea is {status}: only quick wins and ideas awaiting decision can be decided",
            field="status",
        )
    if decision.outcome == APPROVED:
        if not decision.kind:
            raise InvalidInput("an approval needs a kind (direct, assignment, project)", "kind")
        if not decision.implementer_id:
            raise InvalidInput("an approval needs an implementer", "implementer_id")
        if not implementer_known:
            raise InvalidInput("no such person in this tenant", "implementer_id")
    elif decision.outcome == REJECTED:
        if not (decision.motivation and decision.motivation.strip()):
            raise InvalidInput("a rejection needs a motivation for the idea giver", "motivation")
    elif decision.outcome == DEFERRED:
        if decision.revisit_date is None:
            raise InvalidInput("a deferral needs a revisit date", "revisit_date")
        if decision.revisit_date <= today:
            raise InvalidInput("the revisit date must be in the future", "revisit_date")
    else:
        raise InvalidInput("outcome must be approved, rejected or deferred", "outcome")
    return decision.outcome


def is_within(unit_id: str | None, ancestor_id: str, parents: Mapping[str, str | None]) -> bool:
    """True when ``unit_id`` is ``ancestor_id`` or lies below it in the org-unit tree."""
    seen: set[str] = set()
    current = unit_id
    while current is not None and current not in seen:
        if current == ancestor_id:
            return True
        seen.add(current)
        current = parents.get(current)
    return False


MANAGER_ROLES = ("unit_manager", "department_manager")


def decider_for(
    *,
    status: str,
    roles: frozenset[str],
    caller_org_unit: str | None,
    caller_administration: str | None,
    routed_org_unit: str | None,
    administration_id: str,
    parents: Mapping[str, str | None],
) -> str:
    """Which body decides this idea for this caller; Forbidden when the caller may not.

    Quick wins are decided by the unit or department manager of the org unit they were
    routed to (or of one above it); ideas awaiting decision by the management group of
    their administration.
    """
    if status == QUICK_WIN:
        held = [r for r in MANAGER_ROLES if r in roles]
        if not held:
            raise Forbidden("a quick win is decided by a unit or department manager")
        if caller_org_unit is None or not is_within(routed_org_unit, caller_org_unit, parents):
            raise Forbidden("this quick win is routed to an org unit outside yours")
        # A department manager deciding for a unit below acts as department manager.
        return "department_manager" if "department_manager" in held else held[0]
    if "management" not in roles:
        raise Forbidden("an idea awaiting decision is decided by the management group")
    if caller_administration != administration_id:
        raise Forbidden("this idea belongs to another administration's management group")
    return "management"


def check_escalation(
    *,
    status: str,
    roles: frozenset[str],
    caller_org_unit: str | None,
    routed_org_unit: str | None,
    parents: Mapping[str, str | None],
) -> None:
    """A manager may hand a quick win routed to their org unit to the management group."""
    check_action("escalate", status)
    if not any(r in roles for r in MANAGER_ROLES):
        raise Forbidden("only a unit or department manager escalates a quick win")
    if caller_org_unit is None or not is_within(routed_org_unit, caller_org_unit, parents):
        raise Forbidden("this quick win is routed to an org unit outside yours")


def resume_status(decided_from: str | None) -> str:
    """Where a deferred idea returns on its revisit date: the queue it was decided from."""
    return decided_from if decided_from in DECIDABLE else AWAITING_DECISION
