"""Group commit: concurrent writes share transactions; each caller gets its own outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from ideabank_infra.db import GroupCommit
from prometheus_client import REGISTRY
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.infra.harness import Harness, applied, loop_ticks


class Refused(Exception):
    """The domain refuses one item."""


async def apply_names(conn: AsyncConnection, items: list[str]) -> Sequence[str | Exception]:
    """Write a row for every item except those starting with ``bad``, which are refused."""
    out: list[str | Exception] = []
    rows = []
    for item in items:
        if item.startswith("bad"):
            out.append(Refused(item))
        else:
            rows.append({"event_id": item})
            out.append(item.upper())
    if rows:
        await conn.execute(insert(applied), rows)
    return out


async def stored(harness: Harness) -> set[str]:
    async with harness.db.engine.connect() as conn:
        return set((await conn.execute(select(applied.c.event_id))).scalars())


async def test_concurrent_items_share_commits_and_each_gets_its_result(harness: Harness) -> None:
    def observed(name: str) -> float:
        return REGISTRY.get_sample_value(f"ideabank_group_commit_{name}") or 0.0

    groups_before, items_before = observed("items_count"), observed("items_sum")
    group = GroupCommit(harness.db, apply_names)
    names = [f"item-{i}" for i in range(300)]
    results = await asyncio.gather(*(group(n) for n in names))
    assert results == [n.upper() for n in names]
    assert await stored(harness) == set(names)
    # 300 callers at once: a handful of transactions, not 300.
    assert group.groups <= 5
    # What operators see at /metrics: how many groups, and how full.
    assert observed("items_count") - groups_before == group.groups
    assert observed("items_sum") - items_before == 300
    assert observed("seconds_count") >= group.groups


async def test_a_refused_item_fails_its_caller_only_and_writes_nothing(harness: Harness) -> None:
    group = GroupCommit(harness.db, apply_names)
    outcomes = await asyncio.gather(
        group("a"), group("bad-1"), group("b"), group("bad-2"), return_exceptions=True
    )
    assert outcomes[0] == "A" and outcomes[2] == "B"
    assert isinstance(outcomes[1], Refused) and isinstance(outcomes[3], Refused)
    assert await stored(harness) == {"a", "b"}


async def test_a_failing_group_is_applied_again_one_item_at_a_time(harness: Harness) -> None:
    async def fragile(conn: AsyncConnection, items: list[str]) -> Sequence[str | Exception]:
        written = await apply_names(conn, items)
        if "boom" in items:
            raise RuntimeError("the whole group fails, after writing")
        return written

    group = GroupCommit(harness.db, fragile)
    outcomes = await asyncio.gather(group("x"), group("boom"), group("y"), return_exceptions=True)
    assert outcomes[0] == "X" and outcomes[2] == "Y"
    assert isinstance(outcomes[1], RuntimeError)
    # Nothing of the failed group stayed; each good item was written once on its own.
    assert await stored(harness) == {"x", "y"}
    assert await harness.applied_count() == 2
    assert group.groups == 4


async def test_a_caller_that_goes_away_does_not_undo_the_others(harness: Harness) -> None:
    group = GroupCommit(harness.db, apply_names)
    gone = asyncio.create_task(group("gone"))
    kept = asyncio.create_task(group("kept"))
    await asyncio.sleep(0)
    gone.cancel()
    assert await kept == "KEPT"
    with pytest.raises(asyncio.CancelledError):
        await gone
    # The cancelled caller's item was already in the group: it is written all the same.
    assert await stored(harness) == {"gone", "kept"}


async def test_reads_and_writes_of_a_transaction_see_one_snapshot(harness: Harness) -> None:
    """On SQLite too the transaction begins at once (not at the first write)."""
    async with harness.db.transaction() as conn:
        before = (await conn.execute(select(func.count()).select_from(applied))).scalar_one()
        await conn.execute(insert(applied).values(event_id="one"))
        async with conn.begin_nested() as savepoint:
            await conn.execute(insert(applied).values(event_id="rolled-back"))
            await savepoint.rollback()
        if harness.db.is_sqlite:
            in_tx = (await conn.execute(text("SELECT 1"))).scalar_one()
            assert in_tx == 1
    assert before == 0
    # The savepoint rolled back its own row only; the outer transaction committed.
    assert await stored(harness) == {"one"}


async def test_a_writer_waits_for_another_process_without_blocking_the_loop(tmp_path) -> None:
    """Two Database objects on one SQLite file stand for two processes: while one holds the
    write lock across an await, the other's transaction waits for it without stopping the
    event loop (which the holder needs to finish), then writes."""
    import asyncio

    from ideabank_infra.db import Database
    from sqlalchemy import text

    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first, second = Database(url), Database(url)
    try:
        async with first.transaction() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        holding = asyncio.Event()

        async def hold() -> None:
            async with first.transaction() as conn:
                await conn.execute(text("INSERT INTO t VALUES (1)"))
                holding.set()
                await asyncio.sleep(0.3)  # the loop must keep running meanwhile

        async def write() -> float:
            await holding.wait()
            started = asyncio.get_running_loop().time()
            async with second.transaction() as conn:
                await conn.execute(text("INSERT INTO t VALUES (2)"))
            return asyncio.get_running_loop().time() - started

        async with loop_ticks() as ticks:
            _, waited = await asyncio.wait_for(asyncio.gather(hold(), write()), timeout=5)
        assert 0.2 < waited < 2
        assert ticks.count > 15  # the loop ran while the second writer waited
        async with second.engine.connect() as conn:
            assert sorted(r[0] for r in await conn.execute(text("SELECT n FROM t"))) == [1, 2]
    finally:
        await first.dispose()
        await second.dispose()
