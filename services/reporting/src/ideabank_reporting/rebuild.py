"""Rebuilds the read model from the IDEAS stream into a fresh database (``ideabank replay``).

An ephemeral, ack-less pull consumer reads the stream from sequence 1 in stream order, and
every fetched batch is applied by the same code as the live consumer, in one transaction,
with the inbox rows the live consumer would have written, so the rebuilt database can take
over from the live one. The KPI cells are computed once at the end from the facts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ideabank_contracts import STREAM_NAME, CloudEvent
from ideabank_infra.db import Database
from ideabank_infra.messaging import connect
from ideabank_infra.tables import inbox
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from ideabank_reporting.consumers import CONSUMER
from ideabank_reporting.handlers import apply_events
from ideabank_reporting.store import insert_new, metadata, recompute_cells

#: Called after each batch with (events applied so far, events expected in total).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReplayResult:
    """What a replay did."""

    events: int
    seconds: float

    @property
    def rate(self) -> float:
        """Events applied per second."""
        return self.events / self.seconds if self.seconds else 0.0


async def replay(
    *,
    database_url: str,
    nats_url: str,
    tenants: Sequence[str] = (),
    batch_size: int = 2000,
    progress: Progress | None = None,
    consumer_name: str = CONSUMER,
) -> ReplayResult:
    """Apply every event of the stream (of ``tenants``, or all) to the database at ``database_url``."""
    db = Database(database_url)
    await db.create_all(metadata)
    nc = await connect(nats_url, "ideabank-replay")
    js = nc.jetstream()
    subjects = [f"ideas.v1.{t}.>" for t in tenants] or ["ideas.v1.>"]
    started = time.perf_counter()
    applied = 0
    try:
        psub = await js.pull_subscribe(
            subjects[0],
            stream=STREAM_NAME,
            config=ConsumerConfig(
                filter_subjects=subjects,
                ack_policy=AckPolicy.NONE,
                deliver_policy=DeliverPolicy.ALL,
                max_ack_pending=-1,
                inactive_threshold=60.0,
            ),
        )
        info = await psub.consumer_info()
        total = int(info.num_pending or 0)
        if progress:
            progress(0, total)
        remaining = total
        while remaining > 0:
            try:
                msgs = await psub.fetch(min(batch_size, remaining), timeout=5)
            except (TimeoutError, NatsTimeout):
                break
            events = [CloudEvent.from_json(m.data) for m in msgs]
            now = datetime.now(UTC)
            async with db.transaction() as conn:
                await insert_new(
                    conn,
                    inbox,
                    [
                        {"consumer": consumer_name, "event_id": e.id, "handled_at": now}
                        for e in events
                    ],
                    ["consumer", "event_id"],
                )
                await apply_events(conn, events, update_cells=False)
            applied += len(msgs)
            remaining = int(msgs[-1].metadata.num_pending or 0)
            if progress:
                progress(applied, applied + remaining)
        async with db.transaction() as conn:
            await recompute_cells(conn)
        await psub.unsubscribe()
    finally:
        await nc.close()
        await db.dispose()
    return ReplayResult(events=applied, seconds=time.perf_counter() - started)
