"""Delivery guarantees against a real NATS server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from ideabank_contracts import CloudEvent
from ideabank_infra.deadletter import list_dead_letters, replay_dead_letters
from ideabank_infra.outbox import OutboxRelay, enqueue
from ideabank_infra.tables import outbox
from ideabank_infra.testing import eventually
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from tests.infra.harness import Harness, applied


def make_event(tenant: str, n: int = 0) -> CloudEvent:
    from datetime import UTC, datetime

    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/tests",
        type="se.ideabank.idea.commented.v1",
        time=datetime.now(UTC),
        subject=f"idea-{n}",
        tenant=tenant,
        data={"idea_id": f"idea-{n}", "n": n},
    )


async def test_rolled_back_transaction_publishes_nothing(harness: Harness) -> None:
    with pytest.raises(RuntimeError):
        async with harness.db.transaction() as conn:
            await conn.execute(applied.insert().values(event_id="state-change"))
            await enqueue(conn, [make_event(harness.tenant)])
            raise RuntimeError("the state change failed")
    assert await harness.relay().publish_pending() == 0
    assert await harness.stream_count() == 0
    assert await harness.applied_count() == 0


async def test_committed_events_are_published_in_order_once(harness: Harness) -> None:
    events = [make_event(harness.tenant, i) for i in range(25)]
    async with harness.db.transaction() as conn:
        await enqueue(conn, events)
    relay = harness.relay()
    assert await relay.publish_pending() == 25
    assert await relay.publish_pending() == 0
    assert await harness.stream_count() == 25
    sub = await harness.js.pull_subscribe(f"ideas.v1.{harness.tenant}.>", stream="IDEAS")
    msgs = await sub.fetch(25, timeout=2)
    assert [CloudEvent.from_json(m.data).id for m in msgs] == [e.id for e in events]
    assert all(m.headers and m.headers["Nats-Msg-Id"] == e.id for m, e in zip(msgs, events))


class CrashingRelay(OutboxRelay):
    """Dies after JetStream acknowledged the batch, before the rows are marked."""

    async def _mark_published(self, conn, seqs):  # type: ignore[no-untyped-def]
        raise ConnectionError("relay process killed")


async def test_relay_crash_before_marking_republishes_and_stream_drops_duplicate(
    harness: Harness,
) -> None:
    events = [make_event(harness.tenant, i) for i in range(10)]
    async with harness.db.transaction() as conn:
        await enqueue(conn, events)
    with pytest.raises(ConnectionError):
        await CrashingRelay(harness.db, harness.js).publish_pending()
    assert await harness.stream_count() == 10
    # The rows are still unpublished, so the next relay sends them again …
    relay = harness.relay()
    assert await relay.publish_pending() == 10
    # … and JetStream's duplicate window drops every one of them.
    assert await harness.stream_count() == 10
    async with harness.db.engine.connect() as conn:
        pending = await conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
        assert pending.scalar_one() == 0


async def test_event_delivered_twice_is_applied_once(harness: Harness) -> None:
    await harness.start_consumer(f"c{uuid.uuid4().hex[:8]}")
    event = make_event(harness.tenant)
    # The same event reaches the stream twice (e.g. replayed under another message id).
    await harness.js.publish(
        event.nats_subject, event.to_json(), headers={"Nats-Msg-Id": f"{event.id}-a"}
    )
    await harness.js.publish(
        event.nats_subject, event.to_json(), headers={"Nats-Msg-Id": f"{event.id}-b"}
    )
    other = make_event(harness.tenant, 1)
    await harness.js.publish(other.nats_subject, other.to_json())
    await eventually(lambda: harness.applied_count(other.id))
    assert await harness.applied_count(event.id) == 1
    assert await harness.applied_count() == 2


async def test_batches_are_bounded_and_counted_at_metrics(harness: Harness) -> None:
    """Events waiting on the stream are taken up to ``batch_size`` at a time, and every
    batch's size shows at /metrics (``ideabank_consumer_batch_events``)."""
    events = [make_event(harness.tenant, i) for i in range(30)]
    for event in events:
        await harness.js.publish(
            event.nats_subject, event.to_json(), headers={"Nats-Msg-Id": event.id}
        )
    name = f"c{uuid.uuid4().hex[:8]}"
    await harness.start_consumer(name, batch_size=10)

    async def all_applied() -> bool:
        return await harness.applied_count() == 30

    await eventually(all_applied)

    def sample(suffix: str, **labels: str) -> float:
        value = REGISTRY.get_sample_value(
            f"ideabank_consumer_batch_events{suffix}", {"consumer": name, **labels}
        )
        return value or 0.0

    assert sample("_sum") == 30
    assert sample("_count") >= 3
    assert sample("_bucket", le="10.0") == sample("_count")  # none larger than batch_size


async def test_failing_handler_is_redelivered_then_dead_lettered_and_replayed(
    harness: Harness,
) -> None:
    name = f"c{uuid.uuid4().hex[:8]}"
    await harness.start_consumer(name, max_deliveries=3)
    flaky, poison, good = (make_event(harness.tenant, i) for i in range(3))
    harness.fail_times[flaky.id] = 2  # fails twice, succeeds on the third delivery
    harness.fail_times[poison.id] = 99  # fails every time
    await harness.publish(flaky, poison, good)

    await eventually(lambda: harness.applied_count(flaky.id))
    assert await harness.applied_count(good.id) == 1

    letters = await eventually(lambda: list_dead_letters(harness.js, name), timeout=15)
    assert [dl.event_id for dl in letters] == [poison.id]
    assert "handler refused" in letters[0].error
    assert letters[0].deliveries == 3
    assert letters[0].original_subject == poison.nats_subject
    assert CloudEvent.from_json(letters[0].data) == poison
    assert await harness.applied_count(poison.id) == 0

    harness.fail_times[poison.id] = 0  # the cause is fixed
    replayed = await replay_dead_letters(harness.js, name)
    assert [r.event_id for r in replayed] == [poison.id]
    await eventually(lambda: harness.applied_count(poison.id))
    assert await list_dead_letters(harness.js, name) == []
    assert await harness.applied_count() == 3


async def test_invalid_message_is_dead_lettered_at_once(harness: Harness) -> None:
    name = f"c{uuid.uuid4().hex[:8]}"
    await harness.start_consumer(name)
    await harness.js.publish(f"ideas.v1.{harness.tenant}.idea.submitted", b"{not json")
    letters = await eventually(lambda: list_dead_letters(harness.js, name), timeout=10)
    assert "not a valid CloudEvent" in letters[0].error
