"""KPI cells changed batch by batch equal the cells computed afresh from the facts."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from ideabank_contracts import CloudEvent
from ideabank_infra.db import Database
from ideabank_reporting import handlers, store
from ideabank_reporting.domain.projection import IdeaFact
from sqlalchemy import select

T0 = datetime(2025, 1, 1, tzinfo=UTC).replace(tzinfo=None)


def _random_fact(rng: random.Random, tenant: str, idea_id: str) -> IdeaFact:
    """A fact in one of a few cells, at a random point of its life (or not counted at all)."""
    submitted = T0 + timedelta(days=rng.randint(0, 80))
    later = submitted + timedelta(days=rng.randint(1, 30))
    status = rng.choice(["submitted", "rejected", "paused", "deferred", "implemented", "withdrawn"])
    return IdeaFact(
        tenant=tenant,
        idea_id=idea_id,
        org_unit_id=rng.choice(["u1", "u2", None]),
        administration_id=rng.choice(["a1", "a2", None]),
        category=rng.choice(["Miljö", "Service"]),
        channel=rng.choice(["staff_portal", "deviation"]),
        year=submitted.year if rng.random() < 0.95 else None,
        month=submitted.month,
        submitted_at=submitted,
        status=status,
        screened_at=later if rng.random() < 0.7 else None,
        feedback_at=later if rng.random() < 0.6 else None,
        feedback_days=rng.choice([None, 0.5, 2.0, 7.25, 31.0]),
        stage_submitted=rng.choice([None, 1.0, 3.5]),
        stage_approved_to_implemented=rng.choice([None, 12.0, 40.0, 90.5]),
        motivated=rng.random() < 0.5,
        implemented_at=later if status == "implemented" else None,
        evaluated_at=later if status == "implemented" and rng.random() < 0.5 else None,
        withdrawn_at=later if status == "withdrawn" else None,
        origin_tenant="other" if rng.random() < 0.1 else None,
        times_adopted=rng.choice([0, 0, 0, 1, 2]),
        benefit_money=rng.choice([None, 0, 150_000]),
        benefit_hours=rng.choice([None, 1_200]),
    )


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """The reporting tables in a new database."""
    database = Database(db_url)
    await database.create_all(store.metadata)
    yield database
    await database.dispose()


async def _cells(db: Database) -> list[tuple[object, ...]]:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(store.kpi_cells))).all()
    return sorted((tuple(r) for r in rows), key=repr)


async def test_cell_deltas_equal_a_full_recompute(db: Database) -> None:
    rng = random.Random(11)
    facts: dict[tuple[str, str], IdeaFact] = {}
    numbers = iter(range(1_000_000))
    for _ in range(12):
        # A batch: new ideas, and stored ones that move (org unit, month, outcome) or grow.
        changed: dict[tuple[str, str], IdeaFact] = {}
        before: dict[tuple[str, str], store.Share | None] = {}
        for _ in range(rng.randint(1, 25)):
            tenant = rng.choice(["t1", "t2"])
            if facts and rng.random() < 0.6:
                key = rng.choice(list(facts))
                old = facts[key]
            else:
                key = (tenant, f"i{next(numbers)}")
                old = None
            if key in changed:
                continue
            before[key] = None if old is None else store.cell_share(old)
            changed[key] = _random_fact(rng, *key)
        async with db.transaction() as conn:
            await store.save_facts(conn, changed.values())
            await store.add_to_cells(
                conn, [(before[k], store.cell_share(f)) for k, f in changed.items()]
            )
        facts.update(changed)

        live = await _cells(db)
        async with db.transaction() as conn:
            await store.recompute_cells(conn)
        assert await _cells(db) == live
    assert len(live) > 10
    # A fact that leaves its cell empty takes the cell away.
    first = next(f for f in facts.values() if f.year is not None)
    lone = dataclasses.replace(first, category="Ensam", org_unit_id="u9")
    async with db.transaction() as conn:
        await store.save_facts(conn, [lone])
        await store.add_to_cells(conn, [(store.cell_share(first), store.cell_share(lone))])
    assert [c for c in await _cells(db) if "Ensam" in c]
    async with db.transaction() as conn:
        await store.save_facts(conn, [first])
        await store.add_to_cells(conn, [(store.cell_share(lone), store.cell_share(first))])
    assert not [c for c in await _cells(db) if "Ensam" in c]
    assert await _cells(db) == live


async def test_year_medians_come_from_the_cache_only_while_it_is_current(db: Database) -> None:
    rng = random.Random(5)
    f = store.idea_facts.c
    facts = [_random_fact(rng, rng.choice(["t1", "t2"]), f"i{n}") for n in range(60)]
    facts = [dataclasses.replace(x, year=2025) for x in facts]
    async with db.transaction() as conn:
        await store.save_facts(conn, facts)
        await store.bump_years(conn, {(x.tenant, 2025) for x in facts})

    async def live() -> dict[str, dict[str, float | None]]:
        async with db.engine.connect() as conn:
            return await store.day_medians(
                conn, [f.tenant.in_(["t1", "t2"]), f.year == 2025], by_tenant=True
            )

    async def served() -> dict[str, dict[str, float | None]]:
        async with db.engine.connect() as conn:
            return await store.year_day_medians(conn, ["t1", "t2", "t3"], 2025)

    before = await live()
    assert await served() == before  # nothing cached yet: computed from the facts
    assert await store.refresh_year_medians(db) == 2
    assert await store.refresh_year_medians(db) == 0  # all current
    async with db.engine.connect() as conn:
        cached = (await conn.execute(select(store.year_medians))).all()
    assert {row.tenant for row in cached} == {"t1", "t2"}
    assert await served() == before

    # New facts for t1 make its cached row out of date: t1 comes from the facts again.
    later = [
        dataclasses.replace(_random_fact(rng, "t1", f"j{n}"), year=2025, feedback_days=900.0)
        for n in range(40)
    ]
    async with db.transaction() as conn:
        await store.save_facts(conn, later)
        await store.bump_years(conn, {("t1", 2025)})
    after = await live()
    assert after["t1"] != before["t1"] and after["t2"] == before["t2"]
    assert await served() == after
    assert await store.refresh_year_medians(db) == 1
    assert await served() == after


async def test_a_years_version_moves_only_when_some_ideas_days_change(
    db: Database, org, history, builders
) -> None:
    """New ideas have no days yet: a stream of them leaves the cached medians current."""
    t = "t1"
    v = store.year_versions.c
    f = store.idea_facts.c

    async def apply(events: list[CloudEvent]) -> None:
        async with db.transaction() as conn:
            await handlers.apply_events(conn, events)

    async def version() -> int | None:
        async with db.engine.connect() as conn:
            found = await conn.execute(select(v.version).where(v.tenant == t, v.year == 2025))
            return found.scalar_one_or_none()

    async def served_equals_live() -> dict[str, float | None]:
        async with db.engine.connect() as conn:
            live = await store.day_medians(conn, [f.tenant == t, f.year == 2025], by_tenant=True)
            served = await store.year_day_medians(conn, [t], 2025)
            # The same when a stale year's facts are read through another connection.
            assert await store.year_day_medians(conn, [t], 2025, scan=db.read_engine) == served
        # Absent and all None read the same to the KPIs (PostgreSQL's aggregate gives Nones).
        figures = {name: served.get(t, {}).get(name) for name in store.DAY_COLUMNS}
        assert figures == {name: live.get(t, {}).get(name) for name in store.DAY_COLUMNS}
        return figures

    events = history(t)
    new = [e for e in events if f"{e.aggregate}.{e.event}" == "idea.submitted"]
    await apply([*org(t, "Kommun"), *new])
    assert await version() is None  # seven ideas, no day counted yet
    assert set((await served_equals_live()).values()) == {None}

    await apply([e for e in events if e not in new])
    first = await version()
    assert first is not None
    assert (await served_equals_live())["feedback_days"] is not None
    assert await store.refresh_year_medians(db) == 1  # 2025; 2024's one idea has no days

    unit, admin = f"{t}-u", f"{t}-a"
    more = [
        builders["submitted"](t, f"n{n}", "2025-06-01", unit, admin, "staff_portal", "Miljö")
        for n in range(5)
    ]
    await apply(more)
    assert await version() == first
    assert await store.refresh_year_medians(db) == 0  # the cache is still current
    before = await served_equals_live()

    await apply([builders["screened"](t, "n0", "2025-06-03", admin, "rejected", "Nej")])
    assert await version() == first + 1
    assert await served_equals_live() != before


async def test_summed_cells_give_totals_and_each_breakdown_in_order(db: Database) -> None:
    rng = random.Random(3)
    facts = [
        dataclasses.replace(_random_fact(rng, "t1", f"i{n}"), year=2025, month=month)
        for n, month in enumerate([11, 2, 10, 2, 11, 1] * 5)
    ]
    facts = [x for x in facts if store.cell_share(x) is not None]
    async with db.transaction() as conn:
        await store.add_to_cells(conn, ((None, store.cell_share(x)) for x in facts))
    async with db.engine.connect() as conn:
        totals, by = await store.summed_cells(
            conn, ["submitted", "implemented"], tenant="t1", year=2025
        )
        # The statement is built once per set of filters; each call binds its own values.
        for x in facts[:3]:
            units = {x.org_unit_id, "elsewhere"}
            scoped, _ = await store.summed_cells(
                conn,
                ["submitted"],
                tenant="t1",
                year=2025,
                org_units_in=units,
                channel=x.channel,
                category=x.category,
            )
            assert scoped == {
                "submitted": sum(
                    (y.org_unit_id, y.channel, y.category)
                    in {(u, x.channel, x.category) for u in units}
                    for y in facts
                )
            }
        other_year, _ = await store.summed_cells(conn, ["submitted"], tenant="t1", year=2024)
        assert other_year == {"submitted": 0}
    assert totals == {
        "submitted": len(facts),
        "implemented": sum(x.implemented_at is not None for x in facts),
    }
    months = sorted({x.month for x in facts})
    assert [row["month"] for row in by["month"]] == months  # as numbers: 1, 2, 10, 11
    assert [row["submitted"] for row in by["month"]] == [
        sum(x.month == m for x in facts) for m in months
    ]
    for dim in ("administration_id", "channel", "category"):
        values = sorted({getattr(x, dim) or "" for x in facts})
        assert [row[dim] for row in by[dim]] == values
        assert sum(row["submitted"] for row in by[dim]) == len(facts)


async def test_saved_facts_load_back_as_they_were_whatever_columns_they_fill(db: Database) -> None:
    """Facts are written in groups of the same filled columns: a column emptied since the
    last save is stored empty, and every fact reads back equal, new or replaced."""
    rng = random.Random(5)
    facts = {("t1", f"i{n}"): _random_fact(rng, "t1", f"i{n}") for n in range(60)}
    async with db.transaction() as conn:
        await store.save_facts(conn, facts.values())
    later = {
        key: dataclasses.replace(
            fact,
            title=None if n % 2 else "Ny titel",
            benefit_money=None,
            screened_at=fact.submitted_at if n % 3 else None,
        )
        for n, (key, fact) in enumerate(facts.items())
        if n % 4
    }
    fresh = {("t1", f"j{n}"): IdeaFact(tenant="t1", idea_id=f"j{n}") for n in range(3)}
    async with db.transaction() as conn:
        await store.save_facts(conn, [*later.values(), *fresh.values()])
        loaded = await store.load_facts(conn, [*facts, *fresh])
    assert loaded == {**facts, **later, **fresh}
    assert {f.benefit_money for k, f in loaded.items() if k in later} == {None}
