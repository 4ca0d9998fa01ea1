"""A minimal service built from the infrastructure parts, against real NATS and databases."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from ideabank_contracts import CloudEvent
from ideabank_infra.consumer import BatchHandler, EventConsumers, Subscription
from ideabank_infra.db import Database
from ideabank_infra.outbox import OutboxRelay, enqueue
from ideabank_infra.tables import outbox
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy import Column, Integer, MetaData, String, Table, event, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

metadata = MetaData()


class LoopTicks:
    """How often a task on the event loop got to run: proof the loop was not blocked."""

    def __init__(self) -> None:
        self.count = 0


@contextlib.asynccontextmanager
async def loop_ticks(every: float = 0.01) -> AsyncIterator[LoopTicks]:
    """Count, while inside, the ``every``-second sleeps a background task finishes."""
    ticks = LoopTicks()

    async def tick() -> None:
        while True:
            await asyncio.sleep(every)
            ticks.count += 1

    ticker = asyncio.create_task(tick())
    try:
        yield ticks
    finally:
        ticker.cancel()


@contextlib.contextmanager
def outbox_reads(harness: Harness) -> Iterator[list[str]]:
    """The SELECTs on the outbox run while inside."""
    reads: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and outbox.name in statement:
            reads.append(statement)

    engine = harness.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield reads
    finally:
        event.remove(engine, "before_cursor_execute", count)


applied = Table(
    "applied",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
)


@dataclass
class Harness:
    db: Database
    nc: NATS
    js: JetStreamContext
    nats_url: str
    tenant: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    brokers: list[EventConsumers] = field(default_factory=list)
    fail_times: dict[str, int] = field(default_factory=dict)

    def relay(self) -> OutboxRelay:
        return OutboxRelay(self.db, self.js, batch_size=500)

    async def publish(self, *events: CloudEvent) -> None:
        """Write events to the outbox in one transaction, then publish them."""
        async with self.db.transaction() as conn:
            await enqueue(conn, list(events))
        await self.relay().publish_pending()

    async def record(self, conn: AsyncConnection, event: CloudEvent) -> None:
        remaining = self.fail_times.get(event.id, 0)
        if remaining:
            self.fail_times[event.id] = remaining - 1
            raise RuntimeError(f"handler refused {event.id}")
        await conn.execute(applied.insert().values(event_id=event.id))

    async def start_consumer(
        self,
        name: str,
        max_deliveries: int = 3,
        *,
        batch_handler: BatchHandler | None = None,
        **options: Any,
    ) -> EventConsumers:
        """A started consumer of this tenant's events: each recorded by :meth:`record`, or
        all given to ``batch_handler``; ``options`` go to :class:`EventConsumers`."""
        consumers = EventConsumers(
            self.db,
            self.js,
            max_deliveries=max_deliveries,
            **{"redelivery_delay": 0.05, **options},
        )
        consumers.add(
            Subscription(
                name=name,
                subjects=[f"ideas.v1.{self.tenant}.>"],
                handlers={} if batch_handler else {"*": self.record},
                batch_handler=batch_handler,
            )
        )
        await consumers.start()
        self.brokers.append(consumers)
        return consumers

    async def applied_count(self, event_id: str | None = None) -> int:
        async with self.db.engine.connect() as conn:
            stmt = select(func.count()).select_from(applied)
            if event_id:
                stmt = stmt.where(applied.c.event_id == event_id)
            return int((await conn.execute(stmt)).scalar_one())

    async def stream_count(self) -> int:
        info = await self.js.stream_info("IDEAS", subjects_filter=f"ideas.v1.{self.tenant}.>")
        return sum((info.state.subjects or {}).values())
