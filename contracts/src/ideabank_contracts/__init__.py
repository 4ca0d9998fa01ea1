"""Ideabank contracts: the only code services share about each other (no behaviour)."""

# After the envelope: the catalogue imports every event module, which import the envelope.
from ideabank_contracts.catalogue import ALL_EVENTS, BY_TYPE, parse_data
from ideabank_contracts.envelope import CloudEvent, EventData, new_event
from ideabank_contracts.ids import new_id
from ideabank_contracts.subjects import STREAM_NAME, STREAM_SUBJECTS, subject_for

__all__ = [
    "ALL_EVENTS",
    "BY_TYPE",
    "STREAM_NAME",
    "STREAM_SUBJECTS",
    "CloudEvent",
    "EventData",
    "new_event",
    "new_id",
    "parse_data",
    "subject_for",
]
