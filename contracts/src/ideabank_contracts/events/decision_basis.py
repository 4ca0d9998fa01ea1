"""Development and decision basis (sammanställa beslutsunderlag) for a developed idea."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ideabank_contracts.events.common import (
    Amount,
    Id,
    IdeaEventData,
    LongText,
    Money,
    ShortText,
    Timestamp,
)
from ideabank_contracts.events.indicator import Direction


class ProposedIndicator(BaseModel):
    """An indicator the decision basis proposes for following up the benefit."""

    model_config = ConfigDict(frozen=True)

    name: ShortText = Field(description="What would be measured")
    unit: ShortText = Field(description="Unit of the values")
    direction: Direction = Field(description="Whether higher or lower values are better")
    baseline: Amount | None = Field(default=None, description="Value before the change, if known")
    target: Amount | None = Field(default=None, description="Value to reach")


class DecisionBasisSubmitted(IdeaEventData):
    """The decision basis is complete; the idea awaits a decision (`awaiting_decision`)."""

    aggregate = "decision_basis"
    event = "submitted"

    decision_basis_id: Id = Field(description="Id of the decision basis")
    actor_id: Id = Field(description="Person id of whoever compiled it")
    org_unit_id: Id = Field(description="Org unit the idea concerns")
    administration_id: Id = Field(description="Administration whose management group decides")
    description: LongText = Field(description="The developed idea")
    estimated_cost: Money | None = Field(default=None, description="Estimated cost")
    estimated_effort_hours: Amount | None = Field(
        default=None, description="Estimated effort in working hours"
    )
    resources_needed: LongText | None = Field(default=None, description="Resources needed")
    expected_effects_short_term: LongText = Field(description="Expected effects, short term")
    expected_effects_long_term: LongText = Field(description="Expected effects, long term")
    risks: LongText | None = Field(default=None, description="Risks and how to meet them")
    proposed_implementer_id: Id | None = Field(
        default=None, description="Person id of the proposed implementer"
    )
    proposed_indicators: tuple[ProposedIndicator, ...] = Field(
        default=(), description="Indicators proposed for following up the benefit"
    )
    submitted_at: Timestamp = Field(description="When the decision basis was submitted")
