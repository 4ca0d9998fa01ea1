"""Trial actions (prøvehandlinger, PDSA cycles) during implementation."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from ideabank_contracts.events.common import Id, IdeaEventData, LongText, Timestamp


class TrialVerdict(StrEnum):
    """What to do with the change after the trial (the PDSA 'act')."""

    ADOPT = "adopt"
    ADAPT = "adapt"
    ABANDON = "abandon"


class TrialRecorded(IdeaEventData):
    """A small-scale trial of the change was carried out and its result recorded."""

    aggregate = "trial"
    event = "recorded"

    trial_id: Id = Field(description="Id of the trial action")
    actor_id: Id = Field(description="Person id of whoever recorded it")
    cycle: int = Field(default=1, ge=1, description="Number of the trial in this idea's series")
    hypothesis: LongText = Field(description="What the trial was expected to show (plan)")
    start_date: date = Field(description="First day of the trial (do)")
    end_date: date = Field(description="Last day of the trial")
    result: LongText = Field(description="What happened (study)")
    verdict: TrialVerdict = Field(description="Adopt, adapt or abandon the change (act)")
    recorded_at: Timestamp = Field(description="When the trial was recorded")

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self
