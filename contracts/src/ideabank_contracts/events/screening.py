"""Screening (utvärdering av förbättringsförslag): an ambassador judges an idea against
the tenant's common template and decides where it goes next."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ideabank_contracts.events.common import (
    Amount,
    Id,
    IdeaEventData,
    LongText,
    ShortText,
    Slug,
    Timestamp,
)


class ScreeningOutcome(StrEnum):
    """Result of a screening; each value is also the idea's next status."""

    REJECTED = "rejected"
    PAUSED = "paused"
    QUICK_WIN = "quick_win"
    IN_DEVELOPMENT = "in_development"


class CriterionScore(BaseModel):
    """The score an idea got on one criterion of the screening template."""

    model_config = ConfigDict(frozen=True)

    criterion_key: Slug = Field(description="Stable key of the criterion in the template")
    label: ShortText = Field(description="The criterion as worded in the template version")
    score: int = Field(ge=1, description="Score given, from 1 to scale_max")
    scale_max: int = Field(default=5, ge=2, le=10, description="Highest score of the scale")
    weight: Amount = Field(description="Weight of the criterion in the template version")
    note: LongText | None = Field(default=None, description="The ambassador's note")

    @model_validator(mode="after")
    def _score_on_scale(self) -> Self:
        if self.score > self.scale_max:
            raise ValueError(f"score {self.score} is above scale_max {self.scale_max}")
        return self


class ScreeningCompleted(IdeaEventData):
    """An ambassador screened the idea.

    `rejected` requires a motivation, `paused` a revisit date, and `quick_win` the
    org unit whose manager decides (`routed_to_org_unit_id`).
    """

    aggregate = "screening"
    event = "completed"

    screening_id: Id = Field(description="Id of the screening")
    actor_id: Id = Field(description="Person id of the screening ambassador")
    administration_id: Id = Field(description="Administration of the idea")
    outcome: ScreeningOutcome = Field(description="Where the idea goes next")
    motivation: LongText | None = Field(
        default=None, description="Feedback to the idea giver; required when rejected"
    )
    revisit_date: date | None = Field(
        default=None, description="When a paused idea returns to screening; required when paused"
    )
    criterion_scores: tuple[CriterionScore, ...] = Field(
        default=(), description="Score per criterion of the template"
    )
    template_version: int = Field(ge=1, description="Version of the screening template used")
    routed_to_org_unit_id: Id | None = Field(
        default=None, description="Org unit whose manager decides a quick win"
    )
    routed_to_person_id: Id | None = Field(
        default=None, description="Manager who decides a quick win, when known"
    )
    completed_at: Timestamp = Field(description="When the screening was completed")
    weighted_total: Amount | None = Field(
        default=None, description="Sum of score × weight over the criteria"
    )
    weighted_max: Amount | None = Field(
        default=None,
        description="Sum of scale_max × weight: the highest weighted_total possible",
    )

    @model_validator(mode="after")
    def _outcome_needs(self) -> Self:
        if self.outcome is ScreeningOutcome.REJECTED and not self.motivation:
            raise ValueError("a rejection requires a motivation")
        if self.outcome is ScreeningOutcome.PAUSED and self.revisit_date is None:
            raise ValueError("a pause requires a revisit_date")
        if self.outcome is ScreeningOutcome.QUICK_WIN and self.routed_to_org_unit_id is None:
            raise ValueError("a quick win requires routed_to_org_unit_id")
        return self
