"""Intake's HTTP API (SPEC §5): ideas, the public channel, personal data and tenancy.

Every route checks the caller's role and scopes to the caller's tenant; anything of another
tenant is 404. An anonymous idea never shows its idea giver to anyone but the giver.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from ideabank_contracts.events.common import Language
from ideabank_infra.app import Runtime, get_runtime
from ideabank_infra.auth import (
    ROLES,
    CurrentPrincipal,
    Principal,
    bearer_principal,
    require_roles,
)
from ideabank_infra.db import GroupCommit
from ideabank_infra.fastpath import FastAnswer, FastRequest, FastRoute
from ideabank_infra.problems import Problem, invalid, not_found
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import select

from ideabank_intake import handlers
from ideabank_intake.domain import ideas as rules
from ideabank_intake.domain.tenancy import TenancyError
from ideabank_intake.handlers import DuplicatePolicy, NewIdea
from ideabank_intake.ratelimit import TokenBuckets, retry_after
from ideabank_intake.settings import IntakeSettings
from ideabank_intake.store import (
    ambassadors,
    comments,
    headcounts,
    load_idea,
    network_members,
    org_subtree,
    org_units,
    people,
    search_ideas,
    supports,
    targets,
)
from ideabank_intake.tenancy import ApplyResult, TenancyDocument, apply_tenancy

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Admin = Annotated[Principal, require_roles("tenant_admin")]

tenancy_router = APIRouter(prefix="/v1", tags=["tenancy"])


@tenancy_router.put(
    "/admin/tenancy",
    summary="Apply a tenancy document (org units, headcounts, targets, people, ambassadors, networks)",
)
async def put_tenancy(doc: TenancyDocument, principal: Admin, runtime: RuntimeDep) -> ApplyResult:
    """Apply any part of the tenant's organisation; unchanged items emit no events."""
    try:
        async with runtime.db.transaction() as conn:
            return await apply_tenancy(
                conn,
                tenant=principal.tenant,
                doc=doc,
                actor_id=principal.sub,
                now=runtime.clock.now(),
            )
    except TenancyError as exc:
        raise invalid(exc.field, exc.message) from exc


@tenancy_router.get("/org-units", summary="The tenant's org-unit tree")
async def list_org_units(principal: CurrentPrincipal, runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Every org unit of the caller's tenant, administrations first."""
    async with runtime.db.engine.connect() as conn:
        rows = await conn.execute(
            select(org_units)
            .where(org_units.c.tenant == principal.tenant)
            .order_by(org_units.c.administration_id, org_units.c.kind, org_units.c.id)
        )
        return [_public(r._mapping) for r in rows]


@tenancy_router.get("/admin/tenancy", summary="The whole tenancy of the caller's tenant")
async def get_tenancy(principal: Admin, runtime: RuntimeDep) -> dict[str, Any]:
    """Org units, headcounts, targets, people, ambassadors and networks."""
    t = principal.tenant
    async with runtime.db.engine.connect() as conn:

        async def rows(table: Any) -> list[dict[str, Any]]:
            result = await conn.execute(select(table).where(table.c.tenant == t))
            return [_public(r._mapping) for r in result]

        return {
            "org_units": await rows(org_units),
            "headcounts": await rows(headcounts),
            "targets": await rows(targets),
            "people": await rows(people),
            "ambassadors": await rows(ambassadors),
            "networks": [
                r["network"] for r in await rows(network_members) if r.get("left_at") is None
            ],
        }


@tenancy_router.get("/people/{person_id}", summary="A person of the tenant (name and roles)")
async def get_person(
    person_id: str, principal: CurrentPrincipal, runtime: RuntimeDep
) -> dict[str, Any]:
    """Name, language, org unit and roles of a person in the caller's tenant."""
    async with runtime.db.engine.connect() as conn:
        row = (
            await conn.execute(
                select(people).where(people.c.tenant == principal.tenant, people.c.id == person_id)
            )
        ).first()
    if row is None:
        raise Problem(404, "Not found", "No such person", kind="not-found")
    out = _public(row._mapping)
    if principal.sub != person_id and not principal.has("tenant_admin"):
        out.pop("email", None)
    return out


@tenancy_router.get("/people/{person_id}/export", summary="A person's data held by intake")
async def export_person(
    person_id: str, principal: CurrentPrincipal, runtime: RuntimeDep
) -> dict[str, Any]:
    """The person themselves or the tenant admin: their record, ideas, comments, supports."""
    if principal.sub != person_id and not principal.has("tenant_admin"):
        raise Problem(403, "Forbidden", "only the person or the tenant admin", kind="forbidden")
    async with runtime.db.engine.connect() as conn:
        return await handlers.export_person(conn, tenant=principal.tenant, person_id=person_id)


@tenancy_router.post("/people/{person_id}/erase", summary="Erase a person (GDPR)")
async def erase_person(person_id: str, principal: Admin, runtime: RuntimeDep) -> dict[str, Any]:
    """Replace the person by a pseudonym, blank their comments, announce idea.redacted."""
    async with runtime.db.transaction() as conn:
        return await handlers.erase_person(
            conn,
            tenant=principal.tenant,
            person_id=person_id,
            actor_id=principal.sub,
            now=runtime.clock.now(),
        )


def _public(row: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(row).items() if k != "tenant"}


#: Anyone of the tenant, whatever their role.
Member = Annotated[Principal, require_roles(*sorted(ROLES))]

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]


class IdeaIn(BaseModel):
    """A new idea from the staff portal; the caller is the idea giver."""

    model_config = ConfigDict(extra="forbid")
    title: Title
    description: Text
    problem: Text = Field(description="The problem the idea solves")
    proposed_solution: Text | None = None
    expected_benefit: Text | None = None
    org_unit_id: Ref = Field(description="Org unit the idea concerns")
    category: Title = "general"
    co_author_ids: list[Ref] = Field(default_factory=list, max_length=20)
    anonymous: bool = False
    language: Language | None = None


class IdeaPatch(BaseModel):
    """The fields to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    description: Text | None = None
    problem: Text | None = None
    proposed_solution: Text | None = None
    expected_benefit: Text | None = None
    org_unit_id: Ref | None = None
    category: Title | None = None
    co_author_ids: list[Ref] | None = Field(default=None, max_length=20)


class WithdrawIn(BaseModel):
    """Why the idea giver withdraws (optional)."""

    model_config = ConfigDict(extra="forbid")
    reason: Text | None = None


class CommentIn(BaseModel):
    """A comment, optionally answering another comment on the same idea."""

    model_config = ConfigDict(extra="forbid")
    body: Text
    reply_to_comment_id: Ref | None = None


class MergeIn(BaseModel):
    """Merge this idea, a duplicate, into another."""

    model_config = ConfigDict(extra="forbid")
    into_idea_id: Ref
    motivation: Text | None = None


class PublicIdeaIn(BaseModel):
    """An idea from a resident, without an account."""

    model_config = ConfigDict(extra="forbid")
    title: Title
    description: Text
    problem: Text
    org_unit_id: Ref | None = None
    category: Title | None = None
    contact_email: Email | None = Field(
        default=None, description="Kept only by intake, to answer the resident; never published"
    )
    language: Language | None = None


ideas_router = APIRouter(prefix="/v1", tags=["ideas"])
public_router = APIRouter(prefix="/v1/public", tags=["public channel"])


def _policy(runtime: Runtime) -> DuplicatePolicy:
    s = runtime.settings
    assert isinstance(s, IntakeSettings)
    return DuplicatePolicy(threshold=s.duplicate_threshold, limit=s.duplicate_limit)


def idea_view(row: Mapping[Any, Any], viewer: str | None) -> dict[str, Any]:
    """An idea as the API shows it to ``viewer``."""
    shown_giver = row["giver_id"]
    if row["anonymous"] and viewer != row["giver_id"]:
        shown_giver = None
    out = {
        "id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "problem": row["problem"],
        "proposed_solution": row["proposed_solution"],
        "expected_benefit": row["expected_benefit"],
        "org_unit_id": row["org_unit_id"],
        "administration_id": row["administration_id"],
        "category": row["category"],
        "channel": row["channel"],
        "language": row["language"],
        "status": row["status"],
        "anonymous": bool(row["anonymous"]),
        "giver_id": shown_giver,
        "co_author_ids": list(row["co_author_ids"] or []),
        "mine": viewer is not None
        and (viewer == row["giver_id"] or viewer in (row["co_author_ids"] or [])),
        "ambassador_id": row["ambassador_id"],
        "comments_count": row["comments_count"],
        "supports_count": row["supports_count"],
        "possible_duplicate_ids": list(row["possible_duplicate_ids"] or []),
        "merged_into_id": row["merged_into_id"],
        "source_ref": row["source_ref"],
        "source_system": row["source_system"],
        "source_url": row["source_url"],
        "lineage": (
            {
                "origin_tenant": row["origin_tenant"],
                "origin_idea_id": row["origin_idea_id"],
                "network": row["network"],
            }
            if row["origin_tenant"]
            else None
        ),
        "submitted_at": row["submitted_at"],
        "updated_at": row["updated_at"],
    }
    return out


@ideas_router.post("/ideas", status_code=201, summary="Submit an idea (staff portal)")
async def submit_idea(body: IdeaIn, principal: Member, runtime: RuntimeDep) -> dict[str, Any]:
    """Register an idea by the caller; the answer points out likely duplicates."""
    return await _submit(body, principal, runtime)


async def submit_idea_fast(request: FastRequest) -> FastAnswer:
    """``POST /v1/ideas`` as :func:`submit_idea` answers it, ahead of FastAPI's router.

    Anything but a JSON body that validates, from a known caller, goes on to the route
    (which then answers 401, 403 or 422); nothing is written before that is settled.
    """
    if not request.is_json():
        return None
    try:
        principal = await bearer_principal(
            request.app.state.verifier, request.header(b"authorization")
        )
        body = IdeaIn.model_validate_json(request.body)
    except (Problem, ValidationError):
        return None
    if not principal.has(*ROLES):
        return None
    return 201, await _submit(body, principal, request.app.state.runtime)


async def _submit(body: IdeaIn, principal: Principal, runtime: Runtime) -> dict[str, Any]:
    new = NewIdea(
        title=body.title,
        description=body.description,
        problem=body.problem,
        proposed_solution=body.proposed_solution,
        expected_benefit=body.expected_benefit,
        org_unit_id=body.org_unit_id,
        category=body.category,
        channel="staff_portal",
        co_author_ids=tuple(body.co_author_ids),
        anonymous=body.anonymous,
        language=body.language.value if body.language else None,
        giver_id=principal.sub,
    )
    # Submissions arriving together are registered together, with one commit.
    result = await _submissions(runtime)(
        handlers.Submission(principal.tenant, new, runtime.clock.now(), _policy(runtime))
    )
    return {"idea": idea_view(result.idea, principal.sub), "duplicates": result.duplicates}


#: The staff portal's submissions, answered ahead of FastAPI's router in the plain case.
fast_routes = [FastRoute("POST", "/v1/ideas", submit_idea_fast)]


@ideas_router.get("/ideas", summary="List the tenant's ideas")
async def list_ideas(
    principal: Member,
    runtime: RuntimeDep,
    status: Annotated[list[str] | None, Query(description="One or more statuses")] = None,
    org_unit: Annotated[str | None, Query(description="An org unit and everything below")] = None,
    mine: Annotated[bool, Query(description="Only ideas the caller gave or co-wrote")] = False,
    q: Annotated[str | None, Query(max_length=200, description="Words in title or text")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """A page of ideas, newest first, with the total count."""
    for s in status or []:
        if s not in rules.ALL_STATUSES:
            raise invalid("status", f"unknown status {s!r}")
    async with runtime.db.engine.connect() as conn:
        units = await org_subtree(conn, principal.tenant, org_unit) if org_unit else None
        rows, total = await search_ideas(
            conn,
            tenant=principal.tenant,
            statuses=status,
            org_unit_ids=units,
            person_id=principal.sub if mine else None,
            text=q.strip() if q else None,
            limit=limit,
            offset=offset,
        )
    return {
        "items": [idea_view(r._mapping, principal.sub) for r in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@ideas_router.get("/ideas/{idea_id}", summary="One idea")
async def get_idea(idea_id: str, principal: Member, runtime: RuntimeDep) -> dict[str, Any]:
    """An idea with its status, counts, ambassador, lineage and source."""
    async with runtime.db.engine.connect() as conn:
        row = await load_idea(conn, principal.tenant, idea_id)
        if row is None:
            raise not_found("idea")
        mine = (
            await conn.execute(
                select(supports.c.person_id).where(
                    supports.c.tenant == principal.tenant,
                    supports.c.idea_id == idea_id,
                    supports.c.person_id == principal.sub,
                )
            )
        ).first()
    return {**idea_view(row._mapping, principal.sub), "supported_by_me": mine is not None}


@ideas_router.patch("/ideas/{idea_id}", summary="Edit an idea until screening starts")
async def patch_idea(
    idea_id: str, body: IdeaPatch, principal: Member, runtime: RuntimeDep
) -> dict[str, Any]:
    """The idea giver or a co-author changes the idea; 409 once screening has started."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise invalid("body", "name at least one field to change")
    async with runtime.db.transaction() as conn:
        after = await handlers.revise_idea(
            conn,
            tenant=principal.tenant,
            actor_id=principal.sub,
            idea_id=idea_id,
            changes=changes,
            now=runtime.clock.now(),
        )
    return idea_view(after, principal.sub)


@ideas_router.post("/ideas/{idea_id}/withdraw", summary="Withdraw an idea before a decision")
async def withdraw_idea(
    idea_id: str, principal: Member, runtime: RuntimeDep, body: WithdrawIn | None = None
) -> dict[str, Any]:
    """The idea giver withdraws the idea; 409 after a decision."""
    async with runtime.db.transaction() as conn:
        after = await handlers.withdraw_idea(
            conn,
            tenant=principal.tenant,
            actor_id=principal.sub,
            idea_id=idea_id,
            reason=body.reason if body else None,
            now=runtime.clock.now(),
        )
    return idea_view(after, principal.sub)


@ideas_router.post("/ideas/{idea_id}/comments", status_code=201, summary="Comment on an idea")
async def add_comment(
    idea_id: str, body: CommentIn, principal: Member, runtime: RuntimeDep
) -> dict[str, Any]:
    """Anyone of the tenant comments."""
    async with runtime.db.transaction() as conn:
        row = await handlers.comment_on_idea(
            conn,
            tenant=principal.tenant,
            actor_id=principal.sub,
            idea_id=idea_id,
            body=body.body,
            reply_to_comment_id=body.reply_to_comment_id,
            now=runtime.clock.now(),
        )
    return _comment_view(row)


@ideas_router.get("/ideas/{idea_id}/comments", summary="The comments on an idea")
async def list_comments(
    idea_id: str,
    principal: Member,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Comments, oldest first."""
    async with runtime.db.engine.connect() as conn:
        if await load_idea(conn, principal.tenant, idea_id) is None:
            raise not_found("idea")
        rows = await conn.execute(
            select(comments)
            .where(comments.c.tenant == principal.tenant, comments.c.idea_id == idea_id)
            .order_by(comments.c.created_at, comments.c.id)
            .limit(limit)
            .offset(offset)
        )
        return {
            "items": [_comment_view(r._mapping) for r in rows],
            "limit": limit,
            "offset": offset,
        }


def _comment_view(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "idea_id": row["idea_id"],
        "author_id": row["author_id"],
        "body": row["body"],
        "reply_to_comment_id": row["reply_to_comment_id"],
        "redacted": bool(row["redacted"]),
        "created_at": row["created_at"],
    }


@ideas_router.post("/ideas/{idea_id}/supports", summary="Support an idea (once per person)")
async def support_idea(
    idea_id: str, principal: Member, runtime: RuntimeDep, response: Response
) -> dict[str, Any]:
    """Anyone of the tenant supports; a second support by the same person changes nothing."""
    async with runtime.db.transaction() as conn:
        added, count = await handlers.support_idea(
            conn,
            tenant=principal.tenant,
            actor_id=principal.sub,
            idea_id=idea_id,
            now=runtime.clock.now(),
        )
    response.status_code = 201 if added else 200
    return {"idea_id": idea_id, "supported": True, "new": added, "supports_count": count}


@ideas_router.post("/ideas/{idea_id}/merge", summary="Merge a duplicate into another idea")
async def merge_idea(
    idea_id: str, body: MergeIn, principal: Member, runtime: RuntimeDep
) -> dict[str, Any]:
    """An ambassador of the idea's administration (or the innovation group) merges it."""
    async with runtime.db.transaction() as conn:
        after = await handlers.merge_idea(
            conn,
            tenant=principal.tenant,
            actor_id=principal.sub,
            actor_roles=principal.roles,
            idea_id=idea_id,
            into_idea_id=body.into_idea_id,
            motivation=body.motivation,
            now=runtime.clock.now(),
        )
    return idea_view(after, principal.sub)


# --- public channel ----------------------------------------------------------------------


def _submissions(runtime: Runtime) -> GroupCommit[handlers.Submission, handlers.Submitted]:
    group = runtime.state.get("submissions")
    if group is None:
        group = GroupCommit(runtime.db, handlers.submit_ideas)
        runtime.state["submissions"] = group
    return group


def _buckets(runtime: Runtime) -> TokenBuckets:
    buckets = runtime.state.get("public_buckets")
    if buckets is None:
        s = runtime.settings
        assert isinstance(s, IntakeSettings)
        buckets = TokenBuckets(s.public_rate_limit, s.public_rate_window_seconds)
        runtime.state["public_buckets"] = buckets
    assert isinstance(buckets, TokenBuckets)
    return buckets


def _client(request: Request, settings: IntakeSettings) -> str:
    if settings.public_trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


def _too_large(limit: int) -> Problem:
    return Problem(
        413, "Payload too large", f"the body may be at most {limit} bytes", kind="too-large"
    )


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _too_large(limit)
        except ValueError as exc:
            raise Problem(400, "Bad request", "invalid Content-Length") from exc
    # The header may be absent or lie (chunked bodies): count what actually arrives.
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


@public_router.post(
    "/{tenant}/ideas",
    status_code=201,
    summary="Submit an idea as a resident (no account; rate and size limited)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PublicIdeaIn.model_json_schema()}},
        }
    },
)
async def submit_public_idea(tenant: str, request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Register a resident's idea; answers 413 when too large and 429 when too frequent."""
    settings = runtime.settings
    assert isinstance(settings, IntakeSettings)
    if len(tenant) > 63:
        raise not_found("tenant")
    async with runtime.db.engine.connect() as conn:
        known = await handlers.tenant_exists(conn, tenant)
    if not known:
        raise not_found("tenant")
    wait = _buckets(runtime).take(_client(request, settings), time.monotonic())
    if wait > 0:
        raise Problem(
            429,
            "Too many requests",
            "too many submissions from this client; try again later",
            kind="rate-limited",
            headers={"Retry-After": retry_after(wait)},
        )
    raw = await _read_limited(request, settings.public_max_body_bytes)
    try:
        body = PublicIdeaIn.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"loc": ("body",), "msg": "invalid"}
        field = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise invalid(field, str(first.get("msg", "invalid"))) from exc
    async with runtime.db.transaction() as conn:
        unit = body.org_unit_id or await handlers.first_administration(conn, tenant)
        if unit is None:
            raise invalid("org_unit_id", "the municipality has no org units yet")
        result = await handlers.submit_idea(
            conn,
            tenant=tenant,
            new=NewIdea(
                title=body.title,
                description=body.description,
                problem=body.problem,
                org_unit_id=unit,
                category=body.category or "public",
                channel="public_channel",
                language=body.language.value if body.language else None,
                contact_email=body.contact_email,
            ),
            now=runtime.clock.now(),
            policy=DuplicatePolicy(limit=0),
        )
    idea = result.idea
    # A resident learns only that the idea arrived, nothing about other ideas.
    return {"id": idea["id"], "status": idea["status"], "submitted_at": idea["submitted_at"]}
