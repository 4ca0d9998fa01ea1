"""Evaluation's HTTP API (SPEC §5). Every route checks the role and scopes to the caller's tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from ideabank_contracts.events.common import Currency
from ideabank_contracts.events.indicator import Direction
from ideabank_infra.app import Runtime, get_runtime
from ideabank_infra.auth import CurrentPrincipal, Principal, require_roles
from ideabank_infra.problems import conflict, forbidden, invalid, not_found
from pydantic import BaseModel, ConfigDict, Field

from ideabank_evaluation import handlers
from ideabank_evaluation.domain.errors import DomainError, Forbidden, InvalidTransition
from ideabank_evaluation.domain.screening import Outcome, ScoreInput
from ideabank_evaluation.domain.template import Criterion, Template

router = APIRouter(prefix="/v1", tags=["evaluation"])

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Admin = Annotated[Principal, require_roles("tenant_admin")]
Screener = Annotated[Principal, require_roles("ambassador", "innovation_group")]

ShortText = Annotated[str, Field(min_length=1, max_length=300)]
LongText = Annotated[str, Field(min_length=1, max_length=20_000)]
PersonId = Annotated[str, Field(min_length=1, max_length=100)]


@asynccontextmanager
async def _rules() -> AsyncIterator[None]:
    """Turn a broken rule into its problem; the transaction inside has rolled back by then."""
    try:
        yield
    except DomainError as exc:
        raise invalid(exc.field, exc.message) from exc
    except InvalidTransition as exc:
        raise conflict(exc.message) from exc
    except Forbidden as exc:
        raise forbidden(exc.message) from exc
    except handlers.NotFound as exc:
        raise not_found(str(exc)) from exc


def _actor(p: Principal) -> handlers.Actor:
    return handlers.Actor(id=p.sub, tenant=p.tenant, roles=p.roles, org_unit=p.org_unit)


# --- screening template -----------------------------------------------------------------


class CriterionIn(BaseModel):
    """A criterion of a new template version."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(max_length=63, description="Stable slug, e.g. 'mission'")
    label: ShortText = Field(description="The criterion as shown to ambassadors")
    description: LongText | None = None
    scale_max: int = Field(default=5, description="Scores run from 1 to this (2–10)")
    weight: Decimal = Field(default=Decimal(1), description="Weight in the total (> 0)")


class TemplateIn(BaseModel):
    """The criteria of a new template version."""

    model_config = ConfigDict(extra="forbid")
    criteria: list[CriterionIn]


class CriterionOut(BaseModel):
    """A criterion of a template version."""

    key: str
    label: str
    description: str | None
    scale_max: int
    weight: Decimal


class TemplateOut(BaseModel):
    """A version of the tenant's screening template."""

    version: int
    criteria: list[CriterionOut]
    created_by: str | None = None
    created_at: datetime | None = None


def _template_out(t: Template, row: Any | None = None) -> TemplateOut:
    return TemplateOut(
        version=t.version,
        criteria=[
            CriterionOut(
                key=c.key,
                label=c.label,
                description=c.description,
                scale_max=c.scale_max,
                weight=c.weight,
            )
            for c in t.criteria
        ],
        created_by=None if row is None else row.created_by,
        created_at=None if row is None else row.created_at,
    )


@router.get("/screening-template", summary="The tenant's current screening template")
async def get_template(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    version: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="An earlier version")
    ] = None,
) -> TemplateOut:
    """The newest version (the SPEC §3 default until the tenant admin changes it)."""
    async with runtime.db.engine.connect() as conn:
        if version is None:
            template, row = await handlers.current_template(conn, tenant=principal.tenant)
            return _template_out(template, row)
        found = await handlers.template_version(conn, tenant=principal.tenant, version=version)
    if found is None:
        raise not_found("template version")
    return _template_out(found)


@router.put("/screening-template", summary="Publish a new version of the screening template")
async def put_template(body: TemplateIn, principal: Admin, runtime: RuntimeDep) -> TemplateOut:
    """Creates a new version; screenings already made keep the version they used."""
    criteria = [
        Criterion(
            key=c.key,
            label=c.label,
            description=c.description,
            scale_max=c.scale_max,
            weight=c.weight,
        )
        for c in body.criteria
    ]
    async with _rules(), runtime.db.transaction() as conn:
        t = await handlers.replace_template(
            conn, actor=_actor(principal), criteria=criteria, now=runtime.clock.now()
        )
    return _template_out(t)


# --- queue and screening ----------------------------------------------------------------


class QueueItem(BaseModel):
    """An idea waiting to be screened."""

    idea_id: str
    title: str
    org_unit_id: str
    administration_id: str
    ambassador_id: str | None
    submitted_at: datetime
    in_screening_since: datetime
    waiting_days: int


@router.get("/screening-queue", summary="Ideas waiting for the caller to screen them")
async def get_queue(
    principal: Screener,
    runtime: RuntimeDep,
    administration_id: Annotated[str | None, Query(max_length=100)] = None,
) -> list[QueueItem]:
    """Ideas in_screening of the administrations the caller serves, oldest first."""
    async with runtime.db.engine.connect() as conn:
        items = await handlers.screening_queue(
            conn,
            actor=_actor(principal),
            today=runtime.clock.today(),
            administration_id=administration_id,
        )
    return [QueueItem(**i) for i in items]


class ScoreIn(BaseModel):
    """The score of one criterion."""

    model_config = ConfigDict(extra="forbid")
    criterion_key: str = Field(max_length=63)
    score: int
    note: LongText | None = None


class ScreeningIn(BaseModel):
    """A screening: a score per criterion and the outcome."""

    model_config = ConfigDict(extra="forbid")
    scores: list[ScoreIn] = Field(max_length=50)
    outcome: Outcome
    motivation: LongText | None = Field(
        default=None, description="Feedback to the idea giver; required when rejected"
    )
    revisit_date: date | None = Field(
        default=None, description="Required when paused; the idea returns to the queue then"
    )
    routed_to_org_unit_id: str | None = Field(
        default=None,
        max_length=100,
        description="Quick win: the org unit whose manager decides (default: the idea's)",
    )


class ScoreOut(BaseModel):
    """A criterion's score as recorded, with the template version's wording and weight."""

    criterion_key: str
    label: str
    score: int
    scale_max: int
    weight: Decimal
    note: str | None


class ScreeningOut(BaseModel):
    """A completed screening."""

    id: str
    idea_id: str
    outcome: Outcome
    template_version: int
    scores: list[ScoreOut]
    weighted_total: Decimal
    weighted_max: Decimal
    weighted_share: Decimal = Field(description="weighted_total / weighted_max (0–1)")
    motivation: str | None
    revisit_date: date | None
    routed_to_org_unit_id: str | None
    routed_to_person_id: str | None
    actor_id: str | None
    completed_at: datetime


@router.post(
    "/ideas/{idea_id}/screening",
    status_code=201,
    summary="Screen an idea: scores per criterion and an outcome",
)
async def post_screening(
    idea_id: str, body: ScreeningIn, principal: Screener, runtime: RuntimeDep
) -> ScreeningOut:
    """Rejected (motivation), paused (revisit date), quick win (routed) or in development."""
    async with _rules(), runtime.db.transaction() as conn:
        out = await handlers.screen_idea(
            conn,
            actor=_actor(principal),
            idea_id=idea_id,
            scores=[ScoreInput(s.criterion_key, s.score, s.note) for s in body.scores],
            outcome=body.outcome,
            motivation=body.motivation,
            revisit_date=body.revisit_date,
            routed_to_org_unit_id=body.routed_to_org_unit_id,
            now=runtime.clock.now(),
            today=runtime.clock.today(),
        )
    return ScreeningOut(**out)


@router.get("/ideas/{idea_id}/screening", summary="The screenings of an idea, newest first")
async def get_screenings(
    idea_id: str, principal: CurrentPrincipal, runtime: RuntimeDep
) -> list[ScreeningOut]:
    """For the idea giver, its ambassadors, managers and the tenant admin."""
    async with _rules(), runtime.db.engine.connect() as conn:
        rows = await handlers.screenings_of(conn, actor=_actor(principal), idea_id=idea_id)
    return [ScreeningOut(**r) for r in rows]


# --- decision basis ---------------------------------------------------------------------


class MoneyIn(BaseModel):
    """An amount of money; the currency defaults to the tenant's."""

    model_config = ConfigDict(extra="forbid")
    amount: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    currency: Currency | None = None


class IndicatorIn(BaseModel):
    """An indicator proposed for following up the benefit."""

    model_config = ConfigDict(extra="forbid")
    name: ShortText
    unit: ShortText
    baseline: Decimal | None = Field(default=None, max_digits=18, decimal_places=4)
    target: Decimal | None = Field(default=None, max_digits=18, decimal_places=4)
    direction: Direction


class DecisionBasisIn(BaseModel):
    """Any part of a decision basis; a submit needs description and effects."""

    model_config = ConfigDict(extra="forbid")
    description: LongText | None = None
    estimated_cost: MoneyIn | None = None
    estimated_effort_hours: Decimal | None = Field(
        default=None, ge=0, max_digits=12, decimal_places=2
    )
    resources_needed: LongText | None = None
    effects_short_term: LongText | None = None
    effects_long_term: LongText | None = None
    risks: LongText | None = None
    proposed_implementer_id: PersonId | None = None
    proposed_indicators: list[IndicatorIn] | None = Field(default=None, max_length=20)


class DecisionBasisOut(BaseModel):
    """A decision basis, draft or submitted."""

    id: str
    idea_id: str
    status: str = Field(description="draft | submitted")
    description: str | None = None
    estimated_cost: dict[str, Any] | None = None
    estimated_effort_hours: Decimal | None = None
    resources_needed: str | None = None
    effects_short_term: str | None = None
    effects_long_term: str | None = None
    risks: str | None = None
    proposed_implementer_id: str | None = None
    proposed_indicators: list[dict[str, Any]] | None = None
    updated_by: str | None = None
    updated_at: datetime
    submitted_at: datetime | None = None


def _changes(body: DecisionBasisIn) -> dict[str, Any]:
    # Only what the caller sent replaces the draft; JSON mode keeps decimals exact as strings.
    return body.model_dump(mode="json", exclude_unset=True)


@router.get("/ideas/{idea_id}/decision-basis", summary="The idea's decision basis")
async def get_decision_basis(
    idea_id: str, principal: CurrentPrincipal, runtime: RuntimeDep
) -> DecisionBasisOut:
    """Draft or submitted, for the ambassadors of the administration and the idea giver."""
    async with _rules(), runtime.db.engine.connect() as conn:
        out = await handlers.read_decision_basis(conn, actor=_actor(principal), idea_id=idea_id)
    return DecisionBasisOut(**out)


@router.put("/ideas/{idea_id}/decision-basis", summary="Save a draft of the decision basis")
async def put_decision_basis(
    idea_id: str, body: DecisionBasisIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> DecisionBasisOut:
    """The fields sent replace those of the draft; only while the idea is in development."""
    async with _rules(), runtime.db.transaction() as conn:
        out = await handlers.save_decision_basis_draft(
            conn,
            actor=_actor(principal),
            idea_id=idea_id,
            changes=_changes(body),
            now=runtime.clock.now(),
        )
    return DecisionBasisOut(**out)


@router.post(
    "/ideas/{idea_id}/decision-basis",
    status_code=201,
    summary="Submit the decision basis to the management group",
)
async def post_decision_basis(
    idea_id: str, body: DecisionBasisIn, principal: Screener, runtime: RuntimeDep
) -> DecisionBasisOut:
    """Completes the draft with the fields sent; the idea then awaits a decision."""
    async with _rules(), runtime.db.transaction() as conn:
        out = await handlers.submit_decision_basis(
            conn,
            actor=_actor(principal),
            idea_id=idea_id,
            changes=_changes(body),
            now=runtime.clock.now(),
        )
    return DecisionBasisOut(**out)
