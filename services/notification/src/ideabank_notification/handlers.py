"""Notification's use cases: keeping the projections, turning events into messages,
announcements and webhook deliveries, and the API's verbs.

Event handlers run inside the consumer's transaction, so a message, an email delivery row
and the projection change commit together or not at all; sending happens after commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ideabank_contracts import CloudEvent, new_event, new_id
from ideabank_contracts.events import IdeaAnnounced
from ideabank_infra.clock import Clock
from ideabank_infra.db import Database, insert_ignore_statement, insert_rows
from ideabank_infra.outbox import enqueue
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ideabank_notification import store
from ideabank_notification.domain import webhooks as wh
from ideabank_notification.domain.announcements import AnnouncementStatus, check_approvable
from ideabank_notification.domain.feedback import Audience, feedback_for, status_after
from ideabank_notification.domain.preferences import Channel, Mode, next_digest_at
from ideabank_notification.domain.reminders import DECIDERS, overdue_since, reminder_key
from ideabank_notification.domain.templates import Rendered, language_or_default, render
from ideabank_notification.settings import NotificationSettings
from ideabank_notification.store import (
    ambassadors,
    announcements,
    deliveries,
    followers,
    ideas,
    messages,
    org_units,
    people,
    preferences,
    reminders,
    tenants,
    webhook_deliveries,
    webhooks,
)

SOURCE = "/ideabank/notification"
#: The event a busy platform is mostly made of; the consumer applies runs of it together.
SUBMITTED = "idea.submitted"


@dataclass
class Context:
    """What every use case needs: the database (for its dialect), settings and the clock."""

    db: Database
    settings: NotificationSettings
    clock: Clock

    @property
    def email_enabled(self) -> bool:
        """Email is off when no SMTP server is configured."""
        return bool(self.settings.smtp_host)


# --------------------------------------------------------------------------- delivery


def _mode(value: str | None) -> Mode:
    return Mode(value) if value else Mode.IMMEDIATE


def plan_delivery(
    ctx: Context,
    *,
    tenant: str,
    recipient: Any,
    rendered: Rendered,
    kind: str,
    dedup: str,
    idea_id: str | None,
    now: datetime,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The inbox row and delivery rows for one recipient, after their preferences."""
    s = ctx.settings
    message: dict[str, Any] | None = None
    outgoing: list[dict[str, Any]] = []
    common = {
        "tenant": tenant,
        "person_id": recipient.id,
        "idea_id": idea_id,
        "kind": kind,
        "subject": rendered.subject[:300],
        "body": rendered.body,
        "language": rendered.language,
    }
    inbox_mode = _mode(recipient.inbox)
    if inbox_mode is Mode.IMMEDIATE:
        message = {**common, "dedup_key": dedup, "created_at": now, "read_at": None}
    elif inbox_mode is not Mode.OFF:
        outgoing.append(
            {
                **common,
                "dedup_key": f"{dedup}:{recipient.id}:inbox",
                "channel": Channel.INBOX.value,
                "mode": inbox_mode.value,
                "status": "pending",
                "due_at": next_digest_at(
                    inbox_mode, now, hour=s.digest_hour, weekday=s.digest_weekday
                ),
                "attempts": 0,
                "created_at": now,
            }
        )
    email_mode = _mode(recipient.email_mode)
    if ctx.email_enabled and recipient.email and email_mode is not Mode.OFF:
        outgoing.append(
            {
                **common,
                "dedup_key": f"{dedup}:{recipient.id}:email",
                "channel": Channel.EMAIL.value,
                "mode": email_mode.value,
                "status": "pending",
                "due_at": next_digest_at(
                    email_mode, now, hour=s.digest_hour, weekday=s.digest_weekday
                ),
                "attempts": 0,
                "created_at": now,
            }
        )
    return message, outgoing


@dataclass(frozen=True)
class Notification:
    """One message template for some people of a tenant, deduplicated by ``dedup``."""

    tenant: str
    person_ids: Sequence[str]
    template: str
    params: Mapping[str, Any]
    dedup: str
    idea_id: str | None = None


async def notify(
    conn: AsyncConnection,
    ctx: Context,
    *,
    tenant: str,
    person_ids: Iterable[str],
    template: str,
    params: Mapping[str, Any],
    dedup: str,
    idea_id: str | None = None,
) -> int:
    """Write the message ``template`` for each person in their language and preferences."""
    return await notify_all(
        conn, ctx, [Notification(tenant, list(person_ids), template, params, dedup, idea_id)]
    )


async def notify_all(
    conn: AsyncConnection, ctx: Context, notifications: Sequence[Notification]
) -> int:
    """Write every notification as :func:`notify` would, in order, with one recipient query
    per tenant and one INSERT per table for all of them; the number of messages planned."""
    wanted: dict[str, set[str]] = {}
    for n in notifications:
        wanted.setdefault(n.tenant, set()).update(n.person_ids)
    known: dict[tuple[str, str], Any] = {}
    fallback: dict[str, str | None] = {}
    for tenant, ids in wanted.items():
        found = await store.recipients(conn, tenant, ids)
        if found:
            known.update(((tenant, r.id), r) for r in found)
            fallback[tenant] = await store.tenant_language(conn, tenant)
    if not known:
        return 0
    now = ctx.clock.now()
    inbox_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    planned = 0
    for n in notifications:
        for person_id in sorted(set(n.person_ids)):
            r = known.get((n.tenant, person_id))
            if r is None:
                continue
            language = language_or_default(r.language, fallback[n.tenant])
            message, outgoing = plan_delivery(
                ctx,
                tenant=n.tenant,
                recipient=r,
                rendered=render(n.template, language, n.params),
                kind=n.template,
                dedup=n.dedup,
                idea_id=n.idea_id,
                now=now,
            )
            if message is not None:
                inbox_rows.append(message)
            delivery_rows.extend(outgoing)
            planned += 1
    # insert-or-ignore on the dedup keys: a redelivered event writes and sends nothing twice.
    dialect = conn.dialect.name
    await insert_rows(
        conn, insert_ignore_statement(dialect, messages, ("dedup_key", "person_id")), inbox_rows
    )
    await insert_rows(
        conn, insert_ignore_statement(dialect, deliveries, ("dedup_key",)), delivery_rows
    )
    return planned


# --------------------------------------------------------------------------- projections


async def _upsert(
    conn: AsyncConnection, ctx: Context, table: Any, keys: Sequence[str], row: dict[str, Any]
) -> None:
    stmt = ctx.db.insert(table).values(**row)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={k: v for k, v in row.items() if k not in keys}
    )
    await conn.execute(stmt)


async def record_tenant(conn: AsyncConnection, ctx: Context, *, event: CloudEvent) -> None:
    """Remember the tenant's default language (fallback for people without one)."""
    await _upsert(
        conn,
        ctx,
        tenants,
        ["tenant"],
        {"tenant": event.tenant, "default_language": event.data["default_language"]},
    )


async def record_org_unit(conn: AsyncConnection, ctx: Context, *, event: CloudEvent) -> None:
    """Keep the org unit and the administration it belongs to."""
    d = event.data
    await _upsert(
        conn,
        ctx,
        org_units,
        ["tenant", "id"],
        {
            "tenant": event.tenant,
            "id": d["org_unit_id"],
            "administration_id": d["administration_id"],
            "name": d["name"],
        },
    )


async def record_person(conn: AsyncConnection, ctx: Context, *, event: CloudEvent) -> None:
    """Keep a person's contact details, language, org unit and roles (latest event wins)."""
    d = event.data
    await _upsert(
        conn,
        ctx,
        people,
        ["tenant", "id"],
        {
            "tenant": event.tenant,
            "id": d["person_id"],
            "name": d["name"],
            "email": d["email"],
            "language": d["language"],
            "org_unit_id": d["org_unit_id"],
            "roles": list(d.get("roles", [])),
            "active": bool(d.get("active", True)),
        },
    )


async def record_ambassador(conn: AsyncConnection, ctx: Context, *, event: CloudEvent) -> None:
    """Keep the ambassador of an administration."""
    d = event.data
    await _upsert(
        conn,
        ctx,
        ambassadors,
        ["tenant", "administration_id"],
        {
            "tenant": event.tenant,
            "administration_id": d["administration_id"],
            "person_id": d["person_id"],
        },
    )


async def _follow(
    conn: AsyncConnection, ctx: Context, tenant: str, idea_id: str, people_: dict[str, str]
) -> None:
    if people_:
        await conn.execute(
            ctx.db.insert_ignore(followers, ["tenant", "idea_id", "person_id"]),
            [
                {"tenant": tenant, "idea_id": idea_id, "person_id": p, "relation": rel}
                for p, rel in people_.items()
            ],
        )


async def _project_idea(conn: AsyncConnection, ctx: Context, key: str, event: CloudEvent) -> None:
    """Apply an idea event to the idea projection and its followers."""
    d, t, idea_id = event.data, event.tenant, event.data["idea_id"]
    if key == "idea.adopted":
        origin = await store.get_idea(conn, d["origin_tenant"], d["origin_idea_id"])
        await conn.execute(
            ctx.db.insert_ignore(ideas, ["tenant", "id"]).values(
                tenant=t,
                id=idea_id,
                giver_id=d["actor_id"],
                title=origin.title if origin is not None else idea_id,
                org_unit_id=d["org_unit_id"],
                administration_id=d["administration_id"],
                status="submitted",
                status_since=event.time,
            )
        )
        await _follow(conn, ctx, t, idea_id, {d["actor_id"]: "giver"})
        return
    changes: dict[str, Any] = {}
    if key == "idea.revised":
        changes.update(
            title=d["title"], org_unit_id=d["org_unit_id"], administration_id=d["administration_id"]
        )
        await _follow(conn, ctx, t, idea_id, {c: "co_author" for c in d.get("co_author_ids", ())})
    elif key == "idea.supported":
        await _follow(conn, ctx, t, idea_id, {d["actor_id"]: "supporter"})
    elif key == "idea.assigned":
        changes.update(ambassador_id=d["ambassador_id"], administration_id=d["administration_id"])
    elif key == "screening.completed":
        changes.update(
            routed_org_unit_id=d.get("routed_to_org_unit_id"),
            routed_person_id=d.get("routed_to_person_id"),
        )
    status = status_after(key, d)
    if status is not None:
        changes.update(status=status, status_since=event.time)
    if changes:
        await conn.execute(
            update(ideas).where(ideas.c.tenant == t, ideas.c.id == idea_id).values(**changes)
        )


async def redact_person(conn: AsyncConnection, ctx: Context, *, event: CloudEvent) -> None:
    """Erase a person from an idea: follow, messages, pending deliveries and contact details."""
    t, idea_id, person = event.tenant, event.data["idea_id"], event.data["person_id"]
    await conn.execute(
        delete(followers).where(
            followers.c.tenant == t, followers.c.idea_id == idea_id, followers.c.person_id == person
        )
    )
    await conn.execute(
        delete(messages).where(
            messages.c.tenant == t, messages.c.person_id == person, messages.c.idea_id == idea_id
        )
    )
    await conn.execute(
        delete(deliveries).where(
            deliveries.c.tenant == t,
            deliveries.c.person_id == person,
            deliveries.c.status == "pending",
        )
    )
    await conn.execute(
        update(ideas)
        .where(ideas.c.tenant == t, ideas.c.id == idea_id, ideas.c.giver_id == person)
        .values(giver_id=None)
    )
    # Contact details are personal data: erasure masks them, so nothing is sent any more.
    await conn.execute(
        update(people)
        .where(people.c.tenant == t, people.c.id == person)
        .values(name=None, email=None, active=False)
    )


# --------------------------------------------------------------------------- feedback


async def deciders(conn: AsyncConnection, tenant: str, idea: Any) -> list[str]:
    """Who is waited on for an idea in its current status (ambassador or managers)."""
    if idea.status == "in_screening":
        if idea.ambassador_id:
            return [idea.ambassador_id]
        row = await conn.execute(
            select(ambassadors.c.person_id).where(
                ambassadors.c.tenant == tenant,
                ambassadors.c.administration_id == idea.administration_id,
            )
        )
        found = row.scalar_one_or_none()
        return [found] if found else []
    if idea.status == "quick_win":
        if idea.routed_person_id:
            return [idea.routed_person_id]
        return await store.people_with_roles(
            conn, tenant, DECIDERS["quick_win"], org_unit_id=idea.routed_org_unit_id
        )
    if idea.status == "awaiting_decision":
        return await store.people_with_roles(
            conn, tenant, DECIDERS["awaiting_decision"], administration_id=idea.administration_id
        )
    return []


async def apply_idea_event(conn: AsyncConnection, ctx: Context, *, event: CloudEvent) -> None:
    """Update the idea projection and tell the people concerned (SPEC §3 feedback)."""
    key = f"{event.aggregate}.{event.event}"
    if key == SUBMITTED:
        await apply_submissions(conn, ctx, events=[event])
        return
    await _project_idea(conn, ctx, key, event)
    d = event.data
    if key == "idea.adopted":
        await _tell_origin_of_adoption(conn, ctx, event)
        return
    idea = await store.get_idea(conn, event.tenant, d["idea_id"])
    if idea is None:
        return
    for n, notice in enumerate(feedback_for(key, d)):
        if notice.audience is Audience.FOLLOWERS:
            targets = await store.follower_ids(conn, event.tenant, idea.id)
        else:
            targets = list(notice.person_ids)
        targets = [p for p in targets if p not in notice.exclude]
        await notify(
            conn,
            ctx,
            tenant=event.tenant,
            person_ids=targets,
            template=notice.template,
            params={"title": idea.title, **notice.params},
            dedup=f"{event.id}:{n}",
            idea_id=idea.id,
        )
    if key == "idea.resumed":
        # A paused or deferred idea is back: remind whoever has to act on it now.
        await notify(
            conn,
            ctx,
            tenant=event.tenant,
            person_ids=await deciders(conn, event.tenant, idea),
            template="reminder_resumed",
            params={"title": idea.title},
            dedup=f"{event.id}:reminder",
            idea_id=idea.id,
        )
    if key == "plan.anchored":
        await draft_announcement(conn, ctx, event=event, idea=idea)


def _submission_rows(
    event: CloudEvent,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The idea row and the follower rows (co-authors, then the idea giver) of a submission."""
    d, t, idea_id = event.data, event.tenant, event.data["idea_id"]
    idea = {
        "tenant": t,
        "id": idea_id,
        "giver_id": d.get("actor_id"),
        "title": d["title"],
        "org_unit_id": d["org_unit_id"],
        "administration_id": d["administration_id"],
        "status": "submitted",
        "status_since": event.time,
    }
    fol = {c: "co_author" for c in d.get("co_author_ids", ())}
    if d.get("actor_id"):
        fol[d["actor_id"]] = "giver"
    rows = [
        {"tenant": t, "idea_id": idea_id, "person_id": p, "relation": rel} for p, rel in fol.items()
    ]
    return idea, rows


async def apply_submissions(
    conn: AsyncConnection, ctx: Context, *, events: Sequence[CloudEvent]
) -> None:
    """Apply idea.submitted events, in order, as :func:`apply_idea_event` would one by one.

    Under load nearly every event is a submission, and statements per event were most of
    this consumer's work: here a run of them takes a few statements in all.
    """
    run: list[CloudEvent] = []
    seen: set[tuple[str, str]] = set()
    for event in events:
        idea = (event.tenant, event.data["idea_id"])
        # The feedback of a submission goes to the followers its idea has by then: the same
        # idea submitted again (under another event id) starts a new run.
        if idea in seen:
            await _apply_distinct_submissions(conn, ctx, run)
            run, seen = [], set()
        run.append(event)
        seen.add(idea)
    if run:
        await _apply_distinct_submissions(conn, ctx, run)


async def _apply_distinct_submissions(
    conn: AsyncConnection, ctx: Context, events: Sequence[CloudEvent]
) -> None:
    """Submissions of different ideas: each statement once for all of them."""
    idea_rows: list[dict[str, Any]] = []
    follower_rows: list[dict[str, Any]] = []
    for event in events:
        idea, fol = _submission_rows(event)
        idea_rows.append(idea)
        follower_rows.extend(fol)
    dialect = conn.dialect.name
    # An idea already known (say, adopted here before) keeps its row, as it did one by one.
    await insert_rows(conn, insert_ignore_statement(dialect, ideas, ("tenant", "id")), idea_rows)
    await insert_rows(
        conn,
        insert_ignore_statement(dialect, followers, ("tenant", "idea_id", "person_id")),
        follower_rows,
    )
    by_tenant: dict[str, list[str]] = {}
    for row in idea_rows:
        by_tenant.setdefault(row["tenant"], []).append(row["id"])
    titles: dict[tuple[str, str], str] = {}
    following: dict[tuple[str, str], list[str]] = {}
    for tenant, idea_ids in by_tenant.items():
        titles.update(
            ((tenant, r.id), r.title) for r in await store.idea_titles(conn, tenant, idea_ids)
        )
        for idea_id, person_ids in (await store.followers_of(conn, tenant, idea_ids)).items():
            following[(tenant, idea_id)] = person_ids
    notifications: list[Notification] = []
    for event in events:
        d, t = event.data, event.tenant
        title = titles.get((t, d["idea_id"]))
        if title is None:
            continue
        for n, notice in enumerate(feedback_for(SUBMITTED, d)):
            if notice.audience is Audience.FOLLOWERS:
                targets = following.get((t, d["idea_id"]), [])
            else:
                targets = list(notice.person_ids)
            notifications.append(
                Notification(
                    tenant=t,
                    person_ids=[p for p in targets if p not in notice.exclude],
                    template=notice.template,
                    params={"title": title, **notice.params},
                    dedup=f"{event.id}:{n}",
                    idea_id=d["idea_id"],
                )
            )
    await notify_all(conn, ctx, notifications)


async def _tell_origin_of_adoption(conn: AsyncConnection, ctx: Context, event: CloudEvent) -> None:
    d = event.data
    origin = await store.get_idea(conn, d["origin_tenant"], d["origin_idea_id"])
    if origin is None:
        return
    await notify(
        conn,
        ctx,
        tenant=d["origin_tenant"],
        person_ids=await store.follower_ids(conn, d["origin_tenant"], origin.id),
        template="adopted",
        params={"title": origin.title, "tenant": d["adopting_tenant"]},
        dedup=f"{event.id}:adopted",
        idea_id=origin.id,
    )


# --------------------------------------------------------------------------- reminders


async def send_due_reminders(conn: AsyncConnection, ctx: Context) -> int:
    """Remind ambassadors and managers once about every idea that has waited too long."""
    now = ctx.clock.now()
    s = ctx.settings
    screening_before = overdue_since(now, s.screening_reminder_days)
    decision_before = overdue_since(now, s.decision_reminder_days)
    rows = await conn.execute(
        select(ideas).where(
            (ideas.c.status == "in_screening") & (ideas.c.status_since < screening_before)
            | ideas.c.status.in_(list(DECIDERS)) & (ideas.c.status_since < decision_before)
        )
    )
    sent = 0
    for idea in rows.all():
        kind = "screening" if idea.status == "in_screening" else "decision"
        key = reminder_key(kind, idea.id, idea.status_since)
        claimed = await conn.execute(
            ctx.db.insert_ignore(reminders, ["tenant", "key"]).values(
                tenant=idea.tenant, key=key, sent_at=now
            )
        )
        if claimed.rowcount == 0:
            continue
        sent += await notify(
            conn,
            ctx,
            tenant=idea.tenant,
            person_ids=await deciders(conn, idea.tenant, idea),
            template=f"reminder_{kind}",
            params={"title": idea.title, "since": idea.status_since.date().isoformat()},
            dedup=f"reminder:{key}",
            idea_id=idea.id,
        )
    return sent


# --------------------------------------------------------------------------- announcements


async def communicators_of(conn: AsyncConnection, tenant: str, administration_id: str) -> list[str]:
    """Communicators of an administration; the tenant's communicators if it has none."""
    found = await store.people_with_roles(
        conn, tenant, ["communicator"], administration_id=administration_id
    )
    return found or await store.people_with_roles(conn, tenant, ["communicator"])


async def draft_announcement(
    conn: AsyncConnection, ctx: Context, *, event: CloudEvent, idea: Any
) -> None:
    """Prepare the announcement of an idea going into implementation for the communicators."""
    if not idea.administration_id:
        return
    language = language_or_default(await store.tenant_language(conn, event.tenant))
    text = render("announcement", language, {"title": idea.title})
    announcement_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"announcement:{event.id}"))
    inserted = await conn.execute(
        ctx.db.insert_ignore(announcements, ["tenant", "idea_id"]).values(
            id=announcement_id,
            tenant=event.tenant,
            idea_id=idea.id,
            administration_id=idea.administration_id,
            status=AnnouncementStatus.DRAFT.value,
            headline=text.subject[:300],
            body=text.body,
            language=language,
            created_at=ctx.clock.now(),
            delivered=0,
        )
    )
    if inserted.rowcount == 0:
        return
    await notify(
        conn,
        ctx,
        tenant=event.tenant,
        person_ids=await communicators_of(conn, event.tenant, idea.administration_id),
        template="announcement_draft",
        params={"title": idea.title},
        dedup=f"{event.id}:announcement",
        idea_id=idea.id,
    )


async def approve_announcement(
    conn: AsyncConnection,
    ctx: Context,
    *,
    announcement: Any,
    actor_id: str,
    headline: str | None,
    body: str | None,
) -> dict[str, Any]:
    """Approve a draft: count the recipients, emit ``idea.announced``, and start the fan-out."""
    check_approvable(announcement.status)
    now = ctx.clock.now()
    count = await conn.execute(
        select(func.count())
        .select_from(
            people.join(
                org_units,
                (org_units.c.tenant == people.c.tenant) & (org_units.c.id == people.c.org_unit_id),
            )
        )
        .where(
            people.c.tenant == announcement.tenant,
            org_units.c.administration_id == announcement.administration_id,
            people.c.active.is_(True),
        )
    )
    recipients = int(count.scalar_one())
    headline = headline or announcement.headline
    body = body or announcement.body
    event = new_event(
        IdeaAnnounced(
            idea_id=announcement.idea_id,
            actor_id=actor_id,
            administration_id=announcement.administration_id,
            headline=headline,
            body=body,
            announced_at=now,
            announcement_id=announcement.id,
            recipient_count=recipients,
        ),
        tenant=announcement.tenant,
        subject=announcement.idea_id,
        source=SOURCE,
        time=now,
    )
    # The status guard in the WHERE makes two concurrent approvals announce only once.
    result = await conn.execute(
        update(announcements)
        .where(announcements.c.id == announcement.id, announcements.c.status == "draft")
        .values(
            status=AnnouncementStatus.SENDING.value,
            headline=headline,
            body=body,
            approved_by=actor_id,
            approved_at=now,
            event_id=event.id,
            recipients=recipients,
        )
    )
    if result.rowcount != 1:
        check_approvable("approved")
    await enqueue(conn, [event])
    return {
        "id": announcement.id,
        "status": "sending",
        "recipients": recipients,
        "event_id": event.id,
    }


async def fan_out_chunk(conn: AsyncConnection, ctx: Context, *, announcement: Any) -> int:
    """Write the next chunk of an approved announcement's messages; 0 when all are done.

    One bulk INSERT per chunk (executemany), and the cursor advances in the same transaction,
    so a restart continues where it stopped and no one gets the announcement twice.
    """
    rows = await store.administration_recipients(
        conn,
        announcement.tenant,
        announcement.administration_id,
        announcement.cursor,
        ctx.settings.announcement_chunk_size,
    )
    now = ctx.clock.now()
    if not rows:
        await conn.execute(
            update(announcements)
            .where(announcements.c.id == announcement.id)
            .values(status=AnnouncementStatus.SENT.value, completed_at=now)
        )
        return 0
    rendered = Rendered(announcement.headline, announcement.body, announcement.language)
    inbox_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    dedup = f"announcement:{announcement.id}"
    for r in rows:
        message, outgoing = plan_delivery(
            ctx,
            tenant=announcement.tenant,
            recipient=r,
            rendered=rendered,
            kind="announcement",
            dedup=dedup,
            idea_id=announcement.idea_id,
            now=now,
        )
        if message is not None:
            inbox_rows.append(message)
        delivery_rows.extend(outgoing)
    if inbox_rows:
        await conn.execute(insert(messages), inbox_rows)
    if delivery_rows:
        await conn.execute(insert(deliveries), delivery_rows)
    await conn.execute(
        update(announcements)
        .where(announcements.c.id == announcement.id)
        .values(cursor=rows[-1].id, delivered=announcements.c.delivered + len(rows))
    )
    return len(rows)


# --------------------------------------------------------------------------- webhooks


async def queue_webhooks(conn: AsyncConnection, ctx: Context, *, event: CloudEvent) -> None:
    """Queue a delivery of the event to every enabled endpoint of its tenant that wants it."""
    await queue_webhooks_of(conn, ctx, events=[event])


async def queue_webhooks_of(
    conn: AsyncConnection, ctx: Context, *, events: Sequence[CloudEvent]
) -> None:
    """:func:`queue_webhooks` for each event, with one look at the endpoints per tenant."""
    endpoints: dict[str, list[Any]] = {}
    rows: list[dict[str, Any]] = []
    now = ctx.clock.now()
    for event in events:
        if event.tenant not in endpoints:
            endpoints[event.tenant] = list(
                await conn.execute(
                    select(webhooks.c.id, webhooks.c.event_types).where(
                        webhooks.c.tenant == event.tenant, webhooks.c.enabled.is_(True)
                    )
                )
            )
        key = f"{event.aggregate}.{event.event}"
        wanted = [r.id for r in endpoints[event.tenant] if wh.matches(r.event_types, key)]
        if not wanted:
            continue
        payload = event.to_json()
        rows.extend(
            {
                "id": new_id(),
                "tenant": event.tenant,
                "webhook_id": w,
                "event_id": event.id,
                "event_type": event.type,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for w in wanted
        )
    await insert_rows(
        conn,
        insert_ignore_statement(conn.dialect.name, webhook_deliveries, ("webhook_id", "event_id")),
        rows,
    )


async def create_webhook(
    conn: AsyncConnection,
    ctx: Context,
    *,
    tenant: str,
    actor_id: str,
    url: str,
    event_types: list[str],
) -> dict[str, Any]:
    """Register an endpoint; the answer is the only time the secret is shown."""
    url = wh.validate_url(url)
    patterns = wh.validate_filters(event_types)
    row = {
        "id": new_id(),
        "tenant": tenant,
        "url": url,
        "event_types": patterns,
        "secret": wh.new_secret(),
        "enabled": True,
        "consecutive_failures": 0,
        "created_by": actor_id,
        "created_at": ctx.clock.now(),
    }
    await conn.execute(insert(webhooks).values(**row))
    return {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in row.items()
        if k != "tenant"
    }


async def rotate_secret(conn: AsyncConnection, ctx: Context, *, hook: Any) -> dict[str, Any]:
    """A new secret; the old one keeps signing (beside it) for the grace period."""
    now = ctx.clock.now()
    secret = wh.new_secret()
    expires = now + timedelta(seconds=ctx.settings.webhook_secret_grace_seconds)
    await conn.execute(
        update(webhooks)
        .where(webhooks.c.id == hook.id)
        .values(secret=secret, previous_secret=hook.secret, previous_secret_expires_at=expires)
    )
    return {"id": hook.id, "secret": secret, "previous_secret_expires_at": expires.isoformat()}


def signing_secrets(hook: Any, now: datetime) -> list[str]:
    """The current secret, plus the previous one while its grace period lasts."""
    out = [hook.secret]
    if hook.previous_secret and hook.previous_secret_expires_at:
        expires = hook.previous_secret_expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=now.tzinfo)
        if expires > now:
            out.append(hook.previous_secret)
    return out


async def record_attempt(
    conn: AsyncConnection,
    ctx: Context,
    *,
    delivery: Any,
    hook: Any,
    at: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
) -> None:
    """Log one attempt; schedule the retry, or give up and maybe disable the endpoint."""
    s = ctx.settings
    attempt = delivery.attempts + 1
    await conn.execute(
        insert(store.webhook_attempts).values(
            delivery_id=delivery.id,
            attempt=attempt,
            at=at,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
        )
    )
    if wh.succeeded(status_code):
        await conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery.id)
            .values(
                status="succeeded",
                attempts=attempt,
                last_status_code=status_code,
                last_error=None,
                finished_at=at,
                next_attempt_at=None,
            )
        )
        await conn.execute(
            update(webhooks).where(webhooks.c.id == hook.id).values(consecutive_failures=0)
        )
        return
    if attempt < s.webhook_max_attempts:
        await conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery.id)
            .values(
                attempts=attempt,
                last_status_code=status_code,
                last_error=error,
                next_attempt_at=at
                + timedelta(seconds=wh.backoff_seconds(s.webhook_backoff_base_seconds, attempt)),
            )
        )
        return
    await conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery.id)
        .values(
            status="failed",
            attempts=attempt,
            last_status_code=status_code,
            last_error=error,
            finished_at=at,
            next_attempt_at=None,
        )
    )
    # Incremented in SQL: several deliveries of one endpoint may fail in the same round.
    await conn.execute(
        update(webhooks)
        .where(webhooks.c.id == hook.id)
        .values(consecutive_failures=webhooks.c.consecutive_failures + 1)
    )
    state = (
        await conn.execute(
            select(webhooks.c.consecutive_failures, webhooks.c.enabled).where(
                webhooks.c.id == hook.id
            )
        )
    ).one()
    failures = int(state.consecutive_failures)
    if state.enabled and failures >= s.webhook_disable_after:
        await conn.execute(
            update(webhooks).where(webhooks.c.id == hook.id).values(enabled=False, disabled_at=at)
        )
        await notify(
            conn,
            ctx,
            tenant=hook.tenant,
            person_ids=await store.people_with_roles(conn, hook.tenant, ["tenant_admin"]),
            template="webhook_disabled",
            params={"url": hook.url, "failures": failures},
            dedup=f"webhook-disabled:{hook.id}:{at.isoformat()}",
        )


# --------------------------------------------------------------------------- preferences


async def set_preferences(
    conn: AsyncConnection,
    ctx: Context,
    *,
    tenant: str,
    person_id: str,
    inbox: str | None,
    email: str | None,
) -> dict[str, str]:
    """Change a person's modes per channel; unspecified channels keep theirs."""
    current = await get_preferences(conn, tenant=tenant, person_id=person_id)
    row = {
        "tenant": tenant,
        "person_id": person_id,
        "inbox": inbox or current["inbox"],
        "email": email or current["email"],
    }
    await _upsert(conn, ctx, preferences, ["tenant", "person_id"], row)
    return {"inbox": row["inbox"], "email": row["email"]}


async def get_preferences(conn: AsyncConnection, *, tenant: str, person_id: str) -> dict[str, str]:
    """A person's modes per channel (immediate by default)."""
    row = (
        await conn.execute(
            select(preferences.c.inbox, preferences.c.email).where(
                preferences.c.tenant == tenant, preferences.c.person_id == person_id
            )
        )
    ).first()
    if row is None:
        return {"inbox": Mode.IMMEDIATE.value, "email": Mode.IMMEDIATE.value}
    return {"inbox": row.inbox, "email": row.email}
