"""Decision on implementation (beslut om genomförande)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from ideabank_contracts.events.common import (
    Amount,
    Id,
    IdeaEventData,
    LongText,
    Money,
    Timestamp,
)
from ideabank_contracts.events.idea import IdeaStatus


class DecisionOutcome(StrEnum):
    """Result of a decision; each value is also the idea's next status."""

    APPROVED = "approved"
    REJECTED = "rejected"
    DEFERRED = "deferred"


class DecisionKind(StrEnum):
    """How an approved idea is carried out."""

    DIRECT = "direct"
    ASSIGNMENT = "assignment"
    PROJECT = "project"


class DecisionBody(StrEnum):
    """Who decided: the management group for developed ideas, a manager for quick wins."""

    MANAGEMENT = "management"
    UNIT_MANAGER = "unit_manager"
    DEPARTMENT_MANAGER = "department_manager"


class DecisionMade(IdeaEventData):
    """A decision on a quick win or a developed idea.

    `approved` requires `kind` and `implementer_id`, `rejected` a motivation and
    `deferred` a revisit date.
    """

    aggregate = "decision"
    event = "made"

    decision_id: Id = Field(description="Id of the decision")
    actor_id: Id = Field(description="Person id of whoever recorded the decision")
    decided_by: DecisionBody = Field(description="The body or role that decided")
    org_unit_id: Id = Field(description="Org unit the idea concerns")
    administration_id: Id = Field(description="Administration of that org unit")
    outcome: DecisionOutcome = Field(description="The decision")
    kind: DecisionKind | None = Field(
        default=None, description="Direct change, assignment or project; required when approved"
    )
    implementer_id: Id | None = Field(
        default=None, description="Person id of the implementer; required when approved"
    )
    resources: LongText | None = Field(default=None, description="Resources granted")
    budget: Money | None = Field(default=None, description="Budget granted")
    hours: Amount | None = Field(default=None, description="Working hours granted")
    planned_start: date | None = Field(default=None, description="Planned start")
    planned_end: date | None = Field(default=None, description="Planned end")
    motivation: LongText | None = Field(
        default=None, description="Feedback to the idea giver; required when rejected"
    )
    revisit_date: date | None = Field(
        default=None, description="When a deferred idea is taken up again; required when deferred"
    )
    decided_at: Timestamp = Field(description="When the decision was made")

    @model_validator(mode="after")
    def _outcome_needs(self) -> Self:
        if self.outcome is DecisionOutcome.APPROVED and (
            self.kind is None or self.implementer_id is None
        ):
            raise ValueError("an approval requires kind and implementer_id")
        if self.outcome is DecisionOutcome.REJECTED and not self.motivation:
            raise ValueError("a rejection requires a motivation")
        if self.outcome is DecisionOutcome.DEFERRED and self.revisit_date is None:
            raise ValueError("a deferral requires a revisit_date")
        return self


class DecisionEscalated(IdeaEventData):
    """A unit or department manager escalated a quick win to the management group.

    The idea leaves the manager's queue and awaits the management group's decision
    (status `awaiting_decision`).
    """

    aggregate = "decision"
    event = "escalated"

    actor_id: Id = Field(description="Person id of the manager who escalated it")
    org_unit_id: Id = Field(description="Org unit the idea concerns")
    administration_id: Id = Field(description="Administration whose management group decides")
    from_status: IdeaStatus = Field(
        default=IdeaStatus.QUICK_WIN, description="Status before escalation: quick_win"
    )
    to_status: IdeaStatus = Field(
        default=IdeaStatus.AWAITING_DECISION, description="Status after: awaiting_decision"
    )
    motivation: LongText | None = Field(default=None, description="Why it was escalated")
    escalated_at: Timestamp = Field(description="When the idea was escalated")
