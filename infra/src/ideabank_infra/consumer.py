"""Durable, idempotent event consumers with bounded redelivery and dead letters.

Ack policy, chosen on purpose: FastStream's NATS default on a handler error is ``term``, which
would drop the event. Here every subscription is ``AckPolicy.MANUAL`` and this module decides:

* handled (or already handled, per the inbox) → ``ack``;
* the handler raised, and the event has been delivered fewer than ``max_deliveries`` times →
  ``nak`` with a growing delay, so JetStream redelivers it;
* the handler raised on the last allowed delivery, or the message is not a valid event →
  the event, its error and its delivery count go to ``deadletter.<consumer>.<subject>`` and
  the original is acked. ``ideabank deadletters replay`` sends it back.

A batch is applied in one transaction (a commit per event costs ~1 ms); if anything in the
batch fails, the batch is rolled back and its events are applied one transaction each, so a
poison event cannot hold back the good ones.

The pull loop is our own (``pull.PullFeed``): one pull request kept open on the server, so
each message is pushed as soon as it is there and a batch is whatever has arrived. nats-py's
``fetch`` cost about three times the CPU a message, and FastStream's batch pull loop (0.7)
waited until a batch was full or its timeout passed, adding up to that timeout to every hop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ideabank_contracts import CloudEvent
from ideabank_contracts.subjects import STREAM_NAME, dead_letter_subject
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy as JsAckPolicy
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import BadRequestError
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncConnection

from ideabank_infra import metrics
from ideabank_infra.db import Database, insert_new_keys
from ideabank_infra.messaging import ack_all
from ideabank_infra.pull import ConsumerGone, PullFeed
from ideabank_infra.tables import inbox
from ideabank_infra.telemetry import extract_context, spans_recorded

log = logging.getLogger(__name__)
tracer = trace.get_tracer("ideabank.consumer")

Handler = Callable[[AsyncConnection, CloudEvent], Awaitable[None]]
BatchHandler = Callable[[AsyncConnection, list[CloudEvent]], Awaitable[None]]


@dataclass
class Subscription:
    """What one durable consumer listens to and how it handles each event type.

    ``handlers`` maps ``<aggregate>.<event>`` (e.g. ``idea.submitted``) to a handler; the key
    ``*`` handles every type. Types without a handler are acked and recorded as handled.
    A consumer that can work on many events at once (read models, fan-out) gives
    ``batch_handler`` instead: it receives every new event of a fetched batch, in stream
    order, inside one transaction.
    """

    name: str
    subjects: Sequence[str]
    handlers: dict[str, Handler]
    stream: str = STREAM_NAME
    deliver_all: bool = True
    after_batch: Callable[[], Awaitable[None]] | None = None
    batch_handler: BatchHandler | None = None

    def handler_for(self, event: CloudEvent) -> Handler | None:
        """The handler of this event's type, if any."""
        key = f"{event.aggregate}.{event.event}"
        return self.handlers.get(key) or self.handlers.get("*")


class DeadLetter(Exception):
    """Raised by a handler for an event that can never succeed: dead-letter it at once."""


class EventConsumers:
    """All durable subscriptions of one service, each with its own pull loop."""

    def __init__(
        self,
        db: Database,
        js: JetStreamContext,
        *,
        batch_size: int = 200,
        linger: float = 0.0,
        max_deliveries: int = 5,
        redelivery_delay: float = 2.0,
        ack_wait: float = 30.0,
        fetch_timeout: float = 5.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.db = db
        self.js = js
        self.batch_size = batch_size
        #: How long a busy consumer waits for a batch to fill (see :meth:`PullFeed.take`).
        self.linger = linger
        self.max_deliveries = max_deliveries
        self.redelivery_delay = redelivery_delay
        self.ack_wait = ack_wait
        self.fetch_timeout = fetch_timeout
        #: How long :meth:`stop` waits for the batches in hand before cancelling them.
        self.stop_timeout = stop_timeout
        self.subscriptions: list[Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._feeds: list[PullFeed] = []
        self._running = False

    def add(self, sub: Subscription) -> None:
        """Register a subscription (call before :meth:`start`)."""
        self.subscriptions.append(sub)

    def consumer_config(self, sub: Subscription) -> ConsumerConfig:
        """The durable consumer as declared on the server."""
        return ConsumerConfig(
            durable_name=sub.name,
            filter_subjects=list(sub.subjects),
            ack_policy=JsAckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL if sub.deliver_all else DeliverPolicy.NEW,
            # The server-side limit is a backstop one above ours: we dead-letter on the
            # last allowed delivery ourselves, so the error is kept with the event.
            max_deliver=self.max_deliveries + 1,
            ack_wait=self.ack_wait,
            max_ack_pending=max(1000, self.batch_size * 4),
        )

    async def start(self) -> None:
        """Declare every durable consumer and start its pull loop."""
        self._running = True
        for sub in self.subscriptions:
            config = self.consumer_config(sub)
            try:
                await self.js.add_consumer(sub.stream, config)
            except BadRequestError as exc:
                # It exists with settings the server will not change in place; keep its
                # position rather than recreate it (an operator can delete it to reset).
                log.warning("consumer %s kept with its existing settings: %s", sub.name, exc)
            feed = PullFeed(self.js, sub.stream, sub.name, batch=self.batch_size)
            await feed.start()
            self._feeds.append(feed)
            self._tasks.append(asyncio.create_task(self._loop(sub, feed), name=sub.name))

    async def stop(self) -> None:
        """Finish the batches in hand, then stop pulling."""
        self._running = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        # A batch being applied runs on (shielded) until acked; wait for it before the
        # caller closes the connection underneath it, but not for ever: a batch stuck (on a
        # lock, say) is cancelled, rolls back, and its events, never acked, come again.
        if self._inflight:
            _, stuck = await asyncio.wait(set(self._inflight), timeout=self.stop_timeout)
            if stuck:
                log.warning(
                    "%d batch(es) still being applied %.0f s after stopping began: cancelled;"
                    " their events will be delivered again",
                    len(stuck),
                    self.stop_timeout,
                )
                for batch in stuck:
                    batch.cancel()
                await asyncio.wait(stuck, timeout=self.stop_timeout)
        # Messages that arrived after the last batch are not taken; they are not acked, so the
        # server delivers them again to whoever pulls next.
        for feed in self._feeds:
            with contextlib.suppress(Exception):
                await feed.stop()
        self._feeds.clear()

    async def _loop(self, sub: Subscription, feed: PullFeed) -> None:
        batch_events = metrics.CONSUMER_BATCH_EVENTS.labels(sub.name)
        while self._running:
            try:
                msgs = await feed.take(self.batch_size, self.fetch_timeout, self.linger)
            except asyncio.CancelledError:
                raise
            except ConsumerGone:
                log.error("consumer %s vanished; declaring it again", sub.name)
                await asyncio.sleep(1.0)
                with contextlib.suppress(Exception):
                    await self.js.add_consumer(sub.stream, self.consumer_config(sub))
                continue
            except Exception as exc:
                log.warning("pull for %s failed: %r; retrying", sub.name, exc)
                await asyncio.sleep(0.5)
                continue
            if not msgs:
                continue
            batch_events.observe(len(msgs))
            # Shielded so that stopping never cuts a batch between commit and ack.
            batch = asyncio.ensure_future(self.process(sub, msgs))
            self._inflight.add(batch)
            batch.add_done_callback(self._inflight.discard)
            await asyncio.shield(batch)

    async def process(self, sub: Subscription, msgs: Sequence[Msg]) -> None:
        """Apply a batch of messages; ack, nak or dead-letter each one."""
        parsed: list[tuple[Msg, CloudEvent]] = []
        for msg in msgs:
            try:
                parsed.append((msg, CloudEvent.from_json(msg.data)))
            except Exception as exc:
                await self._dead_letter(sub, msg, f"not a valid CloudEvent: {exc}")
        if not parsed:
            return
        try:
            async with self.db.transaction() as conn:
                await self._apply_batch(sub, conn, parsed)
        except Exception:
            if len(parsed) == 1:
                await self._failed(sub, *parsed[0])
                return
            # Something in the batch failed and the whole batch rolled back: one by one now.
            for msg, event in parsed:
                try:
                    async with self.db.transaction() as conn:
                        await self._apply(sub, conn, msg, event)
                except Exception:
                    await self._failed(sub, msg, event)
                else:
                    await msg.ack()
        else:
            await ack_all([msg for msg, _ in parsed])
        if sub.after_batch is not None:
            await sub.after_batch()

    async def _apply_batch(
        self, sub: Subscription, conn: AsyncConnection, items: list[tuple[Msg, CloudEvent]]
    ) -> None:
        """The fast path: one inbox look-up and one inbox insert for the whole batch."""
        # One statement finds the new events and records them: the ids that come back were
        # inserted, the others were handled before (or appear twice in this batch).
        inserted = await _first_seen(conn, sub, [e.id for _, e in items])
        fresh: list[tuple[Msg, CloudEvent]] = []
        for msg, event in items:
            if event.id not in inserted:
                metrics.EVENTS_DUPLICATE.labels(sub.name).inc()
                continue
            inserted.discard(event.id)
            fresh.append((msg, event))
        if not fresh:
            return
        if sub.batch_handler is not None:
            with self._batch_spans(sub, fresh):
                await sub.batch_handler(conn, [e for _, e in fresh])
            counts = Counter(e.type for _, e in fresh)
            for event_type, n in counts.items():
                metrics.EVENTS_APPLIED.labels(sub.name, event_type).inc(n)
            return
        for msg, event in fresh:
            handler = sub.handler_for(event)
            if handler is None:
                continue
            with self._span(sub, msg, event):
                await handler(conn, event)
            metrics.EVENTS_APPLIED.labels(sub.name, event.type).inc()

    def _span(self, sub: Subscription, msg: Msg, event: CloudEvent) -> Any:
        return trace.use_span(_event_span(sub, msg, event), end_on_exit=True)

    @contextlib.contextmanager
    def _batch_spans(self, sub: Subscription, items: list[tuple[Msg, CloudEvent]]) -> Any:
        """A span for the batch and, when spans are recorded, one per event in its own trace.

        Each event's span (``consume <type>``, as on the one-by-one path) continues the
        trace the event was published in and lasts as long as the batch, to which it links:
        a trace still shows where its event was consumed. With tracing off, parsing every
        message's trace headers for spans nobody keeps was a tenth of a consumer's time.
        """
        if not spans_recorded():
            with tracer.start_as_current_span(f"consume batch {sub.name}"):
                yield
            return
        with tracer.start_as_current_span(
            f"consume batch {sub.name}",
            kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.batch.message_count": len(items)},
        ) as batch:
            batch_link = [trace.Link(batch.get_span_context())]
            spans = [_event_span(sub, msg, event, batch_link) for msg, event in items]
            for span in spans:
                if span.get_span_context().is_valid:
                    batch.add_link(span.get_span_context())
            try:
                yield
            except BaseException as exc:
                for span in spans:
                    span.record_exception(exc)
                    span.set_status(trace.StatusCode.ERROR)
                raise
            finally:
                for span in spans:
                    span.end()

    async def _apply(
        self, sub: Subscription, conn: AsyncConnection, msg: Msg, event: CloudEvent
    ) -> None:
        """The one-by-one path, used when a batch failed: one event, one transaction."""
        with self._span(sub, msg, event):
            if not await _first_seen(conn, sub, [event.id]):
                metrics.EVENTS_DUPLICATE.labels(sub.name).inc()
                return
            if sub.batch_handler is not None:
                await sub.batch_handler(conn, [event])
                metrics.EVENTS_APPLIED.labels(sub.name, event.type).inc()
                return
            handler = sub.handler_for(event)
            if handler is not None:
                await handler(conn, event)
                metrics.EVENTS_APPLIED.labels(sub.name, event.type).inc()

    async def _failed(self, sub: Subscription, msg: Msg, event: CloudEvent) -> None:
        metrics.EVENTS_FAILED.labels(sub.name).inc()
        error = _current_error()
        delivered = msg.metadata.num_delivered or 1
        permanent = isinstance(_current_exception(), DeadLetter)
        if permanent or delivered >= self.max_deliveries:
            log.error(
                "event %s failed %d time(s), dead-lettering: %s",
                event.id,
                delivered,
                error,
                extra={"event_id": event.id, "event_type": event.type, "consumer": sub.name},
            )
            await self._dead_letter(sub, msg, error)
            return
        log.warning(
            "event %s failed (delivery %d of %d), will be redelivered: %s",
            event.id,
            delivered,
            self.max_deliveries,
            error,
            extra={"event_id": event.id, "event_type": event.type, "consumer": sub.name},
        )
        await msg.nak(delay=self.redelivery_delay * delivered)

    async def _dead_letter(self, sub: Subscription, msg: Msg, error: str) -> None:
        original = dict(msg.headers or {})
        headers = {k: v for k, v in original.items() if k != "Nats-Msg-Id"}
        event_id = (
            original.get("Nats-Msg-Id")
            or original.get("ce-id")
            or f"seq-{msg.metadata.sequence.stream}"
        )
        headers["ce-id"] = event_id
        headers.update(
            {
                "Nats-Msg-Id": f"dead:{sub.name}:{event_id}",
                "Ideabank-Error": error[:2000],
                "Ideabank-Consumer": sub.name,
                "Ideabank-Deliveries": str(msg.metadata.num_delivered or 1),
                "Ideabank-Original-Subject": msg.subject,
                "Ideabank-Failed-At": datetime.now(UTC).isoformat(),
            }
        )
        await self.js.publish(dead_letter_subject(sub.name, msg.subject), msg.data, headers=headers)
        metrics.EVENTS_DEAD_LETTERED.labels(sub.name).inc()
        await msg.ack()


async def _first_seen(conn: AsyncConnection, sub: Subscription, ids: list[str]) -> set[str]:
    """Record ``ids`` in the inbox as handled by ``sub``: those not handled before."""
    return await insert_new_keys(
        conn, inbox, "event_id", ids, {"consumer": sub.name, "handled_at": datetime.now(UTC)}
    )


def _event_span(
    sub: Subscription, msg: Msg, event: CloudEvent, links: Sequence[trace.Link] = ()
) -> trace.Span:
    """The span of consuming one event, in the trace the event was published in."""
    return tracer.start_span(
        f"consume {event.type}",
        context=extract_context(msg.headers),
        kind=trace.SpanKind.CONSUMER,
        links=links,
        attributes={
            "messaging.system": "nats",
            "messaging.destination.name": msg.subject,
            "messaging.message.id": event.id,
            "messaging.consumer.group.name": sub.name,
            "ideabank.tenant": event.tenant,
        },
    )


def _current_exception() -> BaseException | None:
    import sys

    return sys.exc_info()[1]


def _current_error() -> str:
    exc = _current_exception()
    if exc is None:
        return "unknown error"
    return f"{type(exc).__name__}: {exc}"


async def apply_in_runs(
    conn: AsyncConnection,
    events: Sequence[CloudEvent],
    handlers: Mapping[str, Handler],
    runs: Mapping[str, BatchHandler],
) -> None:
    """A batch handler's events applied as their per-event ``handlers`` would (``*`` for
    the types without one), in stream order, except that consecutive events of a type in
    ``runs`` go to its run handler together: a busy platform is mostly submissions, and a
    few statements for a run of them cost far less than a few for each. Any other event
    first applies the run before it, so every aggregate still sees its events in order."""
    run: list[CloudEvent] = []
    run_type = ""
    for event in events:
        key = f"{event.aggregate}.{event.event}"
        if key in runs:
            if run and key != run_type:
                await runs[run_type](conn, run)
                run = []
            run.append(event)
            run_type = key
            continue
        handler = handlers.get(key) or handlers.get("*")
        if handler is None:
            continue
        if run:
            await runs[run_type](conn, run)
            run = []
        await handler(conn, event)
    if run:
        await runs[run_type](conn, run)


def subjects_for(tenant: str = "*", events: Iterable[str] = (">",)) -> list[str]:
    """Filter subjects for ``<aggregate>.<event>`` names (``>`` for all) of one or all tenants."""
    out: list[str] = []
    for ev in events:
        out.append(f"ideas.v1.{tenant}.>" if ev == ">" else f"ideas.v1.{tenant}.{ev}")
    return out


def as_handlers(**handlers: Handler) -> dict[str, Handler]:
    """Build a handler map from ``aggregate__event=fn`` keyword arguments."""
    return {k.replace("__", "."): v for k, v in handlers.items()}
