"""Committed rows are published from memory, and the outbox stays the record of what is left."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ideabank_infra.outbox import MAX_IN_MEMORY, OutboxRelay, enqueue
from ideabank_infra.tables import outbox
from ideabank_infra.testing import eventually
from sqlalchemy import func, select

from tests.infra.harness import Harness, outbox_reads
from tests.infra.test_delivery import make_event


@contextlib.asynccontextmanager
async def sent_messages(harness: Harness) -> AsyncIterator[list[str]]:
    """The ``Nats-Msg-Id`` of every message published on the tenant's subjects, duplicates
    (which the stream drops) included."""
    ids: list[str] = []

    async def on(msg: Any) -> None:
        ids.append(msg.headers["Nats-Msg-Id"])

    sub = await harness.nc.subscribe(f"ideas.v1.{harness.tenant}.>", cb=on)
    await harness.nc.flush()
    try:
        yield ids
    finally:
        await sub.unsubscribe()


async def unpublished(harness: Harness) -> int:
    async with harness.db.engine.connect() as conn:
        query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        return int((await conn.execute(query)).scalar_one())


@contextlib.asynccontextmanager
async def started(relay: OutboxRelay) -> AsyncIterator[OutboxRelay]:
    relay.start()
    try:
        await eventually(lambda: not relay._look, timeout=5, interval=0.01)  # its first read
        yield relay
    finally:
        await relay.stop()


async def test_committed_events_go_out_without_reading_the_outbox(harness: Harness) -> None:
    relay = harness.relay()
    relay.poll_seconds = 30.0
    events = [make_event(harness.tenant, n) for n in range(40)]
    async with started(relay), sent_messages(harness) as sent:
        with outbox_reads(harness) as reads:
            for k in range(0, 40, 10):  # four commits
                async with harness.db.transaction() as conn:
                    await enqueue(conn, events[k : k + 10])
            await eventually(lambda: relay.published_total == 40, timeout=5, interval=0.01)
            await eventually(lambda: len(sent) == 40, timeout=5, interval=0.01)
        assert reads == []
    assert sorted(sent) == sorted(e.id for e in events)  # each once
    assert await harness.stream_count() == 40
    assert await unpublished(harness) == 0  # marked, by their event ids


async def test_a_failed_publish_from_memory_goes_out_from_the_outbox(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ideabank_infra.outbox")
    relay = harness.relay()
    relay.poll_seconds = 30.0
    publish = relay.publisher.publish
    refused: list[str] = []

    async def refuse_the_first(subject: str, payload: bytes, headers: dict[str, str]) -> Any:
        if not refused:
            refused.append(headers["Nats-Msg-Id"])
            future = asyncio.get_running_loop().create_future()
            future.set_exception(ConnectionError("no answer"))
            return future
        return await publish(subject, payload, headers)

    relay.publisher.publish = refuse_the_first  # type: ignore[method-assign]
    events = [make_event(harness.tenant, n) for n in range(3)]
    async with started(relay), sent_messages(harness) as sent:
        with outbox_reads(harness) as reads:
            async with harness.db.transaction() as conn:
                await enqueue(conn, events)
            await eventually(lambda: relay.published_total == 3, timeout=5, interval=0.01)
        assert reads, "the refused row was read back from the outbox"
        await eventually(lambda: len(sent) == 3, timeout=5, interval=0.01)
    assert refused == [events[0].id]
    # The refused row left once, read back from the outbox; the others once, from memory.
    assert sorted(sent) == sorted(e.id for e in events)
    assert sent[-1] == events[0].id
    assert await harness.stream_count() == 3
    assert await unpublished(harness) == 0
    assert "publishes from the outbox failed" in caplog.text


async def test_events_of_a_savepoint_are_read_from_the_outbox(harness: Harness) -> None:
    """A savepoint may roll back without the rest: its rows are not handed over."""
    relay = harness.relay()
    relay.poll_seconds = 30.0
    handed: list[Any] = []
    harness.db.after_events.append(handed.append)
    kept, dropped = make_event(harness.tenant, 1), make_event(harness.tenant, 2)
    async with started(relay), sent_messages(harness) as sent:
        with outbox_reads(harness) as reads:
            async with harness.db.transaction() as conn:
                async with conn.begin_nested():
                    await enqueue(conn, [kept])
                with pytest.raises(RuntimeError):
                    async with conn.begin_nested():
                        await enqueue(conn, [dropped])
                        raise RuntimeError("rolled back to the savepoint")
            await eventually(lambda: relay.published_total == 1, timeout=5, interval=0.01)
        assert reads
        await eventually(lambda: len(sent) == 1, timeout=5, interval=0.01)
    assert handed == [None]
    assert sent == [kept.id]


async def test_a_read_of_the_outbox_skips_rows_sent_from_memory(harness: Harness) -> None:
    relay = harness.relay()
    events = [make_event(harness.tenant, n) for n in range(3)]
    async with harness.db.transaction() as conn:  # no relay started: nothing handed over
        await enqueue(conn, events)
    relay._in_flight.add(events[1].id)  # as if sent from memory, not yet acknowledged
    async with sent_messages(harness) as sent:
        assert await relay.drain() == 2
        await eventually(lambda: len(sent) == 2, timeout=5, interval=0.01)
    assert sorted(sent) == sorted([events[0].id, events[2].id])
    assert await unpublished(harness) == 1


async def test_past_the_memory_bound_new_rows_are_left_to_the_outbox(harness: Harness) -> None:
    """With as many rows unacknowledged as the relay keeps in memory (NATS slow or away),
    a commit's rows are not held as well: the relay reads them from the outbox."""
    relay = harness.relay()
    relay.poll_seconds = 30.0
    events = [make_event(harness.tenant, n) for n in range(3)]
    async with started(relay), sent_messages(harness) as sent:
        # As if that many were sent from memory and never answered.
        relay._in_flight.update(f"unanswered-{n}" for n in range(MAX_IN_MEMORY))
        with outbox_reads(harness) as reads:
            async with harness.db.transaction() as conn:
                await enqueue(conn, events)
            assert relay._fresh == []  # not held in memory
            await eventually(lambda: relay.published_total == 3, timeout=5, interval=0.01)
        assert reads, "the rows were read from the outbox"
        await eventually(lambda: len(sent) == 3, timeout=5, interval=0.01)
    assert sorted(sent) == sorted(e.id for e in events)
    assert await unpublished(harness) == 0


async def test_stopping_leaves_nothing_unsent_or_sent_twice(harness: Harness) -> None:
    """Whatever a stopped relay did not mark, the next one publishes; nothing twice."""
    events = [make_event(harness.tenant, n) for n in range(300)]
    async with sent_messages(harness) as sent:
        relay = harness.relay()
        relay.start()
        for k in range(0, 300, 30):
            async with harness.db.transaction() as conn:
                await enqueue(conn, events[k : k + 30])
        await relay.stop()
        first = relay.published_total
        again = harness.relay()
        assert await again.drain() == 300 - first
        await eventually(lambda: len(sent) == 300, timeout=5, interval=0.01)
        await asyncio.sleep(0.05)
    assert sorted(sent) == sorted(e.id for e in events)
    assert await unpublished(harness) == 0
    assert await harness.stream_count() == 300
