"""Notification's HTTP API (SPEC §5). Every route checks the role and scopes to the caller's tenant."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from ideabank_infra.app import Runtime, get_runtime
from ideabank_infra.auth import CurrentPrincipal, Principal, require_roles
from ideabank_infra.problems import conflict, invalid, not_found
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, func, select, update

from ideabank_notification import handlers as h
from ideabank_notification import store
from ideabank_notification.consumers import context
from ideabank_notification.domain.announcements import AnnouncementError
from ideabank_notification.domain.preferences import Mode
from ideabank_notification.domain.webhooks import WebhookError
from ideabank_notification.store import (
    announcements,
    messages,
    webhook_attempts,
    webhook_deliveries,
    webhooks,
)

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Admin = Annotated[Principal, require_roles("tenant_admin")]
Communicator = Annotated[Principal, require_roles("communicator")]

router = APIRouter(prefix="/v1", tags=["notification"])


class Strict(BaseModel):
    """Request bodies reject unknown fields, so a typo is a 422 and not silently ignored."""

    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- inbox


@router.get("/inbox", summary="The caller's messages, unread first, newest first")
async def list_inbox(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Messages addressed to the caller in their tenant."""
    mine = and_(messages.c.tenant == principal.tenant, messages.c.person_id == principal.sub)
    stmt = select(messages).where(mine)
    if unread:
        stmt = stmt.where(messages.c.read_at.is_(None))
    stmt = stmt.order_by(
        messages.c.read_at.is_not(None), messages.c.created_at.desc(), messages.c.id.desc()
    )
    async with runtime.db.engine.connect() as conn:
        rows = (await conn.execute(stmt.limit(limit).offset(offset))).all()
        unread_count = (
            await conn.execute(
                select(func.count()).select_from(messages).where(mine, messages.c.read_at.is_(None))
            )
        ).scalar_one()
    items = [store.as_dict(r, drop=("tenant", "person_id", "dedup_key")) for r in rows]
    for item in items:
        item["read"] = item["read_at"] is not None
    return {"items": items, "unread": int(unread_count)}


@router.post("/inbox/{message_id}/read", summary="Mark one of the caller's messages as read")
async def mark_read(
    message_id: int, principal: CurrentPrincipal, runtime: RuntimeDep
) -> dict[str, Any]:
    """Idempotent: reading a read message keeps its first read time."""
    async with runtime.db.transaction() as conn:
        row = (
            await conn.execute(
                select(messages.c.id, messages.c.read_at).where(
                    messages.c.id == message_id,
                    messages.c.tenant == principal.tenant,
                    messages.c.person_id == principal.sub,
                )
            )
        ).first()
        if row is None:
            raise not_found("message")
        if row.read_at is None:
            await conn.execute(
                update(messages)
                .where(messages.c.id == message_id)
                .values(read_at=runtime.clock.now())
            )
    return {"id": message_id, "read": True}


# --------------------------------------------------------------------------- preferences


class PreferencesUpdate(Strict):
    """Modes per channel; a channel left out keeps its mode."""

    inbox: Mode | None = Field(default=None, description="immediate | daily | weekly | off")
    email: Mode | None = Field(default=None, description="immediate | daily | weekly | off")


@router.get("/preferences", summary="The caller's delivery preferences per channel")
async def get_preferences(principal: CurrentPrincipal, runtime: RuntimeDep) -> dict[str, str]:
    """Immediate on both channels unless changed."""
    async with runtime.db.engine.connect() as conn:
        return await h.get_preferences(conn, tenant=principal.tenant, person_id=principal.sub)


@router.put("/preferences", summary="Change the caller's delivery preferences")
async def put_preferences(
    body: PreferencesUpdate, principal: CurrentPrincipal, runtime: RuntimeDep
) -> dict[str, str]:
    """Per channel: immediate, a daily or weekly digest, or off."""
    async with runtime.db.transaction() as conn:
        return await h.set_preferences(
            conn,
            context(runtime),
            tenant=principal.tenant,
            person_id=principal.sub,
            inbox=body.inbox.value if body.inbox else None,
            email=body.email.value if body.email else None,
        )


# --------------------------------------------------------------------------- announcements


async def _caller_administration(conn: Any, principal: Principal) -> str | None:
    org_unit = principal.org_unit
    if org_unit is None:
        person = (
            await conn.execute(
                select(store.people.c.org_unit_id).where(
                    store.people.c.tenant == principal.tenant, store.people.c.id == principal.sub
                )
            )
        ).scalar_one_or_none()
        org_unit = person
    return await store.administration_of(conn, principal.tenant, org_unit)


def _announcement(row: Any) -> dict[str, Any]:
    out = store.as_dict(row, drop=("tenant", "cursor"))
    out["progress"] = (
        round(row.delivered / row.recipients, 4)
        if row.recipients
        else (1.0 if row.status == "sent" else 0.0)
    )
    return out


async def _own_announcement(conn: Any, principal: Principal, announcement_id: str) -> Any:
    row = (
        await conn.execute(
            select(announcements).where(
                announcements.c.id == announcement_id, announcements.c.tenant == principal.tenant
            )
        )
    ).first()
    if row is None:
        raise not_found("announcement")
    admin = await _caller_administration(conn, principal)
    if admin is not None and admin != row.administration_id:
        # A communicator of another administration does not see this one at all.
        raise not_found("announcement")
    return row


@router.get("/announcements", summary="Announcements of the communicator's administration")
async def list_announcements(
    principal: Communicator, runtime: RuntimeDep, status: str | None = None
) -> list[dict[str, Any]]:
    """Drafts to approve and announcements sent, newest first."""
    async with runtime.db.engine.connect() as conn:
        admin = await _caller_administration(conn, principal)
        stmt = select(announcements).where(announcements.c.tenant == principal.tenant)
        if admin is not None:
            stmt = stmt.where(announcements.c.administration_id == admin)
        if status:
            stmt = stmt.where(announcements.c.status == status)
        rows = await conn.execute(stmt.order_by(announcements.c.created_at.desc()).limit(200))
        return [_announcement(r) for r in rows]


@router.get("/announcements/{announcement_id}", summary="One announcement and its progress")
async def get_announcement(
    announcement_id: str, principal: Communicator, runtime: RuntimeDep
) -> dict[str, Any]:
    """Recipients counted at approval and messages delivered so far."""
    async with runtime.db.engine.connect() as conn:
        return _announcement(await _own_announcement(conn, principal, announcement_id))


class Approval(Strict):
    """Optional edits of the draft's text."""

    headline: str | None = Field(default=None, min_length=1, max_length=300)
    body: str | None = Field(default=None, min_length=1, max_length=20_000)


@router.post(
    "/announcements/{announcement_id}/approve",
    status_code=202,
    summary="Approve an announcement; it is sent to all staff of the administration",
)
async def approve(
    announcement_id: str,
    principal: Communicator,
    runtime: RuntimeDep,
    body: Approval | None = None,
) -> dict[str, Any]:
    """Emits ``idea.announced``; the messages are written in the background (see progress)."""
    body = body or Approval()
    async with runtime.db.transaction() as conn:
        row = await _own_announcement(conn, principal, announcement_id)
        try:
            return await h.approve_announcement(
                conn,
                context(runtime),
                announcement=row,
                actor_id=principal.sub,
                headline=body.headline,
                body=body.body,
            )
        except AnnouncementError as exc:
            raise conflict(str(exc), "status") from exc


# --------------------------------------------------------------------------- webhooks


class WebhookCreate(Strict):
    """An endpoint and the event types it wants."""

    url: str = Field(max_length=2000, description="http(s) URL that receives POSTed events")
    event_types: list[str] = Field(
        default_factory=lambda: ["*"],
        max_length=50,
        description="Filters on <aggregate>.<event>, e.g. ['idea.*', 'decision.made']",
    )


def _webhook(row: Any) -> dict[str, Any]:
    return store.as_dict(row, drop=("tenant", "secret", "previous_secret"))


@router.post("/webhooks", status_code=201, summary="Register a webhook endpoint")
async def create_webhook(
    body: WebhookCreate, principal: Admin, runtime: RuntimeDep
) -> dict[str, Any]:
    """The answer carries the signing secret (``whsec_…``); it is not shown again."""
    try:
        async with runtime.db.transaction() as conn:
            return await h.create_webhook(
                conn,
                context(runtime),
                tenant=principal.tenant,
                actor_id=principal.sub,
                url=body.url,
                event_types=body.event_types,
            )
    except WebhookError as exc:
        raise invalid(exc.field, exc.message) from exc


@router.get("/webhooks", summary="The tenant's webhook endpoints")
async def list_webhooks(principal: Admin, runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Without secrets."""
    async with runtime.db.engine.connect() as conn:
        rows = await conn.execute(
            select(webhooks)
            .where(webhooks.c.tenant == principal.tenant)
            .order_by(webhooks.c.created_at)
        )
        return [_webhook(r) for r in rows]


async def _own_webhook(conn: Any, principal: Principal, webhook_id: str) -> Any:
    row = (
        await conn.execute(
            select(webhooks).where(
                webhooks.c.id == webhook_id, webhooks.c.tenant == principal.tenant
            )
        )
    ).first()
    if row is None:
        raise not_found("webhook")
    return row


@router.post("/webhooks/{webhook_id}/rotate-secret", summary="Rotate the signing secret")
async def rotate_secret(webhook_id: str, principal: Admin, runtime: RuntimeDep) -> dict[str, Any]:
    """The old secret keeps signing beside the new one for the grace period."""
    async with runtime.db.transaction() as conn:
        hook = await _own_webhook(conn, principal, webhook_id)
        return await h.rotate_secret(conn, context(runtime), hook=hook)


@router.post("/webhooks/{webhook_id}/enable", summary="Enable a disabled endpoint again")
async def enable_webhook(webhook_id: str, principal: Admin, runtime: RuntimeDep) -> dict[str, Any]:
    """Resets the failure count; deliveries still pending are attempted again."""
    async with runtime.db.transaction() as conn:
        await _own_webhook(conn, principal, webhook_id)
        await conn.execute(
            update(webhooks)
            .where(webhooks.c.id == webhook_id)
            .values(enabled=True, consecutive_failures=0, disabled_at=None)
        )
        return _webhook(await _own_webhook(conn, principal, webhook_id))


@router.get(
    "/webhooks/{webhook_id}/deliveries", summary="Deliveries of an endpoint with every attempt"
)
async def list_deliveries(
    webhook_id: str,
    principal: Admin,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Newest first; each with its attempts (time, HTTP status, error, duration)."""
    async with runtime.db.engine.connect() as conn:
        hook = await _own_webhook(conn, principal, webhook_id)
        rows = (
            await conn.execute(
                select(webhook_deliveries)
                .where(webhook_deliveries.c.webhook_id == webhook_id)
                .order_by(webhook_deliveries.c.created_at.desc())
                .limit(limit)
            )
        ).all()
        attempts: dict[str, list[dict[str, Any]]] = {}
        if rows:
            found = await conn.execute(
                select(webhook_attempts)
                .where(webhook_attempts.c.delivery_id.in_([r.id for r in rows]))
                .order_by(webhook_attempts.c.id)
            )
            for a in found:
                attempts.setdefault(a.delivery_id, []).append(
                    store.as_dict(a, drop=("delivery_id",))
                )
    items = []
    for r in rows:
        item = store.as_dict(r, drop=("tenant", "payload"))
        item["attempt_log"] = attempts.get(r.id, [])
        items.append(item)
    return {"webhook": _webhook(hook), "items": items}
