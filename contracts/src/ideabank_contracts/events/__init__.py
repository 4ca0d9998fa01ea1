"""Event payloads, one module per aggregate; :mod:`ideabank_contracts.catalogue` lists them."""

from ideabank_contracts.events.common import IdeaEventData, Money
from ideabank_contracts.events.decision import DecisionEscalated, DecisionMade
from ideabank_contracts.events.decision_basis import DecisionBasisSubmitted
from ideabank_contracts.events.deviations import DeviationRegistered
from ideabank_contracts.events.idea import (
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
    IdeaStatus,
    IdeaSubmitted,
    IdeaSupported,
    IdeaWithdrawn,
)
from ideabank_contracts.events.indicator import IndicatorDefined
from ideabank_contracts.events.measurement import MeasurementRecorded
from ideabank_contracts.events.plan import PlanAnchored
from ideabank_contracts.events.screening import ScreeningCompleted
from ideabank_contracts.events.tenancy import (
    AmbassadorAssigned,
    HeadcountSet,
    NetworkJoined,
    NetworkLeft,
    OrgUnitDefined,
    PersonRegistered,
    PersonUpdated,
    Role,
    TargetSet,
    TenantRegistered,
)
from ideabank_contracts.events.trial import TrialRecorded

__all__ = [
    "AmbassadorAssigned",
    "DecisionBasisSubmitted",
    "DecisionEscalated",
    "DecisionMade",
    "DeviationRegistered",
    "HeadcountSet",
    "IdeaAdopted",
    "IdeaAnnounced",
    "IdeaAssigned",
    "IdeaCommented",
    "IdeaEvaluated",
    "IdeaEventData",
    "IdeaImplemented",
    "IdeaMerged",
    "IdeaOffered",
    "IdeaRedacted",
    "IdeaResumed",
    "IdeaRevised",
    "IdeaStatus",
    "IdeaSubmitted",
    "IdeaSupported",
    "IdeaWithdrawn",
    "IndicatorDefined",
    "MeasurementRecorded",
    "Money",
    "NetworkJoined",
    "NetworkLeft",
    "OrgUnitDefined",
    "PersonRegistered",
    "PersonUpdated",
    "PlanAnchored",
    "Role",
    "ScreeningCompleted",
    "TargetSet",
    "TenantRegistered",
    "TrialRecorded",
]
