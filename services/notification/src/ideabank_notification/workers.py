"""Background tasks: email sending, digests and reminders, announcement fan-out and webhook
delivery. Each reads with a plain connection, writes in short transactions, and is woken
after every commit (so new work starts at once) or polls."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from ideabank_infra.app import Runtime
from prometheus_client import Counter
from sqlalchemy import select, update

from ideabank_notification import handlers as h
from ideabank_notification import mailer
from ideabank_notification.consumers import context
from ideabank_notification.domain import webhooks as wh
from ideabank_notification.domain.preferences import Channel, Mode
from ideabank_notification.domain.reminders import DECIDERS, overdue_since
from ideabank_notification.domain.templates import render_digest
from ideabank_notification.store import (
    announcements,
    deliveries,
    ideas,
    messages,
    people,
    webhook_deliveries,
    webhooks,
)

log = logging.getLogger(__name__)
BATCH = 100

EMAILS = Counter("ideabank_notification_emails_total", "Emails by outcome", ["outcome"])
WEBHOOK_ATTEMPTS = Counter(
    "ideabank_notification_webhook_attempts_total", "Webhook delivery attempts", ["outcome"]
)
ANNOUNCED = Counter(
    "ideabank_notification_announcement_messages_total", "Announcement messages written"
)


async def _loop(
    runtime: Runtime, step: Callable[[], Awaitable[bool]], poll: float, *, woken: bool = True
) -> None:
    """Run ``step`` whenever a commit may have brought work, or every ``poll`` seconds."""
    wake = asyncio.Event()
    if woken:
        runtime.db.after_commit.append(wake.set)
    while True:
        try:
            more = await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker step failed; retrying")
            more = False
            await asyncio.sleep(poll)
        # Cleared after the step: its own commits must not wake it again at once (that
        # would spin); work committed by others meanwhile is found by the next poll.
        wake.clear()
        if more:
            continue
        try:
            await asyncio.wait_for(wake.wait(), timeout=poll)
        except TimeoutError:
            pass


# --------------------------------------------------------------------------- email


async def send_emails(runtime: Runtime) -> None:
    """Send immediate emails after the transaction that queued them committed."""
    ctx = context(runtime)
    if not ctx.email_enabled:
        return

    async def step() -> bool:
        now = ctx.clock.now()
        async with ctx.db.engine.connect() as conn:
            due = (
                await conn.execute(
                    select(deliveries.c.id)
                    .where(
                        deliveries.c.channel == Channel.EMAIL.value,
                        deliveries.c.mode == Mode.IMMEDIATE.value,
                        deliveries.c.status == "pending",
                        deliveries.c.due_at <= now,
                    )
                    .order_by(deliveries.c.id)
                    .limit(BATCH)
                )
            ).all()
        if not due:
            return False
        # Claimed before sending, so a second replica never sends the same email.
        async with ctx.db.transaction() as conn:
            claimed = (
                await conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.id.in_([r.id for r in due]), deliveries.c.status == "pending"
                    )
                    .values(status="sending")
                    .returning(
                        deliveries.c.id,
                        deliveries.c.dedup_key,
                        deliveries.c.subject,
                        deliveries.c.body,
                        deliveries.c.attempts,
                        deliveries.c.tenant,
                        deliveries.c.person_id,
                    )
                )
            ).all()
            addresses = await _addresses(conn, claimed)
        emails = [
            mailer.Email(str(r.id), addresses[(r.tenant, r.person_id)], r.subject, r.body)
            for r in claimed
            if addresses.get((r.tenant, r.person_id))
        ]
        results = await mailer.send_batch(ctx.settings, emails)
        async with ctx.db.transaction() as conn:
            for r in claimed:
                error = results.get(str(r.id), "no email address")
                EMAILS.labels("sent" if error is None else "failed").inc()
                await _finish(conn, ctx, r.id, r.attempts, error)
        return len(due) == BATCH

    await _loop(runtime, step, ctx.settings.worker_poll_seconds)


async def _addresses(conn: Any, rows: Any) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for tenant in {r.tenant for r in rows}:
        ids = [r.person_id for r in rows if r.tenant == tenant]
        found = await conn.execute(
            select(people.c.id, people.c.email).where(
                people.c.tenant == tenant, people.c.id.in_(ids), people.c.active.is_(True)
            )
        )
        out.update({(tenant, p.id): p.email for p in found if p.email})
    return out


async def _finish(conn: Any, ctx: h.Context, ids: Any, attempts: int, error: str | None) -> None:
    now = ctx.clock.now()
    where = deliveries.c.id.in_(ids) if isinstance(ids, list) else deliveries.c.id == ids
    if error is None:
        await conn.execute(update(deliveries).where(where).values(status="sent", sent_at=now))
        return
    attempt = attempts + 1
    final = attempt >= ctx.settings.email_max_attempts or error == "no email address"
    await conn.execute(
        update(deliveries)
        .where(where)
        .values(
            status="failed" if final else "pending",
            attempts=attempt,
            last_error=error[:2000],
            due_at=now + timedelta(seconds=ctx.settings.email_retry_seconds * attempt),
        )
    )


# --------------------------------------------------------------------------- timers


async def run_timers(runtime: Runtime) -> None:
    """Digests that are due, and reminders for ideas that have waited too long."""
    ctx = context(runtime)

    async def step() -> bool:
        await send_digests(ctx)
        async with ctx.db.engine.connect() as conn:
            overdue = await _has_overdue(conn, ctx)
        if overdue:
            async with ctx.db.transaction() as conn:
                await h.send_due_reminders(conn, ctx)
        return False

    await _loop(runtime, step, ctx.settings.timer_poll_seconds, woken=False)


async def _has_overdue(conn: Any, ctx: h.Context) -> bool:
    # A cheap read first: the reminder transaction only runs when something may be due.
    now = ctx.clock.now()
    s = ctx.settings
    row = await conn.execute(
        select(ideas.c.id)
        .where(
            (ideas.c.status == "in_screening")
            & (ideas.c.status_since < overdue_since(now, s.screening_reminder_days))
            | ideas.c.status.in_(list(DECIDERS))
            & (ideas.c.status_since < overdue_since(now, s.decision_reminder_days))
        )
        .limit(1)
    )
    return row.first() is not None


async def send_digests(ctx: h.Context) -> int:
    """Gather each person's due digest items per channel into one message."""
    now = ctx.clock.now()
    async with ctx.db.engine.connect() as conn:
        groups = (
            await conn.execute(
                select(deliveries.c.tenant, deliveries.c.person_id, deliveries.c.channel)
                .where(
                    deliveries.c.status == "pending",
                    deliveries.c.mode.in_([Mode.DAILY.value, Mode.WEEKLY.value]),
                    deliveries.c.due_at <= now,
                )
                .distinct()
            )
        ).all()
    sent = 0
    for g in groups:
        async with ctx.db.transaction() as conn:
            items = (
                await conn.execute(
                    select(
                        deliveries.c.id,
                        deliveries.c.subject,
                        deliveries.c.body,
                        deliveries.c.attempts,
                    )
                    .where(
                        deliveries.c.tenant == g.tenant,
                        deliveries.c.person_id == g.person_id,
                        deliveries.c.channel == g.channel,
                        deliveries.c.status == "pending",
                        deliveries.c.mode.in_([Mode.DAILY.value, Mode.WEEKLY.value]),
                        deliveries.c.due_at <= now,
                    )
                    .order_by(deliveries.c.id)
                )
            ).all()
            person = (
                await conn.execute(
                    select(people.c.language, people.c.email).where(
                        people.c.tenant == g.tenant, people.c.id == g.person_id
                    )
                )
            ).first()
            if not items:
                continue
            ids = [i.id for i in items]
            digest = render_digest(
                person.language if person else None, [(i.subject, i.body) for i in items]
            )
            key = f"digest:{g.channel}:{ids[0]}-{ids[-1]}"
            if g.channel == Channel.INBOX.value:
                await conn.execute(
                    ctx.db.insert_ignore(messages, ["dedup_key", "person_id"]).values(
                        tenant=g.tenant,
                        person_id=g.person_id,
                        dedup_key=key,
                        kind="digest",
                        subject=digest.subject,
                        body=digest.body,
                        language=digest.language,
                        created_at=now,
                    )
                )
                await _finish(conn, ctx, ids, 0, None)
                sent += 1
                continue
            error: str | None = "no email address"
            if ctx.email_enabled and person is not None and person.email:
                results = await mailer.send_batch(
                    ctx.settings, [mailer.Email(key, person.email, digest.subject, digest.body)]
                )
                error = results[key]
            await _finish(conn, ctx, ids, items[0].attempts, error)
            sent += error is None
    return sent


# --------------------------------------------------------------------------- announcements


async def fan_out_announcements(runtime: Runtime) -> None:
    """Write the messages of approved announcements, chunk by chunk, off the request path."""
    ctx = context(runtime)

    async def step() -> bool:
        async with ctx.db.engine.connect() as conn:
            ids = (
                (
                    await conn.execute(
                        select(announcements.c.id)
                        .where(announcements.c.status == "sending")
                        .limit(20)
                    )
                )
                .scalars()
                .all()
            )
        for announcement_id in ids:
            while True:
                async with ctx.db.transaction() as conn:
                    stmt = select(announcements).where(
                        announcements.c.id == announcement_id, announcements.c.status == "sending"
                    )
                    if not ctx.db.is_sqlite:
                        # Another replica on the same announcement: leave it to that one.
                        stmt = stmt.with_for_update(skip_locked=True)
                    row = (await conn.execute(stmt)).first()
                    if row is None:
                        break
                    written = await h.fan_out_chunk(conn, ctx, announcement=row)
                ANNOUNCED.inc(written)
                if written == 0:
                    break
                await asyncio.sleep(0)  # let requests and consumers run between chunks
        return False

    await _loop(runtime, step, ctx.settings.worker_poll_seconds)


# --------------------------------------------------------------------------- webhooks


async def deliver_webhooks(runtime: Runtime) -> None:
    """POST queued events to their endpoints, signed; retry with backoff; log every attempt."""
    ctx = context(runtime)
    s = ctx.settings
    gate = asyncio.Semaphore(s.webhook_concurrency)
    async with httpx.AsyncClient(
        timeout=s.webhook_timeout_seconds,
        follow_redirects=False,
        headers={"user-agent": "Ideabank-Webhooks/1"},
    ) as client:

        async def attempt(delivery: Any, hook: Any) -> None:
            async with gate:
                now = ctx.clock.now()
                timestamp = int(now.timestamp())
                headers = {
                    "content-type": "application/cloudevents+json",
                    "webhook-id": delivery.event_id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": wh.signature_header(
                        h.signing_secrets(hook, now), delivery.event_id, timestamp, delivery.payload
                    ),
                }
                started = time.perf_counter()
                status: int | None = None
                error: str | None = None
                try:
                    resp = await client.post(hook.url, content=delivery.payload, headers=headers)
                    status = resp.status_code
                    if not wh.succeeded(status):
                        error = f"HTTP {status}: {resp.text[:500]}"
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"[:2000]
                took = int((time.perf_counter() - started) * 1000)
                WEBHOOK_ATTEMPTS.labels("failed" if error else "succeeded").inc()
                async with ctx.db.transaction() as conn:
                    await h.record_attempt(
                        conn,
                        ctx,
                        delivery=delivery,
                        hook=hook,
                        at=now,
                        status_code=status,
                        error=error,
                        duration_ms=took,
                    )

        async def step() -> bool:
            now = ctx.clock.now()
            async with ctx.db.engine.connect() as conn:
                due = (
                    await conn.execute(
                        select(webhook_deliveries)
                        .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
                        .where(
                            webhook_deliveries.c.status == "pending",
                            webhook_deliveries.c.next_attempt_at <= now,
                            webhooks.c.enabled.is_(True),
                        )
                        .order_by(webhook_deliveries.c.created_at)
                        .limit(BATCH)
                    )
                ).all()
                if not due:
                    return False
                hooks = {
                    r.id: r
                    for r in await conn.execute(
                        select(webhooks).where(webhooks.c.id.in_({d.webhook_id for d in due}))
                    )
                }
            await asyncio.gather(*(attempt(d, hooks[d.webhook_id]) for d in due))
            return len(due) == BATCH

        await _loop(runtime, step, s.worker_poll_seconds)


BACKGROUND = [send_emails, run_timers, fan_out_announcements, deliver_webhooks]
