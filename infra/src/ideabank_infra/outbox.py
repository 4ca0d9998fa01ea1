"""Transactional outbox: events are rows written in the same transaction as the change.

A store calls :func:`enqueue` with the connection of its open transaction; the row commits
or rolls back with the state change. :class:`OutboxRelay` later publishes committed rows to
JetStream with the event id as ``Nats-Msg-Id``, so a re-publish after a crash is dropped by
the stream's duplicate window.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ideabank_contracts import CloudEvent
from nats.js import JetStreamContext
from opentelemetry import propagate
from sqlalchemy import BigInteger, any_, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from ideabank_infra import metrics
from ideabank_infra.clock import event_clock
from ideabank_infra.db import EVENTS_WRITTEN, Database, insert_rows
from ideabank_infra.publish import Publisher
from ideabank_infra.tables import outbox

log = logging.getLogger(__name__)
PURGE_EVERY_SECONDS = 60.0


@dataclass
class _Batch:
    """Claimed rows whose publishes are in flight, with the transaction that claimed them."""

    conn: AsyncConnection
    rows: Sequence[Any]
    futures: list[asyncio.Future[Any]]
    started: float


CE_HEADERS = ("id", "type", "source", "subject", "tenant")


def event_headers(event: CloudEvent) -> dict[str, str]:
    """NATS headers of an event: dedup id, CloudEvents attributes and the trace context."""
    # The body is a structured-mode CloudEvent; these few headers let subscribers route and
    # dedupe without parsing it. Each header costs publish time, so only these travel.
    # The event id travels once, as Nats-Msg-Id (the JetStream dedup key).
    headers = {
        "Nats-Msg-Id": event.id,
        "ce-type": event.type,
        "ce-tenant": event.tenant,
    }
    # The trace context of whoever caused the event (the HTTP request, or the consumer
    # that reacted to an earlier event) travels with it, so the trace spans the hop.
    propagate.inject(headers)
    return headers


async def enqueue(conn: AsyncConnection, events: Sequence[CloudEvent]) -> None:
    """Add events to the outbox inside the caller's open transaction."""
    if not events:
        return
    conn.info[EVENTS_WRITTEN] = True  # Database.transaction wakes the relay after its commit
    now = datetime.now(UTC)
    shifted = event_clock()
    if shifted is not None:
        # Demo history: stamp events made "now" with the shifted time.
        at = shifted.now()
        events = [
            ev.model_copy(update={"time": at}) if abs((ev.time - now).total_seconds()) < 60 else ev
            for ev in events
        ]
    await insert_rows(
        conn,
        outbox,
        [
            {
                "event_id": ev.id,
                "subject": ev.nats_subject,
                "payload": ev.to_json(),
                "headers": event_headers(ev),
                "created_at": now,
                "published_at": None,
            }
            for ev in events
        ],
    )


class OutboxRelay:
    """Publishes committed outbox rows to JetStream, oldest first, many in flight at once.

    Safe in several replicas: on PostgreSQL each batch is claimed with
    ``FOR UPDATE SKIP LOCKED``, so two relays never publish the same rows concurrently, and
    if one dies after publishing but before marking, the next publish carries the same
    ``Nats-Msg-Id`` and JetStream drops it as a duplicate.
    """

    def __init__(
        self,
        db: Database,
        js: JetStreamContext,
        *,
        batch_size: int = 500,
        poll_seconds: float = 0.25,
        publish_timeout: float = 10.0,
        keep_published_seconds: float = 3600.0,
    ) -> None:
        self.db = db
        # nats-py keeps a JetStream context's connection private (see ideabank_infra.pull).
        self.publisher = Publisher(js._nc)
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.publish_timeout = publish_timeout
        self.keep_published_seconds = keep_published_seconds
        self._last_purge = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.published_total = 0

    def wake(self) -> None:
        """Ask the relay to look at the outbox now rather than at its next poll."""
        self._wake.set()

    def start(self) -> None:
        """Run the relay loop in the background and subscribe to commit notifications."""
        # Database.transaction() calls this after every commit that wrote events, so a new
        # event is published at once instead of at the next poll.
        self.db.after_events.append(self.wake)
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Stop the loop after its current batch."""
        self._stopping = True
        if self.wake in self.db.after_events:
            self.db.after_events.remove(self.wake)
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        await self.publisher.close()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.drain()
            except Exception:
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1.0)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished rows; return how many were published."""
        batch = await self._claim_and_send(0)
        if batch is None:
            return 0
        return await self._settle(batch)

    async def drain(self) -> int:
        """Publish everything pending, sending the next batch while the last is acknowledged.

        Two batches in flight hide the round trip of the acknowledgements. Order on the
        stream follows the outbox, except after a failed publish, whose rows go out again
        after the batch that was already in flight.
        """
        total = 0
        inflight: _Batch | None = None
        settling: asyncio.Task[int] | None = None
        after = 0
        try:
            while not self._stopping:
                nxt = await self._claim_and_send(after)
                if inflight is not None:
                    # Marking a batch (an UPDATE and a commit) overlaps the next claim.
                    if settling is not None:
                        total += await settling
                    settling = asyncio.create_task(self._settle(inflight))
                    inflight = None
                if nxt is None:
                    break
                inflight, after = nxt, nxt.rows[-1].seq
                if len(nxt.rows) < self.batch_size:
                    # The outbox had no more: asking again would find nothing. Rows committed
                    # since then wake the relay (``wake``), which drains again at once.
                    break
        finally:
            if settling is not None:
                total += await settling
            if inflight is not None:
                total += await self._settle(inflight)
        return total

    async def _claim_and_send(self, after: int) -> _Batch | None:
        conn = await self.db.engine.connect()
        try:
            trans = await conn.begin()
            stmt = (
                select(outbox.c.seq, outbox.c.subject, outbox.c.payload, outbox.c.headers)
                .where(outbox.c.published_at.is_(None), outbox.c.seq > after)
                .order_by(outbox.c.seq)
                .limit(self.batch_size)
            )
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            rows = (await conn.execute(stmt)).all()
            if not rows:
                await trans.rollback()
                await conn.close()
                return None
            publish = self.publisher.publish
            futures = [await publish(row.subject, row.payload, row.headers) for row in rows]
            return _Batch(conn, rows, futures, time.perf_counter())
        except BaseException:
            await conn.close()
            raise

    async def _settle(self, batch: _Batch) -> int:
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*batch.futures, return_exceptions=True),
                timeout=self.publish_timeout,
            )
            done: list[int] = []
            for row, result in zip(batch.rows, results, strict=True):
                if isinstance(result, BaseException):
                    log.warning("publish of outbox row %s failed: %r", row.seq, result)
                    break
                done.append(row.seq)
            async with self.db.write_turn():
                # As in Database.transaction: should the lock be taken elsewhere, wait for
                # it here instead of failing the UPDATE after the short busy timeout.
                await self.db.begin_write(batch.conn)
                if done:
                    await self._mark_published(batch.conn, done)
                await batch.conn.commit()
        finally:
            await batch.conn.close()
        for callback in self.db.after_commit:
            callback()
        metrics.RELAY_PUBLISHED.inc(len(done))
        metrics.RELAY_BATCH_SECONDS.observe(time.perf_counter() - batch.started)
        self.published_total += len(done)
        return len(done)

    async def _mark_published(self, conn: AsyncConnection, seqs: list[int]) -> None:
        now = datetime.now(UTC)
        if self.db.is_sqlite:
            await conn.execute(
                update(outbox).where(outbox.c.seq.in_(seqs)).values(published_at=now)
            )
        else:
            # One array parameter instead of a thousand: the statement is prepared once.
            where = outbox.c.seq == any_(bindparam("seqs", type_=ARRAY(BigInteger)))
            await conn.execute(update(outbox).where(where).values(published_at=now), {"seqs": seqs})
        # Published rows are kept for a while (to inspect what left, and when), then purged
        # so the table stays small; pending rows are found through a partial index anyway.
        if time.monotonic() - self._last_purge > PURGE_EVERY_SECONDS:
            self._last_purge = time.monotonic()
            await conn.execute(
                delete(outbox).where(
                    outbox.c.published_at.is_not(None),
                    outbox.c.published_at < now - timedelta(seconds=self.keep_published_seconds),
                )
            )
