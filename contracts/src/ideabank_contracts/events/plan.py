"""Implementation plan (förbereda och genomföra), anchored with the idea giver."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from ideabank_contracts.events.common import Id, IdeaEventData, LongText, ShortText, Timestamp


class Milestone(BaseModel):
    """One milestone of an implementation plan."""

    model_config = ConfigDict(frozen=True)

    milestone_id: Id = Field(description="Id of the milestone within the plan")
    title: ShortText = Field(description="What is done by then")
    due_date: date = Field(description="When it is due")
    responsible_id: Id | None = Field(default=None, description="Person id responsible")


class PlanAnchored(IdeaEventData):
    """The implementer anchored a plan with the idea giver (status `in_implementation`)."""

    aggregate = "plan"
    event = "anchored"

    plan_id: Id = Field(description="Id of the plan")
    actor_id: Id = Field(description="Person id of the implementer")
    anchored_with_ids: tuple[Id, ...] = Field(
        default=(), description="Person ids of the idea givers the plan was made with"
    )
    milestones: tuple[Milestone, ...] = Field(description="Milestones in date order")
    start_date: date = Field(description="When implementation starts")
    end_date: date | None = Field(default=None, description="When implementation should end")
    notes: LongText | None = Field(default=None, description="Anything else agreed")
    anchored_at: Timestamp = Field(description="When the plan was anchored")
