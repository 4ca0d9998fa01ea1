"""Evaluation's use cases. Each runs in one transaction: state, outbox events and audit rows.

The API and the revisit timer call these; the domain decides, the store reads and writes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ideabank_contracts import new_event, new_id
from ideabank_contracts.events import decision_basis as basis_ev
from ideabank_contracts.events import idea as idea_ev
from ideabank_contracts.events import screening as screening_ev
from ideabank_contracts.events.common import Currency, Money
from ideabank_infra.app import Runtime
from ideabank_infra.outbox import enqueue
from ideabank_infra.tables import audit_log
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ideabank_evaluation.domain import decision_basis as basis_rules
from ideabank_evaluation.domain import lifecycle
from ideabank_evaluation.domain import screening as rules
from ideabank_evaluation.domain.errors import DomainError, InvalidTransition
from ideabank_evaluation.domain.template import (
    Criterion,
    Template,
    check_criteria,
    default_template,
)
from ideabank_evaluation.store import (
    claim_due_pauses,
    decision_bases,
    get_idea,
    get_org_unit,
    get_person,
    ideas,
    insert_new,
    manager_of,
    screening_templates,
    screenings,
    served_administrations,
    tenants,
)

log = logging.getLogger(__name__)

SOURCE = "/ideabank/evaluation"


@dataclass(frozen=True)
class Actor:
    """Who acts: a person of the tenant with the roles and org unit of their token."""

    id: str
    tenant: str
    roles: frozenset[str]
    org_unit: str | None = None


class NotFound(Exception):
    """Nothing of that id in the caller's tenant (404, also for other tenants' ideas)."""


# --- audit ------------------------------------------------------------------------------


async def audit(
    conn: AsyncConnection,
    *,
    tenant: str,
    actor_id: str | None,
    action: str,
    subject: str | None,
    at: datetime,
    event_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record who changed what and when, in the transaction of the change."""
    await conn.execute(
        insert(audit_log).values(
            tenant=tenant,
            actor_id=actor_id,
            action=action,
            subject=subject,
            event_id=event_id,
            detail=json.dumps(detail, default=str, ensure_ascii=False) if detail else None,
            at=at,
        )
    )


# --- screening template -----------------------------------------------------------------


def _criteria_json(criteria: Sequence[Criterion]) -> list[dict[str, Any]]:
    return [
        {
            "key": c.key,
            "label": c.label,
            "description": c.description,
            "scale_max": c.scale_max,
            "weight": format(c.weight, "f"),
        }
        for c in criteria
    ]


def _template(version: int, criteria: list[dict[str, Any]]) -> Template:
    return Template(
        version=version,
        criteria=tuple(
            Criterion(
                key=c["key"],
                label=c["label"],
                description=c.get("description"),
                scale_max=int(c["scale_max"]),
                weight=Decimal(str(c["weight"])),
            )
            for c in criteria
        ),
    )


async def current_template(conn: AsyncConnection, *, tenant: str) -> tuple[Template, Any | None]:
    """The tenant's newest template version (the default when none is stored) and its row."""
    row = (
        await conn.execute(
            select(screening_templates)
            .where(screening_templates.c.tenant == tenant)
            .order_by(screening_templates.c.version.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return default_template(), None
    return _template(row.version, row.criteria), row


async def template_version(conn: AsyncConnection, *, tenant: str, version: int) -> Template | None:
    """One stored version of the tenant's template."""
    row = (
        await conn.execute(
            select(screening_templates).where(
                screening_templates.c.tenant == tenant, screening_templates.c.version == version
            )
        )
    ).first()
    return None if row is None else _template(row.version, row.criteria)


async def _store_default(conn: AsyncConnection, *, tenant: str, now: datetime) -> None:
    # The default becomes a stored version 1 the first time it is used, so a screening's
    # template_version always points at a row, even after the defaults change in code.
    await insert_new(
        conn,
        screening_templates,
        {
            "tenant": tenant,
            "version": 1,
            "criteria": _criteria_json(default_template().criteria),
            "created_by": None,
            "created_at": now,
        },
        ["tenant", "version"],
    )


async def replace_template(
    conn: AsyncConnection, *, actor: Actor, criteria: Sequence[Criterion], now: datetime
) -> Template:
    """Publish a new version of the tenant's template; earlier versions stay as they were."""
    checked = check_criteria(criteria)
    await _store_default(conn, tenant=actor.tenant, now=now)
    latest = (
        await conn.execute(
            select(func.max(screening_templates.c.version)).where(
                screening_templates.c.tenant == actor.tenant
            )
        )
    ).scalar_one()
    version = int(latest or 0) + 1
    try:
        await conn.execute(
            insert(screening_templates).values(
                tenant=actor.tenant,
                version=version,
                criteria=_criteria_json(checked),
                created_by=actor.id,
                created_at=now,
            )
        )
    except IntegrityError as exc:
        raise InvalidTransition("the template was changed at the same time; try again") from exc
    await audit(
        conn,
        tenant=actor.tenant,
        actor_id=actor.id,
        action="screening_template.versioned",
        subject=f"template-v{version}",
        at=now,
        detail={"version": version, "criteria": [c.key for c in checked]},
    )
    return Template(version=version, criteria=checked)


# --- queue ------------------------------------------------------------------------------


async def screening_queue(
    conn: AsyncConnection, *, actor: Actor, today: date, administration_id: str | None = None
) -> list[dict[str, Any]]:
    """Ideas waiting for this ambassador or innovation group member, oldest first."""
    served = await served_administrations(
        conn,
        tenant=actor.tenant,
        person_id=actor.id,
        token_roles=actor.roles,
        token_org_unit=actor.org_unit,
    )
    stmt = select(ideas).where(
        ideas.c.tenant == actor.tenant,
        ideas.c.status == "in_screening",
        or_(ideas.c.administration_id.in_(served), ideas.c.ambassador_id == actor.id),
    )
    if administration_id is not None:
        stmt = stmt.where(ideas.c.administration_id == administration_id)
    stmt = stmt.order_by(ideas.c.in_screening_since, ideas.c.submitted_at, ideas.c.id)
    out = []
    for row in await conn.execute(stmt):
        since = _aware(row.in_screening_since or row.submitted_at)
        out.append(
            {
                "idea_id": row.id,
                "title": row.title,
                "org_unit_id": row.org_unit_id,
                "administration_id": row.administration_id,
                "ambassador_id": row.ambassador_id,
                "submitted_at": _aware(row.submitted_at),
                "in_screening_since": since,
                "waiting_days": max(0, (today - since.date()).days),
            }
        )
    return out


# --- screening --------------------------------------------------------------------------


async def _idea_for(conn: AsyncConnection, actor: Actor, idea_id: str) -> Any:
    row = await get_idea(conn, tenant=actor.tenant, idea_id=idea_id)
    if row is None:
        raise NotFound("idea")
    return row


async def _check_serves(conn: AsyncConnection, actor: Actor, idea: Any) -> None:
    served = await served_administrations(
        conn,
        tenant=actor.tenant,
        person_id=actor.id,
        token_roles=actor.roles,
        token_org_unit=actor.org_unit,
    )
    rules.check_serves(
        person_id=actor.id,
        roles=actor.roles,
        administrations=served,
        idea_administration=idea.administration_id,
        idea_ambassador=idea.ambassador_id,
    )


async def screen_idea(
    conn: AsyncConnection,
    *,
    actor: Actor,
    idea_id: str,
    scores: Sequence[rules.ScoreInput],
    outcome: rules.Outcome,
    motivation: str | None,
    revisit_date: date | None,
    routed_to_org_unit_id: str | None,
    now: datetime,
    today: date,
) -> dict[str, Any]:
    """Judge an idea against the current template and send it on to its outcome."""
    idea = await _idea_for(conn, actor, idea_id)
    await _check_serves(conn, actor, idea)
    rules.check_screenable(idea.status)
    await _store_default(conn, tenant=actor.tenant, now=now)
    template, _ = await current_template(conn, tenant=actor.tenant)
    sheet = rules.score_sheet(template, scores)
    rules.check_outcome(outcome, motivation=motivation, revisit_date=revisit_date, today=today)

    routed_unit: str | None = None
    routed_person: str | None = None
    if outcome is rules.Outcome.QUICK_WIN:
        unit_admin = None
        if routed_to_org_unit_id is not None:
            unit = await get_org_unit(conn, tenant=actor.tenant, org_unit_id=routed_to_org_unit_id)
            unit_admin = None if unit is None else unit.administration_id
        routed_unit = rules.pick_route(
            requested_org_unit=routed_to_org_unit_id,
            idea_org_unit=idea.org_unit_id,
            idea_administration=idea.administration_id,
            org_unit_administration=unit_admin,
        )
        routed_person = await manager_of(conn, tenant=actor.tenant, org_unit_id=routed_unit)
    elif routed_to_org_unit_id is not None:
        raise DomainError("routed_to_org_unit_id", "only a quick win is routed to a manager")

    # Conditional on the status read above: a concurrent screening or withdrawal wins,
    # this one then changes nothing and reports the conflict.
    moved = await conn.execute(
        update(ideas)
        .where(
            ideas.c.tenant == actor.tenant,
            ideas.c.id == idea_id,
            ideas.c.status == "in_screening",
        )
        .values(status=outcome.value, revisit_date=revisit_date, updated_at=now)
    )
    if moved.rowcount != 1:
        raise InvalidTransition("the idea left the screening queue meanwhile")

    screening_id = new_id()
    score_rows = [
        {
            "criterion_key": s.criterion_key,
            "label": s.label,
            "score": s.score,
            "scale_max": s.scale_max,
            "weight": format(s.weight, "f"),
            "note": s.note,
        }
        for s in sheet.scores
    ]
    motivation = motivation.strip() if motivation and motivation.strip() else None
    await conn.execute(
        insert(screenings).values(
            tenant=actor.tenant,
            id=screening_id,
            idea_id=idea_id,
            template_version=template.version,
            scores=score_rows,
            weighted_total=sheet.weighted_total,
            weighted_max=sheet.weighted_max,
            outcome=outcome.value,
            motivation=motivation,
            revisit_date=revisit_date,
            routed_to_org_unit_id=routed_unit,
            routed_to_person_id=routed_person,
            actor_id=actor.id,
            completed_at=now,
        )
    )
    data = screening_ev.ScreeningCompleted(
        idea_id=idea_id,
        screening_id=screening_id,
        actor_id=actor.id,
        administration_id=idea.administration_id,
        outcome=screening_ev.ScreeningOutcome(outcome.value),
        motivation=motivation,
        revisit_date=revisit_date,
        criterion_scores=tuple(
            screening_ev.CriterionScore(
                criterion_key=s.criterion_key,
                label=s.label,
                score=s.score,
                scale_max=s.scale_max,
                weight=s.weight,
                note=s.note,
            )
            for s in sheet.scores
        ),
        template_version=template.version,
        routed_to_org_unit_id=routed_unit,
        routed_to_person_id=routed_person,
        completed_at=now,
        weighted_total=sheet.weighted_total,
        weighted_max=sheet.weighted_max,
    )
    event = new_event(data, tenant=actor.tenant, subject=idea_id, source=SOURCE, time=now)
    await enqueue(conn, [event])
    await audit(
        conn,
        tenant=actor.tenant,
        actor_id=actor.id,
        action="screening.completed",
        subject=idea_id,
        event_id=event.id,
        at=now,
        detail={"from": "in_screening", "to": outcome.value, "screening_id": screening_id},
    )
    return _screening_out(
        {
            "id": screening_id,
            "idea_id": idea_id,
            "template_version": template.version,
            "scores": score_rows,
            "weighted_total": sheet.weighted_total,
            "weighted_max": sheet.weighted_max,
            "outcome": outcome.value,
            "motivation": motivation,
            "revisit_date": revisit_date,
            "routed_to_org_unit_id": routed_unit,
            "routed_to_person_id": routed_person,
            "actor_id": actor.id,
            "completed_at": now,
        }
    )


def _screening_out(row: dict[str, Any]) -> dict[str, Any]:
    total, top = Decimal(row["weighted_total"]), Decimal(row["weighted_max"])
    return {
        **{k: v for k, v in row.items() if k != "tenant"},
        "completed_at": _aware(row["completed_at"]),
        "weighted_total": total,
        "weighted_max": top,
        "weighted_share": (total / top).quantize(Decimal("0.0001")) if top else Decimal(0),
    }


async def screenings_of(conn: AsyncConnection, *, actor: Actor, idea_id: str) -> list[Any]:
    """Every screening of an idea, newest first, for those who follow it."""
    idea = await _idea_for(conn, actor, idea_id)
    if idea.idea_giver_id != actor.id and not actor.roles & {
        "management",
        "unit_manager",
        "department_manager",
        "tenant_admin",
    }:
        await _check_serves(conn, actor, idea)
    rows = await conn.execute(
        select(screenings)
        .where(screenings.c.tenant == actor.tenant, screenings.c.idea_id == idea_id)
        .order_by(screenings.c.completed_at.desc())
    )
    return [_screening_out(dict(r._mapping)) for r in rows]


# --- revisit timer ----------------------------------------------------------------------


async def resume_due_ideas(runtime: Runtime, *, batch: int = 500) -> int:
    """Return every paused idea whose revisit date has come to the queue; one pass.

    Safe with several replicas on one database: each idea is claimed by exactly one
    transaction (see :func:`claim_due_pauses`), which also writes its ``idea.resumed``.
    """
    total = 0
    while True:
        now = runtime.clock.now()
        async with runtime.db.transaction() as conn:
            claimed = await claim_due_pauses(
                conn,
                today=runtime.clock.today(),
                now=now,
                limit=batch,
                skip_locked=not runtime.db.is_sqlite,
            )
            events = [
                new_event(
                    idea_ev.IdeaResumed(
                        idea_id=row.id,
                        actor_id=None,
                        from_status=idea_ev.IdeaStatus.PAUSED,
                        to_status=idea_ev.IdeaStatus.IN_SCREENING,
                        resumed_at=now,
                    ),
                    tenant=row.tenant,
                    subject=row.id,
                    source=SOURCE,
                    time=now,
                )
                for row in claimed
            ]
            await enqueue(conn, events)
            if claimed:
                await conn.execute(
                    insert(audit_log),
                    [
                        {
                            "tenant": row.tenant,
                            "actor_id": None,
                            "action": "idea.resumed",
                            "subject": row.id,
                            "event_id": ev.id,
                            "detail": json.dumps({"from": "paused", "to": "in_screening"}),
                            "at": now,
                        }
                        for row, ev in zip(claimed, events, strict=True)
                    ],
                )
        total += len(claimed)
        if len(claimed) < batch:
            return total


# --- decision basis ---------------------------------------------------------------------


async def _basis_row(conn: AsyncConnection, tenant: str, idea_id: str) -> Any | None:
    return (
        await conn.execute(
            select(decision_bases).where(
                decision_bases.c.tenant == tenant, decision_bases.c.idea_id == idea_id
            )
        )
    ).first()


async def _check_developer(conn: AsyncConnection, actor: Actor, idea: Any) -> None:
    # The idea giver develops the idea with the ambassador, so they may read and draft too.
    if idea.idea_giver_id is not None and idea.idea_giver_id == actor.id:
        return
    await _check_serves(conn, actor, idea)


def _basis_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "idea_id": row.idea_id,
        "status": row.status,
        **row.content,
        "updated_by": row.updated_by,
        "updated_at": _aware(row.updated_at),
        "submitted_at": _aware(row.submitted_at) if row.submitted_at else None,
    }


async def read_decision_basis(conn: AsyncConnection, *, actor: Actor, idea_id: str) -> Any:
    """The idea's decision basis, draft or submitted."""
    idea = await _idea_for(conn, actor, idea_id)
    if not actor.roles & {"management"}:
        await _check_developer(conn, actor, idea)
    row = await _basis_row(conn, actor.tenant, idea_id)
    if row is None:
        raise NotFound("decision basis")
    return _basis_out(row)


async def save_decision_basis_draft(
    conn: AsyncConnection, *, actor: Actor, idea_id: str, changes: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Save the fields sent into the idea's draft decision basis."""
    idea = await _idea_for(conn, actor, idea_id)
    await _check_developer(conn, actor, idea)
    lifecycle.check_in_development(idea.status)
    await _check_implementer(conn, actor.tenant, changes)
    row = await _basis_row(conn, actor.tenant, idea_id)
    content = basis_rules.merge_draft(row.content if row else {}, changes)
    basis_id = row.id if row else new_id()
    values = {
        "id": basis_id,
        "status": "draft",
        "content": content,
        "updated_by": actor.id,
        "updated_at": now,
        "submitted_at": None,
    }
    if row is None:
        await conn.execute(
            insert(decision_bases).values(tenant=actor.tenant, idea_id=idea_id, **values)
        )
    else:
        await conn.execute(
            update(decision_bases)
            .where(decision_bases.c.tenant == actor.tenant, decision_bases.c.idea_id == idea_id)
            .values(**values)
        )
    await audit(
        conn,
        tenant=actor.tenant,
        actor_id=actor.id,
        action="decision_basis.draft_saved",
        subject=idea_id,
        at=now,
        detail={"fields": sorted(changes)},
    )
    saved = await _basis_row(conn, actor.tenant, idea_id)
    return _basis_out(saved)


async def _check_implementer(conn: AsyncConnection, tenant: str, changes: dict[str, Any]) -> None:
    person_id = changes.get("proposed_implementer_id")
    if person_id is None:
        return
    person = await get_person(conn, tenant=tenant, person_id=person_id)
    if person is None or not person.active:
        raise DomainError("proposed_implementer_id", "no such person in this tenant")


async def submit_decision_basis(
    conn: AsyncConnection, *, actor: Actor, idea_id: str, changes: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Complete the decision basis and send the idea to the management group."""
    idea = await _idea_for(conn, actor, idea_id)
    await _check_serves(conn, actor, idea)
    lifecycle.check_in_development(idea.status)
    await _check_implementer(conn, actor.tenant, changes)
    row = await _basis_row(conn, actor.tenant, idea_id)
    content = basis_rules.merge_draft(row.content if row else {}, changes)
    basis_rules.check_complete(content)

    moved = await conn.execute(
        update(ideas)
        .where(
            ideas.c.tenant == actor.tenant,
            ideas.c.id == idea_id,
            ideas.c.status == "in_development",
        )
        .values(status="awaiting_decision", updated_at=now)
    )
    if moved.rowcount != 1:
        raise InvalidTransition("the idea left development meanwhile")
    basis_id = row.id if row else new_id()
    values = {
        "id": basis_id,
        "status": "submitted",
        "content": content,
        "updated_by": actor.id,
        "updated_at": now,
        "submitted_at": now,
    }
    if row is None:
        await conn.execute(
            insert(decision_bases).values(tenant=actor.tenant, idea_id=idea_id, **values)
        )
    else:
        await conn.execute(
            update(decision_bases)
            .where(decision_bases.c.tenant == actor.tenant, decision_bases.c.idea_id == idea_id)
            .values(**values)
        )
    currency = (
        await conn.execute(select(tenants.c.currency).where(tenants.c.tenant == actor.tenant))
    ).scalar_one_or_none() or Currency.SEK.value
    cost = content.get("estimated_cost")
    effort = content.get("estimated_effort_hours")
    data = basis_ev.DecisionBasisSubmitted(
        idea_id=idea_id,
        decision_basis_id=basis_id,
        actor_id=actor.id,
        org_unit_id=idea.org_unit_id,
        administration_id=idea.administration_id,
        description=content["description"],
        estimated_cost=None
        if cost is None
        else Money(
            amount=Decimal(str(cost["amount"])),
            currency=Currency(cost.get("currency") or currency),
        ),
        estimated_effort_hours=None if effort is None else Decimal(str(effort)),
        resources_needed=content.get("resources_needed"),
        expected_effects_short_term=content["effects_short_term"],
        expected_effects_long_term=content["effects_long_term"],
        risks=content.get("risks"),
        proposed_implementer_id=content.get("proposed_implementer_id"),
        proposed_indicators=tuple(
            basis_ev.ProposedIndicator.model_validate(ind)
            for ind in content.get("proposed_indicators") or ()
        ),
        submitted_at=now,
    )
    event = new_event(data, tenant=actor.tenant, subject=idea_id, source=SOURCE, time=now)
    await enqueue(conn, [event])
    await audit(
        conn,
        tenant=actor.tenant,
        actor_id=actor.id,
        action="decision_basis.submitted",
        subject=idea_id,
        event_id=event.id,
        at=now,
        detail={"from": "in_development", "to": "awaiting_decision", "id": basis_id},
    )
    saved = await _basis_row(conn, actor.tenant, idea_id)
    return _basis_out(saved)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns; they were UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
