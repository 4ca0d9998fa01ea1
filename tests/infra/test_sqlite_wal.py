"""SQLite's write-ahead log: commits never checkpoint on the event loop; a thread keeps the
WAL small; analytic reads run off the loop; start-up objects leave garbage collection."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from ideabank_contracts import new_event
from ideabank_contracts.events.idea import IdeaWithdrawn
from ideabank_infra.app import YOUNG_GENERATION_THRESHOLD, freeze_startup_heap
from ideabank_infra.db import Database
from ideabank_infra.messaging import connect, ensure_streams
from ideabank_infra.outbox import OutboxRelay, enqueue
from ideabank_infra.tables import outbox
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text

from tests.infra.harness import loop_ticks

ROW = "x" * 2000


def wal_size(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


async def test_commits_leave_checkpoints_to_the_checkpointer_and_the_wal_stays_small(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wal.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    assert db.checkpointer is not None
    db.checkpointer.threshold = 256 * 1024
    try:
        async with db.transaction() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, body TEXT)"))
            # The service's connections never checkpoint inside a commit.
            assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
        written = 0
        n = 0
        while written < 20 * db.checkpointer.threshold:  # ~5 MB through the WAL
            async with db.transaction() as conn:
                await conn.execute(
                    text("INSERT INTO t VALUES (:n, :body)"),
                    [{"n": n + i, "body": ROW} for i in range(50)],
                )
            n += 50
            written += 50 * len(ROW)
            await asyncio.sleep(0.002)  # the pace of a busy service, not a tight loop
        for _ in range(200):
            if db.checkpointer.checkpoints and wal_size(path) < 4 * db.checkpointer.threshold:
                break
            async with db.transaction() as conn:  # a commit asks for a look
                await conn.execute(text("INSERT INTO t VALUES (:n, 'late')"), {"n": n})
            n += 1
            await asyncio.sleep(0.02)
        assert db.checkpointer.checkpoints >= 1
        # Checkpointed and rewound: far below what went through it.
        assert wal_size(path) < 4 * db.checkpointer.threshold
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == n
    finally:
        await db.dispose()
    # Stopped with the database; the data is all in the file.
    assert db.checkpointer._executor is None
    with sqlite3.connect(path) as plain:
        assert plain.execute("SELECT count(*) FROM t").fetchone() == (n,)


async def test_back_to_back_commits_checkpoint_once_per_threshold(tmp_path: Path) -> None:
    """Under back-to-back commits the log is checkpointed, and started over, about once per
    threshold's worth: the file a rewound log leaves is cut below the threshold
    (journal_size_limit), so it is not mistaken for a full one after every commit."""
    path = tmp_path / "busy.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    assert db.checkpointer is not None
    db.checkpointer.threshold = 128 * 1024
    db.checkpointer.LOOK_EVERY_SECONDS = 0  # look after every commit
    waits = "ideabank_sqlite_checkpoint_seconds_count"
    waits_before = REGISTRY.get_sample_value(waits) or 0.0
    small = ("ideabank_sqlite_checkpoint_pages_bucket", {"le": "16.0"})
    small_before = REGISTRY.get_sample_value(*small) or 0.0
    try:
        async with db.transaction() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, body TEXT)"))
        for n in range(0, 3000, 10):  # ~6 MB through the WAL, 48 × the threshold
            async with db.transaction() as conn:
                await conn.execute(
                    text("INSERT INTO t VALUES (:n, :body)"),
                    [{"n": n + i, "body": ROW} for i in range(10)],
                )
        # About 7 MB went through the log, 48 times the threshold.
        assert db.checkpointer.checkpoints >= 5
        # Each started with a threshold's worth in the log (32 pages of 4 KB), not a commit
        # or two (5–15 pages): a file left at the threshold after the log started over had
        # one start as soon as the last ended. How many there are depends on how fast the
        # copying goes beside the writers, so that is not what is checked.
        assert (REGISTRY.get_sample_value(*small) or 0.0) - small_before == 0
        # Each made the writers wait for its last step (shown at /metrics); the last one
        # may still be waiting for its turn.
        assert (REGISTRY.get_sample_value(waits) or 0.0) - waits_before >= (
            db.checkpointer.checkpoints - 1
        )
        assert wal_size(path) < 16 * db.checkpointer.threshold
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 3000
    finally:
        await db.dispose()


async def test_closing_while_a_checkpoint_waits_for_the_writers_turn(tmp_path: Path) -> None:
    """Closing the database does not wait for a writer that holds the turn: the waiting
    checkpoint is dropped, and the thread and its connection are gone."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'closing.db'}")
    checkpointer = db.checkpointer
    assert checkpointer is not None
    checkpointer.threshold = 16 * 1024
    checkpointer.LOOK_EVERY_SECONDS = 0
    async with db.transaction() as conn:
        await conn.execute(text("CREATE TABLE t (body TEXT)"))
        await conn.execute(text("INSERT INTO t VALUES (:b)"), [{"b": ROW}] * 40)
    async with db.write_gate:  # a writer's turn that outlasts the close
        for _ in range(100):
            if checkpointer.checkpoints:  # the bulk is copied; the rest waits for the turn
                break
            await asyncio.sleep(0.01)
        waiting = checkpointer._task
        assert waiting is not None and not waiting.done()
        await asyncio.wait_for(db.dispose(), 5)
        assert waiting.done()
    assert checkpointer._executor is None and checkpointer._conn is None


async def test_a_wal_grown_far_past_the_threshold_is_emptied(tmp_path: Path) -> None:
    """Readers can keep a PASSIVE checkpoint from finishing; past 16 × the threshold a
    TRUNCATE checkpoint empties the WAL once they are gone."""
    path = tmp_path / "big.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    assert db.checkpointer is not None
    db.checkpointer.threshold = 16 * 1024
    try:
        # Written by a connection of our own: no commit of ``db`` asks for a checkpoint.
        with sqlite3.connect(path) as plain:
            plain.execute("PRAGMA journal_mode=WAL")
            plain.execute("PRAGMA wal_autocheckpoint=0")
            plain.execute("CREATE TABLE t (body TEXT)")
            plain.executemany("INSERT INTO t VALUES (?)", [(ROW,)] * 300)
        assert db.checkpointer._executor is None
        assert wal_size(path) > 16 * db.checkpointer.threshold
        checker = sqlite3.connect(path)
        try:
            db.checkpointer.check(checker)
        finally:
            checker.close()
        assert wal_size(path) == 0
        assert db.checkpointer.checkpoints == 1
    finally:
        await db.dispose()


async def test_the_relay_waits_for_a_write_lock_held_elsewhere(
    tmp_path: Path, nats_url: str
) -> None:
    """Another process writing (or a TRUNCATE checkpoint) holds the lock for longer than the
    inline connections' 20 ms busy timeout: marking the batch published waits for it,
    where it used to fail the relay's round and hold every event back a second."""
    path = tmp_path / "relay.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.create_all()
    nc = await connect(nats_url, "test")
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        now = datetime.now(UTC)
        events = [
            new_event(
                IdeaWithdrawn(
                    idea_id=f"i{n}", actor_id="p", previous_status="submitted", withdrawn_at=now
                ),
                tenant="tlock",
                subject=f"i{n}",
                source="/test",
            )
            for n in range(5)
        ]
        async with db.transaction() as conn:
            await enqueue(conn, events)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the write lock, elsewhere
        try:
            relay = asyncio.create_task(OutboxRelay(db, js).publish_pending())
            await asyncio.sleep(0.2)
            assert not relay.done()  # waiting for the lock, not failed
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert await asyncio.wait_for(relay, 5) == 5
        async with db.engine.connect() as conn:
            pending = select(func.count()).where(outbox.c.published_at.is_(None))
            assert (await conn.execute(pending)).scalar() == 0
    finally:
        await nc.close()
        await db.dispose()


async def test_analytic_reads_run_in_a_thread_and_see_committed_writes(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'reads.db'}")
    try:
        assert db.read_engine is not db.engine
        async with db.transaction() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1), (2)"))
        async with db.read_engine.connect() as conn:
            # A scan long enough to notice: the loop keeps ticking while SQLite works.
            slow = text(
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
                "WHERE i < 3000000) SELECT count(*) FROM c"
            )
            async with loop_ticks(0.005) as ticks:
                assert (await conn.execute(slow)).scalar() == 3_000_000
            assert (await conn.execute(text("SELECT sum(n) FROM t"))).scalar() == 3
        assert ticks.count >= 3
    finally:
        await db.dispose()


def test_the_startup_heap_is_frozen_once_per_process() -> None:
    freeze_startup_heap()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
    garbage = [[i] for i in range(1000)]
    freeze_startup_heap()  # a second service in the same process leaves it as it is
    assert gc.get_freeze_count() == frozen
    del garbage
