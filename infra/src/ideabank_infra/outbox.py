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
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ideabank_contracts import CloudEvent
from nats.js import JetStreamContext
from opentelemetry import propagate
from sqlalchemy import BigInteger, String, any_, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from ideabank_infra import metrics
from ideabank_infra.clock import event_clock
from ideabank_infra.db import EVENTS_WRITTEN, Database, OutboxRows, insert_rows
from ideabank_infra.publish import Publisher
from ideabank_infra.tables import outbox

log = logging.getLogger(__name__)
PURGE_EVERY_SECONDS = 60.0


#: Rows handed over but not yet acknowledged, beyond which the relay leaves new ones to
#: the outbox (read again once those are settled).
MAX_IN_MEMORY = 20_000
#: Event ids marked by one UPDATE on SQLite (its limit on parameters is 32,766).
_MARK_CHUNK = 1000


@dataclass
class _Batch:
    """Claimed rows whose publishes are in flight, with the transaction that claimed them."""

    conn: AsyncConnection
    rows: Sequence[Any]
    futures: list[asyncio.Future[Any]]
    started: float
    last_seq: int  # the last row read, in flight or not
    full: bool  # the read found as many rows as it asked for


@dataclass
class _Sent:
    """Rows published from memory after their commit, waiting for their acknowledgements."""

    ids: list[str]
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
    now = datetime.now(UTC)
    shifted = event_clock()
    if shifted is not None:
        # Demo history: stamp events made "now" with the shifted time.
        at = shifted.now()
        events = [
            ev.model_copy(update={"time": at}) if abs((ev.time - now).total_seconds()) < 60 else ev
            for ev in events
        ]
    rows = [
        {
            "event_id": ev.id,
            "subject": ev.nats_subject,
            "payload": ev.to_json(),
            "headers": event_headers(ev),
            "created_at": now,
            "published_at": None,
        }
        for ev in events
    ]
    await insert_rows(conn, outbox, rows)
    # Inside Database.transaction the rows are handed to the relay once they commit (see
    # OutboxRelay.committed). A savepoint may roll back alone: its rows stay unlisted, and
    # the relay reads the outbox instead.
    written = conn.info.get(EVENTS_WRITTEN, ())
    if isinstance(written, list):
        if conn.in_nested_transaction():
            conn.info[EVENTS_WRITTEN] = None
        else:
            written.extend(rows)


class OutboxRelay:
    """Publishes committed outbox rows to JetStream, oldest first, many in flight at once.

    Rows committed through :meth:`Database.transaction` are handed over as they commit
    (:meth:`committed`) and published from memory at once, without reading them back; their
    acknowledgements are awaited, and the rows marked, in the background, several commits
    together. The outbox itself is read at start, at each poll, and after a publish from
    memory failed: whatever is still unpublished there goes out then.

    Safe in several replicas: on PostgreSQL each batch read from the outbox is claimed with
    ``FOR UPDATE SKIP LOCKED``, so two relays never publish the same claimed rows
    concurrently. A row is published again only if it was read before it was marked (another
    replica's poll while this one publishes it from memory, or a relay that died after
    publishing but before marking); the second publish carries the same ``Nats-Msg-Id`` and
    JetStream drops it as a duplicate.
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
        self._look = True  # the outbox itself is to be read at the relay's next turn
        self._last_look = 0.0
        self._fresh: OutboxRows = []  # committed rows handed over, not yet sent
        self._sent: deque[_Sent] = deque()  # sent from memory, not yet marked, oldest first
        self._in_flight: set[str] = set()  # the event ids of both, which a read skips
        self._marking: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.published_total = 0

    def wake(self) -> None:
        """Ask the relay to look at the outbox now rather than at its next poll."""
        self._look = True
        self._wake.set()

    def committed(self, rows: OutboxRows | None) -> None:
        """Take the outbox rows a transaction has just committed (None: read the outbox)."""
        if rows is None or len(self._in_flight) >= MAX_IN_MEMORY:
            # Too many unanswered already (NATS slow or away): the outbox keeps them.
            self.wake()
            return
        self._fresh.extend(rows)
        self._in_flight.update(row["event_id"] for row in rows)
        self._wake.set()

    def start(self) -> None:
        """Run the relay loop in the background and subscribe to commit notifications."""
        # Database.transaction calls this after every commit that wrote events, so a new
        # event is published at once instead of at the next poll.
        self.db.after_events.append(self.committed)
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Stop the loop after its current batch, and wait for what is in flight."""
        self._stopping = True
        if self.committed in self.db.after_events:
            self.db.after_events.remove(self.committed)
        self._wake.set()
        await self._finish(self._task)
        await self._finish(self._marking)  # the loop's last turn may have started it
        await self.publisher.close()

    async def _finish(self, task: asyncio.Task[None] | None) -> None:
        if task is None:
            return
        try:
            await asyncio.wait_for(task, timeout=self.publish_timeout + 5)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                if self._fresh:
                    await self._send_fresh()
                now = time.monotonic()
                if self._look or now - self._last_look >= self.poll_seconds:
                    # Also under a steady stream of commits, which never lets the poll's
                    # timeout run out: rows written outside Database.transaction.
                    self._look, self._last_look = False, now
                    await self.drain()
            except Exception:
                log.exception("outbox relay failed; retrying")
                self._look = True
                await asyncio.sleep(1.0)
            if self._wake.is_set():
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                self._look = True

    async def _send_fresh(self) -> None:
        """Publish the rows handed over since the last turn; their marking goes on behind."""
        rows, self._fresh = self._fresh, []
        publish = self.publisher.publish
        started = time.perf_counter()
        futures: list[asyncio.Future[Any]] = []
        try:
            for row in rows:
                futures.append(await publish(row["subject"], row["payload"], row["headers"]))
        except BaseException:
            # The rest were not sent: the next read of the outbox takes them.
            self._in_flight.difference_update(row["event_id"] for row in rows[len(futures) :])
            self._look = True
            raise
        finally:
            if futures:
                ids = [row["event_id"] for row in rows[: len(futures)]]
                self._sent.append(_Sent(ids, futures, started))
                if self._marking is None or self._marking.done():
                    self._marking = asyncio.create_task(self._mark_sent(), name="outbox-marking")

    async def _mark_sent(self) -> None:
        """Mark what was sent from memory as it is acknowledged, oldest first.

        Every batch acknowledged by the time the oldest is goes in the same transaction. A
        row whose publish failed stays unpublished, and the relay reads the outbox for it.
        """
        while self._sent:
            oldest = self._sent[0]
            left = self.publish_timeout - (time.perf_counter() - oldest.started)
            await asyncio.wait(oldest.futures, timeout=max(left, 0.0))
            ready = [self._sent.popleft()]
            while self._sent and all(f.done() for f in self._sent[0].futures):
                ready.append(self._sent.popleft())
            done: list[str] = []
            failed = 0
            for batch in ready:
                for event_id, future in zip(batch.ids, batch.futures, strict=True):
                    if future.done() and not future.cancelled() and future.exception() is None:
                        done.append(event_id)
                    else:
                        future.cancel()
                        failed += 1
            try:
                if done:
                    async with self.db.transaction() as conn:
                        await self._mark_events(conn, done)
            except Exception:
                # Published all the same; the next read of the outbox sends them again.
                log.exception("marking %d published outbox rows failed", len(done))
                done = []
                self.wake()
            finally:
                for batch in ready:
                    self._in_flight.difference_update(batch.ids)
            if failed:
                log.warning("%d publishes from the outbox failed; reading it again", failed)
                self.wake()
            metrics.RELAY_PUBLISHED.inc(len(done))
            for batch in ready:
                metrics.RELAY_BATCH_SECONDS.observe(time.perf_counter() - batch.started)
            self.published_total += len(done)

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished rows; return how many were published."""
        claimed = await self._claim_and_send(0)
        if claimed is None:
            return 0
        return await self._settle(claimed)

    async def drain(self) -> int:
        """Publish everything pending in the outbox, sending the next batch while the last
        is acknowledged.

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
                inflight, after = nxt, nxt.last_seq
                if not nxt.full:
                    # The outbox had no more: asking again would find nothing. Rows committed
                    # since then are handed over or wake the relay, which reads again.
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
                select(
                    outbox.c.seq,
                    outbox.c.event_id,
                    outbox.c.subject,
                    outbox.c.payload,
                    outbox.c.headers,
                )
                .where(outbox.c.published_at.is_(None), outbox.c.seq > after)
                .order_by(outbox.c.seq)
                .limit(self.batch_size)
            )
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            found = (await conn.execute(stmt)).all()
            if not found:
                await trans.rollback()
                await conn.close()
                return None
            # Rows sent from memory are being acknowledged: not again.
            in_flight = self._in_flight
            rows = [row for row in found if row.event_id not in in_flight] if in_flight else found
            publish = self.publisher.publish
            futures = [await publish(row.subject, row.payload, row.headers) for row in rows]
            return _Batch(
                conn,
                rows,
                futures,
                time.perf_counter(),
                last_seq=found[-1].seq,
                full=len(found) == self.batch_size,
            )
        except BaseException:
            await conn.close()
            raise

    async def _settle(self, batch: _Batch) -> int:
        if not batch.rows:  # every row it read was in flight from memory: nothing to mark
            await batch.conn.close()
            return 0
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

    async def _mark_events(self, conn: AsyncConnection, event_ids: list[str]) -> None:
        now = datetime.now(UTC)
        if self.db.is_sqlite:
            for start in range(0, len(event_ids), _MARK_CHUNK):
                chunk = event_ids[start : start + _MARK_CHUNK]
                await conn.execute(
                    update(outbox).where(outbox.c.event_id.in_(chunk)).values(published_at=now)
                )
        else:
            where = outbox.c.event_id == any_(bindparam("ids", type_=ARRAY(String)))
            await conn.execute(
                update(outbox).where(where).values(published_at=now), {"ids": event_ids}
            )
        await self._purge(conn, now)

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
        await self._purge(conn, now)

    async def _purge(self, conn: AsyncConnection, now: datetime) -> None:
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
