"""The relay is woken by the commits that wrote events, not by every commit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from ideabank_infra.outbox import enqueue
from ideabank_infra.tables import inbox
from ideabank_infra.testing import eventually

from tests.infra.harness import Harness, outbox_reads
from tests.infra.test_delivery import make_event


async def test_only_a_commit_that_wrote_events_wakes_the_relay(harness: Harness) -> None:
    db = harness.db
    commits: list[str] = []
    db.after_commit.append(lambda: commits.append("commit"))
    db.after_events.append(lambda rows: commits.append("events"))

    # A consumer's usual transaction: it writes rows, but no event.
    async with db.transaction() as conn:
        await conn.execute(
            inbox.insert().values(consumer="c", event_id="e1", handled_at=datetime.now(UTC))
        )
    assert commits == ["commit"]

    commits.clear()
    async with db.transaction() as conn:
        await enqueue(conn, [make_event(harness.tenant)])
    assert commits == ["commit", "events"]

    # A transaction that enqueued and then failed leaves no flag on the pooled connection
    # for the next one to wake the relay with.
    commits.clear()
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await enqueue(conn, [make_event(harness.tenant, 1)])
            raise RuntimeError("rolled back")
    async with db.transaction() as conn:
        await conn.execute(
            inbox.insert().values(consumer="c", event_id="e2", handled_at=datetime.now(UTC))
        )
    assert commits == ["commit"]


async def test_a_started_relay_publishes_an_event_at_its_commit(harness: Harness) -> None:
    """Woken by the commit, not by its poll: the event is on the stream well within it."""
    import asyncio

    relay = harness.relay()
    relay.poll_seconds = 30.0
    relay.start()
    try:
        await asyncio.sleep(0.05)  # the relay's first look finds nothing and waits
        async with harness.db.transaction() as conn:
            await enqueue(conn, [make_event(harness.tenant, 2)])
        await eventually(lambda: relay.published_total, timeout=5, interval=0.01)
        assert relay.published_total == 1
    finally:
        await relay.stop()


async def test_a_drain_stops_at_a_batch_that_was_not_full(harness: Harness) -> None:
    """Full batches are followed by another look; a partial one ends the drain without
    asking the outbox again (a commit after it wakes the relay for the rest)."""
    relay = harness.relay()
    relay.batch_size = 10
    async with harness.db.transaction() as conn:
        await enqueue(conn, [make_event(harness.tenant, n) for n in range(25)])
    with outbox_reads(harness) as looks:
        assert await relay.drain() == 25
    assert len(looks) == 3  # 10, 10, then 5: no fourth look


async def test_the_rows_are_handed_over_before_anything_else_runs(tmp_path: Path) -> None:
    """Between the commit and the hand-over no other task runs: a relay reading the outbox
    then already knows which rows are on their way (else it would publish them twice).

    On SQLite, where a commit itself lets no other task run; a PostgreSQL commit waits for
    the server, and the relay may read in that moment (then a row goes out twice, and the
    stream keeps one).
    """
    import asyncio

    from ideabank_infra.db import Database
    from sqlalchemy import event

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'handover.db'}")
    await db.create_all()
    ran: list[int] = []
    seen: list[tuple[bool, int]] = []
    db.after_events.append(lambda rows: seen.append((bool(ran), len(rows or ()))))

    def before_commit(conn) -> None:  # type: ignore[no-untyped-def]
        asyncio.get_running_loop().call_soon(ran.append, 1)

    event.listen(db.engine.sync_engine, "commit", before_commit)
    try:
        async with db.transaction() as conn:
            await enqueue(conn, [make_event("t", n) for n in range(3)])
    finally:
        event.remove(db.engine.sync_engine, "commit", before_commit)
        await db.dispose()
    assert seen == [(False, 3)]
    await asyncio.sleep(0)
    assert ran  # the loop did get its turn, after the hand-over
