"""Use cases of the decision service. Each runs inside the caller's open transaction, so the
state change, its events (outbox) and its audit row commit together or not at all.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ideabank_contracts import CloudEvent, EventData, new_event, new_id
from ideabank_contracts.events import (
    DecisionMade,
    IdeaAdopted,
    IdeaEvaluated,
    IdeaImplemented,
    IdeaOffered,
    IdeaResumed,
    IndicatorDefined,
    MeasurementRecorded,
    Money,
    PlanAnchored,
    TrialRecorded,
)
from ideabank_contracts.events.decision import (
    DecisionBody,
    DecisionEscalated,
    DecisionOutcome,
)
from ideabank_contracts.events.idea import IdeaStatus
from ideabank_contracts.events.indicator import Cadence, Direction
from ideabank_contracts.events.plan import Milestone
from ideabank_contracts.events.trial import TrialVerdict
from ideabank_infra.auth import Principal
from ideabank_infra.db import Database
from ideabank_infra.outbox import enqueue
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ideabank_decision import store
from ideabank_decision.domain import Forbidden, IllegalTransition, InvalidInput
from ideabank_decision.domain import benefits as bf
from ideabank_decision.domain import lifecycle as lc
from ideabank_decision.schemas import (
    AdoptIn,
    DecisionIn,
    EscalationIn,
    EvaluationIn,
    ImplementedIn,
    IndicatorIn,
    MeasurementIn,
    OfferIn,
    PlanIn,
    TrialIn,
)
from ideabank_decision.store import (
    adoptions,
    decisions,
    evaluations,
    ideas,
    indicators,
    measurements,
    network_members,
    offers,
    plans,
    tenants,
    trials,
)

SOURCE = "/ideabank/decision"


class NotFound(Exception):
    """The thing does not exist in the caller's tenant (404, so existence does not leak)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


async def _emit(
    conn: AsyncConnection,
    *,
    tenant: str,
    idea_id: str,
    data: EventData,
    actor_id: str | None,
    at: datetime,
    action: str,
    detail: dict[str, Any] | None = None,
) -> CloudEvent:
    """Enqueue the event and write its audit row in the open transaction."""
    event = new_event(data, tenant=tenant, subject=idea_id, source=SOURCE, time=at)
    await enqueue(conn, [event])
    await store.audit(
        conn,
        tenant=tenant,
        actor_id=actor_id,
        action=action,
        subject=idea_id,
        event_id=event.id,
        at=at,
        detail=detail,
    )
    return event


async def _idea(conn: AsyncConnection, tenant: str, idea_id: str) -> dict[str, Any]:
    idea = await store.get_idea(conn, tenant, idea_id)
    if idea is None:
        raise NotFound("idea")
    return idea


async def _moved(
    conn: AsyncConnection,
    idea: dict[str, Any],
    *,
    from_statuses: frozenset[str],
    to_status: str,
    at: datetime,
    **values: Any,
) -> None:
    moved = await store.move(
        conn,
        idea["tenant"],
        idea["id"],
        from_statuses=from_statuses,
        to_status=to_status,
        at=at,
        **values,
    )
    if not moved:
        # Another request moved the idea between our read and our write.
        raise IllegalTransition("the idea changed meanwhile; reload it", field="status")


def _parents(tree: dict[str, dict[str, Any]]) -> dict[str, str | None]:
    return {uid: row["parent_id"] for uid, row in tree.items()}


def _administration_of(tree: dict[str, dict[str, Any]], org_unit: str | None) -> str | None:
    if org_unit is None:
        return None
    row = tree.get(org_unit)
    return row["administration_id"] if row else org_unit


def _require_implementer(idea: dict[str, Any], principal: Principal) -> None:
    if not idea.get("implementer_id"):
        raise IllegalTransition(
            "the idea has no implementer: it is not approved yet", field="status"
        )
    if idea["implementer_id"] != principal.sub:
        raise Forbidden("only the implementer assigned to this idea records its implementation")


def _org(idea: dict[str, Any]) -> tuple[str, str]:
    org_unit = idea.get("org_unit_id") or idea.get("administration_id") or "unknown"
    administration = idea.get("administration_id") or org_unit
    return org_unit, administration


# --- decision queue and decisions -------------------------------------------------------------


async def decision_queue(conn: AsyncConnection, *, principal: Principal) -> list[dict[str, Any]]:
    """The ideas waiting for this caller's decision, oldest first."""
    tree = await store.org_tree(conn, principal.tenant)
    parents = _parents(tree)
    out: list[dict[str, Any]] = []
    if principal.has("management"):
        administration = _administration_of(tree, principal.org_unit)
        rows = await conn.execute(
            select(ideas)
            .where(
                ideas.c.tenant == principal.tenant,
                ideas.c.status == lc.AWAITING_DECISION,
                ideas.c.administration_id == administration,
            )
            .order_by(ideas.c.updated_at, ideas.c.id)
        )
        out += [_queue_item(dict(r._mapping), "management") for r in rows]
    if principal.has(*lc.MANAGER_ROLES) and principal.org_unit:
        rows = await conn.execute(
            select(ideas)
            .where(ideas.c.tenant == principal.tenant, ideas.c.status == lc.QUICK_WIN)
            .order_by(ideas.c.updated_at, ideas.c.id)
        )
        out += [
            _queue_item(dict(r._mapping), "manager")
            for r in rows
            if lc.is_within(r.routed_org_unit_id, principal.org_unit, parents)
        ]
    return out


def _queue_item(idea: dict[str, Any], queue: str) -> dict[str, Any]:
    return {
        "idea_id": idea["id"],
        "queue": queue,
        "status": idea["status"],
        "title": idea["title"],
        "summary": idea["summary"],
        "category": idea["category"],
        "org_unit_id": idea["org_unit_id"],
        "administration_id": idea["administration_id"],
        "idea_giver_id": idea["idea_giver_id"],
        "routed_org_unit_id": idea["routed_org_unit_id"],
        "escalated": bool(idea["escalated"]),
        "decision_basis": idea["decision_basis"],
    }


async def decide(
    conn: AsyncConnection, *, principal: Principal, idea_id: str, body: DecisionIn, now: datetime
) -> dict[str, Any]:
    """Approve, reject or defer a quick win or an idea awaiting decision."""
    idea = await _idea(conn, principal.tenant, idea_id)
    if idea["status"] in lc.DECIDABLE:
        tree = await store.org_tree(conn, principal.tenant)
        decided_by = lc.decider_for(
            status=idea["status"],
            roles=principal.roles,
            caller_org_unit=principal.org_unit,
            caller_administration=_administration_of(tree, principal.org_unit),
            routed_org_unit=idea["routed_org_unit_id"],
            administration_id=idea["administration_id"] or "",
            parents=_parents(tree),
        )
    else:
        decided_by = "management"
    implementer_known = bool(
        body.implementer_id and await store.person(conn, principal.tenant, body.implementer_id)
    )
    outcome = lc.check_decision(
        lc.Decision(
            outcome=body.outcome.value,
            kind=body.kind.value if body.kind else None,
            implementer_id=body.implementer_id,
            motivation=body.motivation,
            revisit_date=body.revisit_date,
        ),
        status=idea["status"],
        today=now.date(),
        implementer_known=implementer_known,
    )
    if body.planned_start and body.planned_end and body.planned_end < body.planned_start:
        raise InvalidInput("the planned end is before the planned start", "planned_end")
    approved = outcome == lc.APPROVED
    deferred = outcome == lc.DEFERRED
    await _moved(
        conn,
        idea,
        from_statuses=lc.DECIDABLE,
        to_status=outcome,
        at=now,
        implementer_id=body.implementer_id if approved else None,
        decision_kind=body.kind.value if approved and body.kind else None,
        decided_from=idea["status"],
        revisit_date=body.revisit_date if deferred else None,
    )
    decision_id = new_id()
    org_unit, administration = _org(idea)
    data = DecisionMade(
        idea_id=idea_id,
        decision_id=decision_id,
        actor_id=principal.sub,
        decided_by=DecisionBody(decided_by),
        org_unit_id=org_unit,
        administration_id=administration,
        outcome=DecisionOutcome(outcome),
        kind=body.kind if approved else None,
        implementer_id=body.implementer_id if approved else None,
        resources=body.resources,
        budget=Money(amount=body.budget.amount, currency=body.budget.currency)
        if body.budget
        else None,
        hours=body.hours,
        planned_start=body.planned_start,
        planned_end=body.planned_end,
        motivation=body.motivation or None,
        revisit_date=body.revisit_date if deferred else None,
        decided_at=now,
    )
    await conn.execute(
        decisions.insert().values(
            tenant=principal.tenant,
            id=decision_id,
            idea_id=idea_id,
            outcome=outcome,
            decided_by=decided_by,
            actor_id=principal.sub,
            kind=data.kind.value if data.kind else None,
            implementer_id=data.implementer_id,
            resources=body.resources,
            budget=body.budget.model_dump(mode="json") if body.budget else None,
            motivation=data.motivation,
            revisit_date=data.revisit_date,
            decided_at=now,
        )
    )
    await _emit(
        conn,
        tenant=principal.tenant,
        idea_id=idea_id,
        data=data,
        actor_id=principal.sub,
        at=now,
        action=f"decision.{outcome}",
        detail={"from": idea["status"], "to": outcome, "decided_by": decided_by},
    )
    return {
        "decision_id": decision_id,
        "idea_id": idea_id,
        "outcome": outcome,
        "status": outcome,
        "decided_by": decided_by,
    }


async def escalate(
    conn: AsyncConnection,
    *,
    principal: Principal,
    idea_id: str,
    body: EscalationIn,
    now: datetime,
) -> dict[str, Any]:
    """A manager hands a quick win to the management group of its administration."""
    idea = await _idea(conn, principal.tenant, idea_id)
    tree = await store.org_tree(conn, principal.tenant)
    lc.check_escalation(
        status=idea["status"],
        roles=principal.roles,
        caller_org_unit=principal.org_unit,
        routed_org_unit=idea["routed_org_unit_id"],
        parents=_parents(tree),
    )
    await _moved(
        conn,
        idea,
        from_statuses=frozenset({lc.QUICK_WIN}),
        to_status=lc.AWAITING_DECISION,
        at=now,
        escalated=True,
    )
    org_unit, administration = _org(idea)
    await _emit(
        conn,
        tenant=principal.tenant,
        idea_id=idea_id,
        data=DecisionEscalated(
            idea_id=idea_id,
            actor_id=principal.sub,
            org_unit_id=org_unit,
            administration_id=administration,
            motivation=body.motivation or None,
            escalated_at=now,
        ),
        actor_id=principal.sub,
        at=now,
        action="decision.escalated",
        detail={"from": lc.QUICK_WIN, "to": lc.AWAITING_DECISION},
    )
    return {"idea_id": idea_id, "status": lc.AWAITING_DECISION}


async def due_for_resumption(conn: AsyncConnection, *, today: date) -> list[tuple[str, str]]:
    """(tenant, idea id) of deferred ideas whose revisit date has come."""
    rows = await conn.execute(
        select(ideas.c.tenant, ideas.c.id)
        .where(ideas.c.status == lc.DEFERRED, ideas.c.revisit_date <= today)
        .order_by(ideas.c.revisit_date)
        .limit(500)
    )
    return [(r.tenant, r.id) for r in rows]


async def resume_deferred(
    conn: AsyncConnection, *, tenant: str, idea_id: str, today: date, now: datetime
) -> bool:
    """Return one deferred idea to the queue it was decided from; False if another did it.

    The UPDATE is the transaction's first statement and is conditional on the status, so
    of two replicas' timers exactly one moves the idea and emits `idea.resumed`.
    """
    to_status = await store.resume(conn, tenant, idea_id, at=now)
    if to_status is None:
        return False
    await _emit(
        conn,
        tenant=tenant,
        idea_id=idea_id,
        data=IdeaResumed(
            idea_id=idea_id,
            from_status=IdeaStatus.DEFERRED,
            to_status=IdeaStatus(to_status),
            resumed_at=now,
        ),
        actor_id=None,
        at=now,
        action="idea.resumed",
        detail={"from": lc.DEFERRED, "to": to_status, "revisit_date": today.isoformat()},
    )
    return True


# --- implementation ---------------------------------------------------------------------------


async def anchor_plan(
    conn: AsyncConnection, *, principal: Principal, idea_id: str, body: PlanIn, now: datetime
) -> dict[str, Any]:
    """The implementer anchors the plan made with the idea giver: implementation starts."""
    idea = await _idea(conn, principal.tenant, idea_id)
    _require_implementer(idea, principal)
    to_status = lc.check_action("plan", idea["status"])
    assert to_status is not None
    givers = [p for p in [idea["idea_giver_id"], *(idea["co_author_ids"] or [])] if p]
    if givers and not body.made_with_idea_giver:
        raise InvalidInput(
            "the plan is anchored with the idea giver: make it with them first",
            "made_with_idea_giver",
        )
    ordered = sorted(body.milestones, key=lambda m: m.due)
    start = body.start or now.date()
    if body.end and body.end < start:
        raise InvalidInput("the plan ends before it starts", "end")
    milestones = [
        Milestone(
            milestone_id=f"m{i + 1}",
            title=m.title,
            due_date=m.due,
            responsible_id=m.responsible_id,
        )
        for i, m in enumerate(ordered)
    ]
    plan_id = new_id()
    anchored_with = givers if body.made_with_idea_giver else []
    await _moved(conn, idea, from_statuses=frozenset({lc.APPROVED}), to_status=to_status, at=now)
    await conn.execute(
        plans.insert().values(
            tenant=principal.tenant,
            idea_id=idea_id,
            plan_id=plan_id,
            actor_id=principal.sub,
            milestones=[m.model_dump(mode="json") for m in milestones],
            anchored_with_ids=anchored_with,
            start_date=start,
            end_date=body.end,
            notes=body.notes,
            anchored_at=now,
        )
    )
    await _emit(
        conn,
        tenant=principal.tenant,
        idea_id=idea_id,
        data=PlanAnchored(
            idea_id=idea_id,
            plan_id=plan_id,
            actor_id=principal.sub,
            anchored_with_ids=tuple(anchored_with),
            milestones=tuple(milestones),
            start_date=start,
            end_date=body.end,
            notes=body.notes or None,
            anchored_at=now,
        ),
        actor_id=principal.sub,
        at=now,
        action="plan.anchored",
        detail={"from": lc.APPROVED, "to": to_status, "milestones": len(milestones)},
    )
    return {"plan_id": plan_id, "idea_id": idea_id, "status": to_status}


async def record_trial(
    conn: AsyncConnection, *, principal: Principal, idea_id: str, body: TrialIn, now: datetime
) -> dict[str, Any]:
    """Record one trial action (hypothesis, dates, result, verdict)."""
    idea = await _idea(conn, principal.tenant, idea_id)
    _require_implementer(idea, principal)
    lc.check_action("trial", idea["status"])
    bf.check_trial_dates(body.start, body.end)
    count = (
        await conn.execute(
            select(func.count())
            .select_from(trials)
            .where(trials.c.tenant == principal.tenant, trials.c.idea_id == idea_id)
        )
    ).scalar_one()
    trial_id = new_id()
    cycle = int(count) + 1
    await conn.execute(
        trials.insert().values(
            tenant=principal.tenant,
            id=trial_id,
            idea_id=idea_id,
            cycle=cycle,
            actor_id=principal.sub,
            hypothesis=body.hypothesis,
            start_date=body.start,
            end_date=body.end,
            result=body.result,
            verdict=body.verdict.value,
            recorded_at=now,
        )
    )
    await _emit(
        conn,
        tenant=principal.tenant,
        idea_id=idea_id,
        data=TrialRecorded(
            idea_id=idea_id,
            trial_id=trial_id,
            actor_id=principal.sub,
            cycle=cycle,
            hypothesis=body.hypothesis,
            start_date=body.start,
            end_date=body.end,
            result=body.result,
            verdict=TrialVerdict(body.verdict),
            recorded_at=now,
        ),
        actor_id=principal.sub,
        at=now,
        action="trial.recorded",
        detail={"cycle": cycle, "verdict": body.verdict.value},
    )
    return {"trial_id": trial_id, "idea_id": idea_id, "cycle": cycle}


async def report_implemented(
    conn: AsyncConnection,
    *,
    principal: Principal,
    idea_id: str,
    body: ImplementedIn,
    now: datetime,
) -> dict[str, Any]:
    """The implementer reports the idea implemented (only after a plan)."""
    idea = await _idea(conn, principal.tenant, idea_id)
    _require_implementer(idea, principal)
    to_status = lc.check_action("implement", idea["status"])
    assert to_status is not None
    await _moved(
        conn, idea, from_statuses=frozenset({lc.IN_IMPLEMENTATION}), to_status=to_status, at=now
    )
    org_unit, administration = _org(idea)
    await _emit(
        conn,
        tenant=principal.tenant,
        idea_id=idea_id,
        data=IdeaImplemented(
            idea_id=idea_id,
            actor_id=principal.sub,
            org_unit_id=org_unit,
            administration_id=administration,
            summary=body.summary or None,
            implemented_at=now,
        ),
        actor_id=principal.sub,
        at=now,
        action="idea.implemented",
        detail={"from": lc.IN_IMPLEMENTATION, "to": to_status},
    )
    return {"idea_id": idea_id, "status": to_status}


# --- benefit realisation ----------------------------------------------------------------------


def _indicator(row: Any) -> bf.Indicator:
    return bf.Indicator(
        baseline=Decimal(row.baseline),
        target=Decimal(row.target),
        direction=row.direction,
        tolerance_percent=Decimal(row.tolerance_percent),
    )


async def define_indicator(
    conn: AsyncConnection,
    *,
    principal: Principal,
    idea_id: str,
    body: IndicatorIn,
    now: datetime,
) -> dict[str, Any]:
    """Define a result indicator with baseline, target, direction, cadence and tolerance."""
    idea = await _idea(conn, principal.tenant, idea_id)
    _require_implementer(idea, principal)
    lc.check_action("define_indicator", idea["status"])
    bf.check_indicator(
        bf.Indicator(
            baseline=body.baseline,
            target=body.target,
            direction=body.direction.value,
            tolerance_percent=body.tolerance_percent,
        )
    )
    indicator_id = new_id()
    await conn.execute(
        indicators.insert().values(
            tenant=principal.tenant,
            id=indicator_id,
            idea_id=idea_id,
            name=body.name,
            unit=body.unit,
            baseline=body.baseline,
            target=body.target,
            direction=body.direction.value,
            cadence=body.cadence.value,
            tolerance_percent=body.tolerance_percent,
            description=body.description,
            defined_at=now,
        )
    )
    await _emit(
        conn,
        tenant=principal.tenant,
        idea_id=idea_id,
        data=IndicatorDefined(
            idea_id=idea_id,
            indicator_id=indicator_id,
            actor_id=principal.sub,
            name=body.name,
            unit=body.unit,
            baseline=body.baseline,
            target=body.target,
            direction=Direction(body.direction),
            cadence=Cadence(body.cadence),
            description=body.description or None,
            tolerance_percent=body.tolerance_percent,
            defined_at=now,
        ),
        actor_id=principal.sub,
        at=now,
        action="indicator.defined",
        detail={"indicator_id": indicator_id, "name": body.name},
    )
    return {"indicator_id": indicator_id, "idea_id": idea_id}


async def record_measurement(
    conn: AsyncConnection,
    *,
    principal: Principal,
    idea_id: str,
    body: MeasurementIn,
    now: datetime,
) -> dict[str, Any]:
    """Record a measured value; off target past the tolerance it needs a corrective action."""
    idea = await _idea(conn, principal.tenant, idea_id)
    _require_implementer(idea, principal)
    row = (
        await conn.execute(
            select(indicators).where(
                indicators.c.tenant == principal.tenant,
                indicators.c.idea_id == idea_id,
                indicators.c.id == body.indicator_id,
            )
        )
    ).first()
    if row is None:
        raise InvalidInput("no such indicator for this idea", "indicator_id")
    lc.check_action("measure", idea["status"])
    if body.measured_at > now.date():
        raise InvalidInput("a measurement cannot be dated in the future", "measured_at")
    off = bf.check_measurement(
        _indicator(row), value=body.value, corrective_action=body.corrective_action
    )
    measurement_id = new_id()
    corrective = body.corrective_action or None
    await conn.execute(
        measurements.insert().values(
            tenant=principal.tenant,
            id=measurement_id,
            idea_id=idea_id,
            indicator_id=body.indicator_id,
            actor_id=principal.sub,
            value=body.value,
            measured_at=body.measured_at,
            off_target=off,
            corrective_action=corrective,
            recorded_at=now,
        )
    )
    await _emit(
        conn,
        tenant=principal.tenant,
        idea_id=idea_id,
        data=MeasurementRecorded(
            idea_id=idea_id,
            measurement_id=measurement_id,
            indicator_id=body.indicator_id,
            actor_id=principal.sub,
            value=body.value,
            measured_at=body.measured_at,
            off_target=off,
            corrective_action=corrective,
            recorded_at=now,
        ),
        actor_id=principal.sub,
        at=now,
        action="measurement.recorded",
        detail={"indicator_id": body.indicator_id, "off_target": off},
    )
    return {
        "measurement_id": measurement_id,
        "idea_id": idea_id,
        "indicator_id": body.indicator_id,
        "off_target": off,
        "corrective_action": corrective,
    }


async def evaluate(
    conn: AsyncConnection,
    *,
    principal: Principal,
    idea_id: str,
    body: EvaluationIn,
    now: datetime,
) -> dict[str, Any]:
    """Close the innovation with its realised benefit and lessons learned (after implemented)."""
    idea = await _idea(conn, principal.tenant, idea_id)
    if not principal.has("innovation_group"):
        _require_implementer(idea, principal)
    to_status = lc.check_action("evaluate", idea["status"])
    assert to_status is not None
    await _moved(conn, idea, from_statuses=frozenset({lc.IMPLEMENTED}), to_status=to_status, at=now)
    money = body.realised_benefit
    await conn.execute(
        evaluations.insert().values(
            tenant=principal.tenant,
            idea_id=idea_id,
            actor_id=principal.sub,
            realised_amount=money.amount if money else None,
            realised_currency=money.currency.value if money else None,
            realised_hours=body.hours,
            benefit_description=body.benefit_description,
            lessons_learned=body.lessons_learned,
            evaluated_at=now,
        )
    )
    org_unit, administration = _org(idea)
    await _emit(
        conn,
        tenant=principal.tenant,
        idea_id=idea_id,
        data=IdeaEvaluated(
            idea_id=idea_id,
            actor_id=principal.sub,
            org_unit_id=org_unit,
            administration_id=administration,
            realised_benefit=Money(amount=money.amount, currency=money.currency) if money else None,
            realised_hours=body.hours,
            benefit_description=body.benefit_description or None,
            lessons_learned=body.lessons_learned,
            evaluated_at=now,
        ),
        actor_id=principal.sub,
        at=now,
        action="idea.evaluated",
        detail={"from": lc.IMPLEMENTED, "to": to_status},
    )
    return {"idea_id": idea_id, "status": to_status}


async def implementation(
    conn: AsyncConnection, *, principal: Principal, idea_id: str
) -> dict[str, Any]:
    """Decision, plan, trials, indicators with their measurements and the evaluation."""
    t = principal.tenant
    idea = await _idea(conn, t, idea_id)

    async def rows(stmt: Any) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in await conn.execute(stmt)]

    def public(row: dict[str, Any]) -> dict[str, Any]:
        return {k: _plain(v) for k, v in row.items() if k != "tenant"}

    decision_rows = await rows(
        select(decisions)
        .where(decisions.c.tenant == t, decisions.c.idea_id == idea_id)
        .order_by(decisions.c.decided_at)
    )
    plan = await rows(select(plans).where(plans.c.tenant == t, plans.c.idea_id == idea_id))
    trial_rows = await rows(
        select(trials)
        .where(trials.c.tenant == t, trials.c.idea_id == idea_id)
        .order_by(trials.c.cycle)
    )
    indicator_rows = await rows(
        select(indicators)
        .where(indicators.c.tenant == t, indicators.c.idea_id == idea_id)
        .order_by(indicators.c.defined_at, indicators.c.id)
    )
    measurement_rows = await rows(
        select(measurements)
        .where(measurements.c.tenant == t, measurements.c.idea_id == idea_id)
        .order_by(measurements.c.measured_at, measurements.c.recorded_at)
    )
    evaluation = await rows(
        select(evaluations).where(evaluations.c.tenant == t, evaluations.c.idea_id == idea_id)
    )
    by_indicator: dict[str, list[dict[str, Any]]] = {}
    for m in measurement_rows:
        by_indicator.setdefault(m["indicator_id"], []).append(public(m))
    return {
        "idea_id": idea_id,
        "status": idea["status"],
        "implementer_id": idea["implementer_id"],
        "kind": idea["decision_kind"],
        "origin": {"tenant": idea["origin_tenant"], "idea_id": idea["origin_idea_id"]}
        if idea["origin_tenant"]
        else None,
        "decisions": [public(d) for d in decision_rows],
        "plan": public(plan[0]) if plan else None,
        "trials": [public(tr) for tr in trial_rows],
        "indicators": [
            {**public(i), "measurements": by_indicator.get(i["id"], [])} for i in indicator_rows
        ],
        "evaluation": public(evaluation[0]) if evaluation else None,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return (
            format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
        )
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# --- spread across the network ----------------------------------------------------------------


async def offer(
    conn: AsyncConnection, *, principal: Principal, idea_id: str, body: OfferIn, now: datetime
) -> dict[str, Any]:
    """Offer an evaluated idea to every network the tenant belongs to."""
    idea = await _idea(conn, principal.tenant, idea_id)
    to_status = lc.check_action("offer", idea["status"])
    assert to_status is not None
    networks = await store.active_networks(conn, principal.tenant)
    if not networks:
        raise IllegalTransition("the tenant is a member of no network", field="network")
    await _moved(conn, idea, from_statuses=frozenset({lc.EVALUATED}), to_status=to_status, at=now)
    ev_row = (
        await conn.execute(
            select(evaluations).where(
                evaluations.c.tenant == principal.tenant, evaluations.c.idea_id == idea_id
            )
        )
    ).first()
    money = (
        Money(amount=Decimal(ev_row.realised_amount), currency=ev_row.realised_currency)
        if ev_row is not None and ev_row.realised_amount is not None
        else None
    )
    hours = (
        Decimal(ev_row.realised_hours)
        if ev_row is not None and ev_row.realised_hours is not None
        else None
    )
    title = idea["title"] or f"Idea {idea_id}"
    summary = body.summary or idea["summary"] or title
    category = idea["category"] or "uncategorised"
    for network in networks:
        data = IdeaOffered(
            idea_id=idea_id,
            actor_id=principal.sub,
            network=network,
            title=title,
            summary=summary,
            category=category,
            realised_benefit=money,
            realised_hours=hours,
            lessons_learned=ev_row.lessons_learned if ev_row is not None else None,
            offered_at=now,
        )
        await _emit(
            conn,
            tenant=principal.tenant,
            idea_id=idea_id,
            data=data,
            actor_id=principal.sub,
            at=now,
            action="idea.offered",
            detail={"network": network, "from": lc.EVALUATED, "to": to_status},
        )
    return {"idea_id": idea_id, "status": to_status, "networks": networks}


async def _shared_offers(
    conn: AsyncConnection, tenant: str, origin_tenant: str | None = None
) -> list[dict[str, Any]]:
    """Offers of fellow members of the tenant's networks that are still members themselves."""
    mine = network_members.alias("mine")
    theirs = network_members.alias("theirs")
    stmt = (
        select(offers)
        .join(mine, and_(mine.c.network == offers.c.network, mine.c.tenant == tenant))
        .join(
            theirs,
            and_(theirs.c.network == offers.c.network, theirs.c.tenant == offers.c.origin_tenant),
        )
        .where(
            mine.c.active.is_(True),
            theirs.c.active.is_(True),
            offers.c.origin_tenant != tenant,
        )
        .order_by(offers.c.offered_at.desc(), offers.c.idea_id)
    )
    if origin_tenant is not None:
        stmt = stmt.where(offers.c.origin_tenant == origin_tenant)
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def network_offers(conn: AsyncConnection, *, principal: Principal) -> list[dict[str, Any]]:
    """The catalogue: ideas fellow network members offer, with whether we adopted them."""
    rows = await _shared_offers(conn, principal.tenant)
    adopted = {
        (r.origin_tenant, r.origin_idea_id): r.idea_id
        for r in await conn.execute(
            select(adoptions).where(adoptions.c.adopting_tenant == principal.tenant)
        )
    }
    names = {
        r.tenant: r.name
        for r in await conn.execute(
            select(tenants).where(tenants.c.tenant.in_({r["origin_tenant"] for r in rows}))
        )
    }
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r["origin_tenant"], r["idea_id"])
        if key in out:
            out[key]["networks"].append(r["network"])
            continue
        out[key] = {
            "idea_id": r["idea_id"],
            "origin_tenant": r["origin_tenant"],
            "origin_tenant_name": names.get(r["origin_tenant"]),
            "networks": [r["network"]],
            "title": r["title"],
            "summary": r["summary"],
            "category": r["category"],
            "realised_benefit": r["realised_benefit"],
            "realised_hours": r["realised_hours"],
            "lessons_learned": r["lessons_learned"],
            "offered_at": _plain(r["offered_at"]),
            "adopted_as": adopted.get(key),
        }
    return list(out.values())


async def adopt(
    conn: AsyncConnection,
    *,
    db: Database,
    principal: Principal,
    origin_idea_id: str,
    body: AdoptIn,
    now: datetime,
) -> dict[str, Any]:
    """Adopt a fellow network member's offered idea as a new idea of the caller's tenant."""
    t = principal.tenant
    if body.origin_tenant == t:
        raise InvalidInput("an idea of your own tenant cannot be adopted", "origin_tenant")
    known = (
        await conn.execute(
            select(offers.c.network).where(
                offers.c.origin_tenant == body.origin_tenant, offers.c.idea_id == origin_idea_id
            )
        )
    ).all()
    if not known:
        raise NotFound("offered idea")
    shared = [
        r
        for r in await _shared_offers(conn, t, origin_tenant=body.origin_tenant)
        if r["idea_id"] == origin_idea_id
    ]
    if not shared:
        mine = set(await store.active_networks(conn, t))
        offered_in = {r.network for r in known}
        if mine & offered_in:
            raise Forbidden(
                f"{body.origin_tenant} has left the network the idea was offered in; "
                "it can no longer be adopted"
            )
        raise Forbidden(
            f"the idea is offered in {', '.join(sorted(offered_in))}, a network your tenant "
            "is not a member of: join it to adopt the idea"
        )
    offer_row = shared[0]
    org_unit_id = body.org_unit_id or principal.org_unit
    tree = await store.org_tree(conn, t)
    if not org_unit_id or org_unit_id not in tree:
        raise InvalidInput("no such org unit in your tenant", "org_unit_id")
    administration = tree[org_unit_id]["administration_id"]
    adopted_id = new_id()
    inserted = await conn.execute(
        db.insert_ignore(adoptions).values(
            adopting_tenant=t,
            origin_tenant=body.origin_tenant,
            origin_idea_id=origin_idea_id,
            idea_id=adopted_id,
            network=offer_row["network"],
            adopted_at=now,
        )
    )
    if inserted.rowcount == 0:
        raise IllegalTransition("your tenant has already adopted this idea", field="idea_id")
    await conn.execute(
        ideas.insert().values(
            tenant=t,
            id=adopted_id,
            title=offer_row["title"],
            summary=offer_row["summary"],
            category=offer_row["category"],
            channel="network",
            org_unit_id=org_unit_id,
            administration_id=administration,
            idea_giver_id=None,
            co_author_ids=[],
            status=lc.SUBMITTED,
            escalated=False,
            origin_tenant=body.origin_tenant,
            origin_idea_id=origin_idea_id,
            updated_at=now,
        )
    )
    await _emit(
        conn,
        tenant=t,
        idea_id=adopted_id,
        data=IdeaAdopted(
            idea_id=adopted_id,
            actor_id=principal.sub,
            adopting_tenant=t,
            origin_tenant=body.origin_tenant,
            origin_idea_id=origin_idea_id,
            network=offer_row["network"],
            org_unit_id=org_unit_id,
            administration_id=administration,
            title=offer_row["title"],
            summary=offer_row["summary"],
            category=offer_row["category"],
            adopted_at=now,
        ),
        actor_id=principal.sub,
        at=now,
        action="idea.adopted",
        detail={"origin_tenant": body.origin_tenant, "origin_idea_id": origin_idea_id},
    )
    return {
        "idea_id": adopted_id,
        "origin_tenant": body.origin_tenant,
        "origin_idea_id": origin_idea_id,
        "network": offer_row["network"],
        "status": lc.SUBMITTED,
    }


async def adoptions_of(
    conn: AsyncConnection, *, principal: Principal, idea_id: str
) -> dict[str, Any]:
    """Origin side: how often and where one of the tenant's ideas was adopted."""
    await _idea(conn, principal.tenant, idea_id)
    rows = await conn.execute(
        select(adoptions)
        .where(adoptions.c.origin_tenant == principal.tenant, adoptions.c.origin_idea_id == idea_id)
        .order_by(adoptions.c.adopted_at)
    )
    items = [
        {
            "tenant": r.adopting_tenant,
            "idea_id": r.idea_id,
            "network": r.network,
            "adopted_at": _plain(r.adopted_at),
        }
        for r in rows
    ]
    return {"idea_id": idea_id, "count": len(items), "adoptions": items}
