"""Request bodies of the decision API (validated by FastAPI; 422 names the field at fault)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from ideabank_contracts.events.common import Currency
from ideabank_contracts.events.decision import DecisionKind, DecisionOutcome
from ideabank_contracts.events.indicator import Cadence, Direction
from ideabank_contracts.events.trial import TrialVerdict
from pydantic import BaseModel, ConfigDict, Field

Text = Field(min_length=1, max_length=20_000)
Line = Field(min_length=1, max_length=300)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MoneyIn(_Body):
    """An amount of money in one currency."""

    amount: Decimal = Field(ge=0, max_digits=18, decimal_places=2)
    currency: Currency


class DecisionIn(_Body):
    """A decision on a quick win or an idea awaiting decision."""

    outcome: DecisionOutcome
    kind: DecisionKind | None = None
    implementer_id: str | None = Field(default=None, min_length=1, max_length=100)
    resources: str | None = Field(default=None, min_length=1, max_length=20_000)
    budget: MoneyIn | None = None
    hours: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    planned_start: date | None = None
    planned_end: date | None = None
    motivation: str | None = Field(default=None, max_length=20_000)
    revisit_date: date | None = None


class EscalationIn(_Body):
    """Why a manager hands a quick win to the management group."""

    motivation: str | None = Field(default=None, max_length=20_000)


class MilestoneIn(_Body):
    """One milestone of the plan."""

    title: str = Line
    due: date
    responsible_id: str | None = Field(default=None, min_length=1, max_length=100)


class PlanIn(_Body):
    """The implementation plan, made with the idea giver."""

    milestones: list[MilestoneIn] = Field(min_length=1, max_length=100)
    made_with_idea_giver: bool
    start: date | None = None
    end: date | None = None
    notes: str | None = Field(default=None, max_length=20_000)


class TrialIn(_Body):
    """A trial action (prøvehandling, PDSA cycle)."""

    hypothesis: str = Text
    start: date
    end: date
    result: str = Text
    verdict: TrialVerdict


class ImplementedIn(_Body):
    """What was implemented."""

    summary: str | None = Field(default=None, max_length=20_000)


class IndicatorIn(_Body):
    """A result indicator for following up the benefit."""

    name: str = Line
    unit: str = Line
    baseline: Decimal = Field(max_digits=20, decimal_places=4)
    target: Decimal = Field(max_digits=20, decimal_places=4)
    direction: Direction
    cadence: Cadence
    tolerance_percent: Decimal = Field(default=Decimal(10), ge=0, le=100, max_digits=7)
    description: str | None = Field(default=None, max_length=20_000)


class MeasurementIn(_Body):
    """A measured value of an indicator."""

    indicator_id: str = Field(min_length=1, max_length=64)
    value: Decimal = Field(max_digits=20, decimal_places=4)
    measured_at: date
    corrective_action: str | None = Field(default=None, max_length=20_000)


class EvaluationIn(_Body):
    """The evaluation of the innovation: realised benefit and lessons learned."""

    realised_benefit: MoneyIn | None = None
    hours: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    benefit_description: str | None = Field(default=None, max_length=20_000)
    lessons_learned: str = Text


class OfferIn(_Body):
    """What the network sees of the idea."""

    summary: str | None = Field(default=None, min_length=1, max_length=20_000)


class AdoptIn(_Body):
    """Adopt a fellow member's offered idea as a new idea of one's own."""

    origin_tenant: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=63)
    org_unit_id: str | None = Field(default=None, min_length=1, max_length=100)


class QueueKind(StrEnum):
    """Which queue an idea waits in."""

    MANAGEMENT = "management"
    MANAGER = "manager"
