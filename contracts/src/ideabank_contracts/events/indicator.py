"""Result indicators (resultatindikatorer) of an implemented idea, for benefit realisation."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from ideabank_contracts.events.common import (
    Amount,
    Id,
    IdeaEventData,
    LongText,
    ShortText,
    Timestamp,
)


class Direction(StrEnum):
    """Which way the indicator should move for the idea to count as a success."""

    INCREASE = "increase"
    DECREASE = "decrease"


class Cadence(StrEnum):
    """How often the indicator is measured."""

    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"
    YEARLY = "yearly"


class IndicatorDefined(IdeaEventData):
    """A result indicator was defined for the idea, with baseline and target."""

    aggregate = "indicator"
    event = "defined"

    indicator_id: Id = Field(description="Id of the indicator")
    actor_id: Id = Field(description="Person id of whoever defined it")
    name: ShortText = Field(description="What is measured, e.g. 'waiting time at reception'")
    unit: ShortText = Field(description="Unit of the values, e.g. 'minutes' or '%'")
    baseline: Amount = Field(description="Value before the change")
    target: Amount = Field(description="Value to reach")
    direction: Direction = Field(description="Whether higher or lower values are better")
    cadence: Cadence = Field(description="How often it is measured")
    description: LongText | None = Field(default=None, description="How it is measured")
    tolerance_percent: Amount | None = Field(
        default=None,
        description="How far (in % of the target) a value may fall short of the target "
        "before it counts as off target and asks for a corrective action",
    )
    defined_at: Timestamp = Field(description="When the indicator was defined")
