"""The registry of every event version Ideabank publishes or receives.

Adding an event means adding its model to :data:`ALL_EVENTS`; schemas and the AsyncAPI
document are generated from this list (``python -m ideabank_contracts.generate``).
"""

from __future__ import annotations

from collections import Counter

from ideabank_contracts.envelope import CloudEvent, EventData
from ideabank_contracts.events import (
    AmbassadorAssigned,
    DecisionBasisSubmitted,
    DecisionEscalated,
    DecisionMade,
    DeviationRegistered,
    HeadcountSet,
    IdeaAdopted,
    IdeaAnnounced,
    IdeaAssigned,
    IdeaCommented,
    IdeaEvaluated,
    IdeaImplemented,
    IdeaMerged,
    IdeaOffered,
    IdeaRedacted,
    IdeaResumed,
    IdeaRevised,
    IdeaSubmitted,
    IdeaSupported,
    IdeaWithdrawn,
    IndicatorDefined,
    MeasurementRecorded,
    NetworkJoined,
    NetworkLeft,
    OrgUnitDefined,
    PersonRegistered,
    PersonUpdated,
    PlanAnchored,
    ScreeningCompleted,
    TargetSet,
    TenantRegistered,
    TrialRecorded,
)
from ideabank_contracts.subjects import check_token

#: Every event version, in lifecycle order; old versions stay here during deprecation.
ALL_EVENTS: list[type[EventData]] = [
    # intake
    IdeaSubmitted,
    IdeaRevised,
    IdeaWithdrawn,
    IdeaAssigned,
    IdeaCommented,
    IdeaSupported,
    IdeaMerged,
    # evaluation
    ScreeningCompleted,
    IdeaResumed,
    DecisionBasisSubmitted,
    # decision and implementation
    DecisionMade,
    DecisionEscalated,
    PlanAnchored,
    TrialRecorded,
    IdeaImplemented,
    IndicatorDefined,
    MeasurementRecorded,
    IdeaEvaluated,
    # spread and erasure
    IdeaAnnounced,
    IdeaOffered,
    IdeaAdopted,
    IdeaRedacted,
    # tenancy
    TenantRegistered,
    OrgUnitDefined,
    HeadcountSet,
    TargetSet,
    PersonRegistered,
    PersonUpdated,
    NetworkJoined,
    NetworkLeft,
    AmbassadorAssigned,
    # inbound from deviation and complaint systems
    DeviationRegistered,
]


def _check_catalogue(models: list[type[EventData]]) -> None:
    """Raise if two models share (aggregate, event, version) or use an unsafe subject token."""
    for model in models:
        check_token(model.aggregate, f"{model.__name__}.aggregate")
        check_token(model.event, f"{model.__name__}.event")
        if model.version < 1:
            raise ValueError(f"{model.__name__}.version must be 1 or more")
    keys = Counter((m.aggregate, m.event, m.version) for m in models)
    duplicates = sorted(f"{a}.{e}.v{v}" for (a, e, v), n in keys.items() if n > 1)
    if duplicates:
        raise ValueError(f"event versions defined more than once: {', '.join(duplicates)}")


_check_catalogue(ALL_EVENTS)

#: Event model by CloudEvents ``type``, e.g. ``se.ideabank.idea.submitted.v1``.
BY_TYPE: dict[str, type[EventData]] = {model.ce_type(): model for model in ALL_EVENTS}


def parse_data(ce: CloudEvent) -> EventData:
    """Validate ``ce.data`` as the model of ``ce.type``; KeyError if the type is unknown."""
    return BY_TYPE[ce.type].model_validate(ce.data)


def latest(aggregate: str, event: str) -> type[EventData]:
    """The newest version of an event; KeyError if there is none."""
    versions = [m for m in ALL_EVENTS if (m.aggregate, m.event) == (aggregate, event)]
    if not versions:
        raise KeyError(f"{aggregate}.{event}")
    return max(versions, key=lambda m: m.version)
