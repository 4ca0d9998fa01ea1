"""How events build the idea fact row (one per idea) and its timeline.

The fact row holds the first time each stage was reached, so every lead time is a
subtraction, and the current status, so backlogs are a count. Events are applied in
stream order; applying the same ordered history to a fresh row always gives the same row,
which is what makes a replay equal the live read model.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

#: ``<aggregate>.<event>`` → the status an idea has after it (SPEC §3, agreed event flow).
STATUS_AFTER: dict[str, str] = {
    "idea.submitted": "submitted",
    "idea.assigned": "in_screening",
    "decision_basis.submitted": "awaiting_decision",
    "decision.escalated": "awaiting_decision",
    "plan.anchored": "in_implementation",
    "idea.implemented": "implemented",
    "idea.evaluated": "evaluated",
    "idea.offered": "spread",
    "idea.withdrawn": "withdrawn",
    "idea.merged": "merged",
    "idea.adopted": "submitted",
}

#: Events that answer the idea giver (återkoppling): the first one is the first feedback.
FEEDBACK_EVENTS = frozenset({"screening.completed", "decision.made", "idea.merged"})

#: Idea events that do not move the status but belong on the timeline.
TIMELINE_ONLY = frozenset(
    {
        "idea.revised",
        "idea.commented",
        "idea.supported",
        "trial.recorded",
        "indicator.defined",
        "measurement.recorded",
        "idea.announced",
    }
)

#: Stage name → (start column, end column) of the lead time reported for it, in days.
STAGES: dict[str, tuple[str, str]] = {
    "submitted": ("submitted_at", "assigned_at"),
    "in_screening": ("assigned_at", "screened_at"),
    "in_development": ("development_at", "decision_basis_at"),
    "awaiting_decision": ("awaiting_decision_at", "decided_at"),
    "approved": ("approved_at", "plan_anchored_at"),
    "in_implementation": ("plan_anchored_at", "implemented_at"),
    "approved_to_implemented": ("approved_at", "implemented_at"),
    "implemented_to_evaluated": ("implemented_at", "evaluated_at"),
    "submitted_to_implemented": ("submitted_at", "implemented_at"),
}

FEEDBACK_DAYS = "feedback_days"
SECONDS_PER_DAY = 86400.0


def utc_naive(value: datetime) -> datetime:
    """The instant in UTC without tzinfo: how both databases store and compare it."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def parse_time(value: Any) -> datetime | None:
    """An event timestamp (ISO string or datetime) as naive UTC, or None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return utc_naive(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return utc_naive(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def to_hundredths(value: Any) -> int | None:
    """An exact decimal amount (money, hours) as an integer count of hundredths."""
    if value is None:
        return None
    return int((Decimal(str(value)) * 100).to_integral_value(rounding=ROUND_HALF_UP))


def days_between(start: datetime | None, end: datetime | None) -> float | None:
    """Whole and fractional days from ``start`` to ``end``; None unless both are known."""
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / SECONDS_PER_DAY, 6)


@dataclass
class IdeaFact:
    """One idea as reporting sees it: its cell, its stages' first times, its outcome."""

    tenant: str
    idea_id: str
    title: str | None = None
    org_unit_id: str | None = None
    administration_id: str | None = None
    category: str | None = None
    channel: str | None = None
    giver_id: str | None = None
    anonymous: bool = False
    submitted_at: datetime | None = None
    year: int | None = None
    month: int | None = None
    status: str | None = None
    status_at: datetime | None = None
    assigned_at: datetime | None = None
    screened_at: datetime | None = None
    screening_outcome: str | None = None
    feedback_at: datetime | None = None
    motivated: bool = False
    development_at: datetime | None = None
    decision_basis_at: datetime | None = None
    awaiting_decision_at: datetime | None = None
    decided_at: datetime | None = None
    decision_outcome: str | None = None
    approved_at: datetime | None = None
    plan_anchored_at: datetime | None = None
    implemented_at: datetime | None = None
    evaluated_at: datetime | None = None
    offered_at: datetime | None = None
    withdrawn_at: datetime | None = None
    merged_at: datetime | None = None
    times_paused: int = 0
    times_deferred: int = 0
    trials: int = 0
    comments: int = 0
    supports: int = 0
    benefit_money: int | None = None
    benefit_currency: str | None = None
    benefit_hours: int | None = None
    benefit_description: str | None = None
    lessons_learned: str | None = None
    implementation_summary: str | None = None
    origin_tenant: str | None = None
    origin_idea_id: str | None = None
    times_adopted: int = 0
    events_seen: int = 0
    feedback_days: float | None = None
    stage_submitted: float | None = None
    stage_in_screening: float | None = None
    stage_in_development: float | None = None
    stage_awaiting_decision: float | None = None
    stage_approved: float | None = None
    stage_in_implementation: float | None = None
    stage_approved_to_implemented: float | None = None
    stage_implemented_to_evaluated: float | None = None
    stage_submitted_to_implemented: float | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> IdeaFact:
        """A fact from a stored row (unknown columns ignored)."""
        return cls(**{k: v for k, v in row.items() if k in _FACT_FIELDS})

    def as_row(self) -> dict[str, Any]:
        """The row to store (every field is a plain value: a shallow copy is the row)."""
        return self.__dict__.copy()

    @property
    def cell(self) -> tuple[str, int, int] | None:
        """(tenant, year, month) of the submission: the cohort this idea counts in."""
        if self.year is None or self.month is None:
            return None
        return (self.tenant, self.year, self.month)

    def first(self, column: str, at: datetime) -> None:
        """Keep the earliest time a stage was reached."""
        current = getattr(self, column)
        if current is None or at < current:
            setattr(self, column, at)

    def move(self, status: str, at: datetime) -> None:
        """The idea's status is now ``status``."""
        self.status = status
        self.status_at = at

    def derive(self) -> None:
        """Recompute the lead times (days) from the stage times."""
        self.feedback_days = days_between(self.submitted_at, self.feedback_at)
        times = self.__dict__
        for column, start, end in _STAGE_COLUMNS:
            times[column] = days_between(times[start], times[end])


_FACT_FIELDS = frozenset(f.name for f in fields(IdeaFact))
#: Each stage's lead-time column and the two times it lies between.
_STAGE_COLUMNS = tuple((f"stage_{stage}", start, end) for stage, (start, end) in STAGES.items())


@dataclass(frozen=True)
class TimelineEntry:
    """One event on an idea's timeline."""

    tenant: str
    idea_id: str
    position: int
    event_id: str
    event_type: str
    at: datetime
    status: str | None
    actor_id: str | None
    outcome: str | None
    motivation: str | None

    def as_row(self) -> dict[str, Any]:
        """The row to store (every field is a plain value: a shallow copy is the row)."""
        return self.__dict__.copy()


def event_time(kind: str, data: dict[str, Any], fallback: datetime) -> datetime:
    """When the state change happened: the event's own ``*_at`` field, else its envelope time."""
    stem = kind.split(".")[1]
    candidates = (f"{stem}_at", "completed_at", "decided_at", "submitted_at", "recorded_at")
    for key in candidates:
        parsed = parse_time(data.get(key))
        if parsed is not None:
            return parsed
    return utc_naive(fallback)


def apply_idea_event(
    fact: IdeaFact,
    kind: str,
    data: dict[str, Any],
    at: datetime,
    event_id: str,
    *,
    derive: bool = True,
) -> TimelineEntry | None:
    """Apply one idea event (``<aggregate>.<event>``) to ``fact``; its timeline entry, if any.

    ``derive=False`` leaves the lead times to the caller, who derives each fact once after
    a batch of events instead of after every event.
    """
    if kind not in STATUS_AFTER and kind not in TIMELINE_ONLY and kind not in _MOVERS:
        return None
    outcome: str | None = None
    motivation: str | None = data.get("motivation")
    if kind == "idea.submitted":
        _place(fact, data)
        fact.channel = data.get("channel") or fact.channel
        fact.giver_id = data.get("actor_id")
        fact.anonymous = bool(data.get("anonymous", False))
        _submitted(fact, at)
    elif kind == "idea.revised":
        _place(fact, data)
    elif kind == "idea.assigned":
        fact.first("assigned_at", at)
        if fact.status in (None, "submitted"):
            fact.move("in_screening", at)
    elif kind == "screening.completed":
        outcome = str(data["outcome"])
        fact.first("screened_at", at)
        if fact.screening_outcome is None:
            fact.screening_outcome = outcome
        if outcome == "in_development":
            fact.first("development_at", at)
        elif outcome == "quick_win":
            fact.first("awaiting_decision_at", at)
        elif outcome == "paused":
            fact.times_paused += 1
        fact.move(outcome, at)
    elif kind == "idea.resumed":
        outcome = str(data["to_status"])
        if outcome == "awaiting_decision":
            fact.first("awaiting_decision_at", at)
        fact.move(outcome, at)
    elif kind == "decision_basis.submitted":
        fact.first("decision_basis_at", at)
        fact.first("awaiting_decision_at", at)
    elif kind == "decision.escalated":
        fact.first("awaiting_decision_at", at)
    elif kind == "decision.made":
        outcome = str(data["outcome"])
        fact.first("decided_at", at)
        fact.decision_outcome = outcome
        if outcome == "approved":
            fact.first("approved_at", at)
        elif outcome == "deferred":
            fact.times_deferred += 1
        fact.move(outcome, at)
    elif kind == "plan.anchored":
        fact.first("plan_anchored_at", at)
    elif kind == "trial.recorded":
        fact.trials += 1
        outcome = data.get("verdict")
    elif kind == "idea.implemented":
        fact.first("implemented_at", at)
        fact.implementation_summary = data.get("summary") or fact.implementation_summary
    elif kind == "idea.evaluated":
        fact.first("evaluated_at", at)
        money = data.get("realised_benefit") or {}
        fact.benefit_money = to_hundredths(money.get("amount"))
        fact.benefit_currency = money.get("currency")
        fact.benefit_hours = to_hundredths(data.get("realised_hours"))
        fact.benefit_description = data.get("benefit_description")
        fact.lessons_learned = data.get("lessons_learned")
    elif kind == "idea.offered":
        fact.first("offered_at", at)
    elif kind == "idea.withdrawn":
        fact.first("withdrawn_at", at)
    elif kind == "idea.merged":
        fact.first("merged_at", at)
        outcome = "merged"
    elif kind == "idea.commented":
        fact.comments += 1
    elif kind == "idea.supported":
        fact.supports += 1
    elif kind == "idea.adopted":
        _place(fact, data)
        fact.channel = "network"
        fact.origin_tenant = data.get("origin_tenant")
        fact.origin_idea_id = data.get("origin_idea_id")
        _submitted(fact, at)
    if kind in STATUS_AFTER and kind not in ("idea.assigned", "idea.submitted", "idea.adopted"):
        fact.move(STATUS_AFTER[kind], at)
    if kind in FEEDBACK_EVENTS:
        fact.first("feedback_at", at)
        if motivation:
            fact.motivated = True
    fact.events_seen += 1
    if derive:
        fact.derive()
    actor = data.get("actor_id")
    if fact.anonymous and actor is not None and actor == fact.giver_id:
        actor = None  # an anonymous idea giver is never shown, not even by id
    return TimelineEntry(
        tenant=fact.tenant,
        idea_id=fact.idea_id,
        position=fact.events_seen,
        event_id=event_id,
        event_type=kind,
        at=at,
        status=fact.status,
        actor_id=actor,
        outcome=outcome,
        motivation=motivation if kind in FEEDBACK_EVENTS or kind == "decision.escalated" else None,
    )


def apply_adoption_to_origin(origin: IdeaFact) -> None:
    """The origin tenant's idea was adopted by another tenant (an adoption given)."""
    origin.times_adopted += 1


_MOVERS = frozenset({"screening.completed", "idea.resumed", "decision.made", "decision.escalated"})


def _place(fact: IdeaFact, data: dict[str, Any]) -> None:
    for key in ("title", "org_unit_id", "administration_id", "category"):
        if data.get(key):
            setattr(fact, key, data[key])


def _submitted(fact: IdeaFact, at: datetime) -> None:
    # Every submitted idea belongs to a KPI cell, even when the event names no category.
    fact.channel = fact.channel or ""
    fact.category = fact.category or ""
    if fact.submitted_at is None:
        fact.submitted_at = at
        fact.year, fact.month = at.year, at.month
    if fact.status is None:
        fact.move("submitted", at)
