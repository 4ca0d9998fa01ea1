"""Periodic measurements of a result indicator."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from ideabank_contracts.events.common import Amount, Id, IdeaEventData, LongText, Timestamp


class MeasurementRecorded(IdeaEventData):
    """A value of an indicator was measured; off target it asks for a corrective action."""

    aggregate = "measurement"
    event = "recorded"

    measurement_id: Id = Field(description="Id of the measurement")
    indicator_id: Id = Field(description="Indicator measured")
    actor_id: Id = Field(description="Person id of whoever recorded it")
    value: Amount = Field(description="Measured value, in the indicator's unit")
    measured_at: date = Field(description="Date (end of period) the value refers to")
    off_target: bool = Field(description="The value deviates from the indicator's target")
    corrective_action: LongText | None = Field(
        default=None, description="What will be done about a deviation from target"
    )
    recorded_at: Timestamp = Field(description="When the measurement was recorded")
