"""Decision's HTTP API (SPEC §5). Every route checks the role and scopes to the caller's tenant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from ideabank_infra import problems
from ideabank_infra.app import Runtime, get_runtime
from ideabank_infra.auth import CurrentPrincipal, Principal, require_roles
from sqlalchemy.ext.asyncio import AsyncConnection

from ideabank_decision import handlers
from ideabank_decision.domain import DomainError, Forbidden, IllegalTransition, InvalidInput
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

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Decider = Annotated[Principal, require_roles("management", "unit_manager", "department_manager")]
Manager = Annotated[Principal, require_roles("unit_manager", "department_manager")]
Spreader = Annotated[Principal, require_roles("management", "innovation_group")]
Adopter = Annotated[Principal, require_roles("management", "innovation_group", "ambassador")]

router = APIRouter(prefix="/v1", tags=["decision"])


async def _write(
    runtime: Runtime, action: Callable[[AsyncConnection], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    async with runtime.db.transaction() as conn:
        return await action(conn)


async def _read(runtime: Runtime, action: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
    async with runtime.db.engine.connect() as conn:
        return await action(conn)


@router.get("/decision-queue", summary="Ideas waiting for the caller's decision")
async def decision_queue(principal: Decider, runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Management: its administration's ideas awaiting decision, with their decision basis.
    Unit and department managers: quick wins routed to their org unit or below."""
    return await _read(runtime, lambda c: handlers.decision_queue(c, principal=principal))


@router.post("/ideas/{idea_id}/decision", status_code=201, summary="Decide on an idea")
async def decide(
    idea_id: str, body: DecisionIn, principal: Decider, runtime: RuntimeDep
) -> dict[str, Any]:
    """Approve (implementer and kind), reject (motivation) or defer (future revisit date)."""
    now = runtime.clock.now()
    return await _write(
        runtime,
        lambda c: handlers.decide(c, principal=principal, idea_id=idea_id, body=body, now=now),
    )


@router.post("/ideas/{idea_id}/escalate", summary="Hand a quick win to the management group")
async def escalate(
    idea_id: str, principal: Manager, runtime: RuntimeDep, body: EscalationIn | None = None
) -> dict[str, Any]:
    """A unit or department manager escalates a quick win routed to their org unit."""
    now = runtime.clock.now()
    return await _write(
        runtime,
        lambda c: handlers.escalate(
            c, principal=principal, idea_id=idea_id, body=body or EscalationIn(), now=now
        ),
    )


# Implementation routes take any authenticated caller: the implementer is whoever the
# decision named (not necessarily holding the implementer role); handlers check it per idea.


@router.post("/ideas/{idea_id}/plan", status_code=201, summary="Anchor the implementation plan")
async def anchor_plan(
    idea_id: str, body: PlanIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> dict[str, Any]:
    """The assigned implementer anchors a plan made with the idea giver."""
    now = runtime.clock.now()
    return await _write(
        runtime,
        lambda c: handlers.anchor_plan(c, principal=principal, idea_id=idea_id, body=body, now=now),
    )


@router.post("/ideas/{idea_id}/trials", status_code=201, summary="Record a trial action")
async def record_trial(
    idea_id: str, body: TrialIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> dict[str, Any]:
    """A trial action (hypothesis, start, end, result, adopt | adapt | abandon)."""
    now = runtime.clock.now()
    return await _write(
        runtime,
        lambda c: handlers.record_trial(
            c, principal=principal, idea_id=idea_id, body=body, now=now
        ),
    )


@router.post("/ideas/{idea_id}/implemented", summary="Report the idea implemented")
async def implemented(
    idea_id: str,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    body: ImplementedIn | None = None,
) -> dict[str, Any]:
    """Only after a plan is anchored."""
    now = runtime.clock.now()
    return await _write(
        runtime,
        lambda c: handlers.report_implemented(
            c, principal=principal, idea_id=idea_id, body=body or ImplementedIn(), now=now
        ),
    )


@router.post("/ideas/{idea_id}/indicators", status_code=201, summary="Define a result indicator")
async def define_indicator(
    idea_id: str, body: IndicatorIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> dict[str, Any]:
    """Name, unit, baseline, target, direction, cadence and tolerance of an indicator."""
    now = runtime.clock.now()
    return await _write(
        runtime,
        lambda c: handlers.define_indicator(
            c, principal=principal, idea_id=idea_id, body=body, now=now
        ),
    )


@router.post("/ideas/{idea_id}/measurements", status_code=201, summary="Record a measurement")
async def record_measurement(
    idea_id: str, body: MeasurementIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> dict[str, Any]:
    """A value of an indicator; off target past the tolerance it needs a corrective action."""
    now = runtime.clock.now()
    return await _write(
        runtime,
        lambda c: handlers.record_measurement(
            c, principal=principal, idea_id=idea_id, body=body, now=now
        ),
    )


@router.post("/ideas/{idea_id}/evaluation", summary="Evaluate the innovation")
async def evaluate(
    idea_id: str, body: EvaluationIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> dict[str, Any]:
    """Realised benefit (money, hours) and lessons learned; only after implemented.
    The implementer or the innovation group records it."""
    now = runtime.clock.now()
    return await _write(
        runtime,
        lambda c: handlers.evaluate(c, principal=principal, idea_id=idea_id, body=body, now=now),
    )


@router.get("/ideas/{idea_id}/implementation", summary="Decision, plan, trials and benefits")
async def implementation(
    idea_id: str, principal: CurrentPrincipal, runtime: RuntimeDep
) -> dict[str, Any]:
    """Everything this service knows of an idea's decision, implementation and evaluation."""
    return await _read(
        runtime, lambda c: handlers.implementation(c, principal=principal, idea_id=idea_id)
    )


@router.post("/ideas/{idea_id}/offer", summary="Offer an evaluated idea to the network")
async def offer(
    idea_id: str, principal: Spreader, runtime: RuntimeDep, body: OfferIn | None = None
) -> dict[str, Any]:
    """Offers the idea to every network the tenant is a member of (status spread)."""
    now = runtime.clock.now()
    return await _write(
        runtime,
        lambda c: handlers.offer(
            c, principal=principal, idea_id=idea_id, body=body or OfferIn(), now=now
        ),
    )


@router.get("/network/offers", summary="Ideas fellow network members offer")
async def network_offers(principal: CurrentPrincipal, runtime: RuntimeDep) -> list[dict[str, Any]]:
    """The catalogue of ideas offered in the networks the caller's tenant belongs to."""
    return await _read(runtime, lambda c: handlers.network_offers(c, principal=principal))


@router.post("/ideas/{idea_id}/adopt", status_code=201, summary="Adopt an offered idea")
async def adopt(
    idea_id: str, body: AdoptIn, principal: Adopter, runtime: RuntimeDep
) -> dict[str, Any]:
    """``idea_id`` is the ORIGIN tenant's idea; the adopting tenant gets a new idea of its own."""
    now = runtime.clock.now()
    return await _write(
        runtime,
        lambda c: handlers.adopt(
            c,
            db=runtime.db,
            principal=principal,
            origin_idea_id=idea_id,
            body=body,
            now=now,
        ),
    )


@router.get("/ideas/{idea_id}/adoptions", summary="Where an idea was adopted")
async def adoptions(
    idea_id: str, principal: CurrentPrincipal, runtime: RuntimeDep
) -> dict[str, Any]:
    """Origin side: how often and by which tenants the idea was adopted."""
    return await _read(
        runtime, lambda c: handlers.adoptions_of(c, principal=principal, idea_id=idea_id)
    )


def install_problems(app: FastAPI) -> None:
    """Turn the domain's refusals into problem details (422, 409, 403, 404)."""

    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        if isinstance(exc, InvalidInput):
            problem = problems.invalid(exc.field or "body", exc.message)
        elif isinstance(exc, IllegalTransition):
            problem = problems.conflict(exc.message, exc.field)
        elif isinstance(exc, Forbidden):
            problem = problems.forbidden(exc.message)
        else:
            problem = problems.Problem(400, "Bad request", exc.message)
        return await _problem(request, problem)

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, handlers.NotFound)
        return await _problem(request, problems.not_found(exc.what))

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(handlers.NotFound, not_found)


async def _problem(request: Request, problem: problems.Problem) -> JSONResponse:
    return JSONResponse(
        problem.body(str(request.url.path)),
        status_code=problem.status,
        media_type=problems.PROBLEM_JSON,
    )
