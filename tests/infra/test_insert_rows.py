"""insert_rows writes what SQLAlchemy's own executemany writes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from ideabank_infra import db as db_module
from ideabank_infra.db import Database, dialect_insert, insert_new_keys, insert_rows
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    select,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError, StatementError

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("n", Integer, nullable=False),
    Column("flag", Boolean, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("body", LargeBinary, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("note", String(20), nullable=True),
    Column("kind", String(10), nullable=False, default="plain"),
)


def rows(prefix: str, count: int) -> list[dict[str, Any]]:
    at = datetime(2026, 3, 14, 9, 30, 15, 123456, tzinfo=UTC)
    return [
        {
            "id": f"{prefix}{i:03d}",
            "n": i,
            "flag": i % 2 == 0,
            "tags": {"k": [i, "å"], "none": None},
            "body": bytes([i % 256]) * 3,
            "at": at + timedelta(minutes=i),
            "note": None if i % 3 else "ok",
            "kind": "rich",
        }
        for i in range(count)
    ]


async def read(db: Database, prefix: str) -> list[tuple[Any, ...]]:
    async with db.engine.connect() as conn:
        found = await conn.execute(
            select(things).where(things.c.id.startswith(prefix)).order_by(things.c.id)
        )
        return [tuple(r)[1:] for r in found]


async def test_rows_written_by_hand_read_back_as_sqlalchemys_do(db_url: str) -> None:
    db = Database(db_url)
    await db.create_all(metadata)
    try:
        async with db.transaction() as conn:
            await conn.execute(insert(things), rows("sa-", 40))
            await insert_rows(conn, things, rows("ir-", 40))
        assert (things, db.dialect, tuple(rows("x", 1)[0]), False) in db_module._INSERTS
        ours, theirs = await read(db, "ir-"), await read(db, "sa-")
        assert len(ours) == 40
        assert ours == theirs
        assert ours[1][4].tzinfo is not None or db.is_sqlite  # as the type stores it

        # A column left out (its default to fill): SQLAlchemy's own path, same result.
        short = [{k: v for k, v in r.items() if k != "kind"} for r in rows("df-", 3)]
        async with db.transaction() as conn:
            await insert_rows(conn, things, short)
            await insert_rows(conn, things, [])
        assert [r[-1] for r in await read(db, "df-")] == ["plain"] * 3
        # Rows whose keys differ are refused as SQLAlchemy refuses them, and write nothing.
        mixed = rows("mx-", 3)
        del mixed[1]["note"]
        with pytest.raises(StatementError, match="note"):
            async with db.transaction() as conn:
                await insert_rows(conn, things, mixed)
        assert await read(db, "mx-") == []

        # An INSERT … ON CONFLICT made once: new keys inserted, known ones updated.
        stmt = dialect_insert(db.dialect, things)
        upsert = stmt.on_conflict_do_update(
            index_elements=["id"], set_={"n": stmt.excluded.n, "tags": stmt.excluded.tags}
        )
        again = rows("ir-", 42)
        for r in again:
            r["n"] += 1000
            r["tags"] = ["changed"]
        async with db.transaction() as conn:
            await insert_rows(conn, upsert, again)
        assert (upsert, db.dialect, tuple(again[0]), False) in db_module._INSERTS
        after = await read(db, "ir-")
        assert [r[0] for r in after] == [i + 1000 for i in range(42)]
        assert {str(r[2]) for r in after} == {"['changed']"}
        assert [r[1:2] + r[3:] for r in after[:40]] == [r[1:2] + r[3:] for r in theirs]
    finally:
        await db.dispose()


marks = Table(
    "marks",
    metadata,
    Column("owner", String(20), primary_key=True),
    Column("key", String(40), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
)


async def test_new_keys_are_inserted_once_and_told_apart_from_known_ones(db_url: str) -> None:
    db = Database(db_url)
    await db.create_all(metadata)
    at = datetime(2026, 3, 14, 9, 30, 15, 123456, tzinfo=UTC)
    try:
        async with db.transaction() as conn:
            first = await insert_new_keys(
                conn, marks, "key", ["a", "b'; --", "å"], {"owner": "x", "at": at}
            )
            # Known keys, and a key twice in one call, come back once or not at all.
            second = await insert_new_keys(
                conn, marks, "key", ["a", "c", "c"], {"owner": "x", "at": at}
            )
            # The fixed columns are part of the primary key: another owner's "a" is new.
            other = await insert_new_keys(conn, marks, "key", ["a"], {"owner": "y", "at": at})
            assert await insert_new_keys(conn, marks, "key", [], {"owner": "x", "at": at}) == set()
        assert first == {"a", "b'; --", "å"}
        assert second == {"c"}
        assert other == {"a"}
        async with db.engine.connect() as conn:
            stored = (await conn.execute(select(marks).order_by(marks.c.owner, marks.c.key))).all()
        assert [(r.owner, r.key) for r in stored] == [
            ("x", "a"),
            ("x", "b'; --"),
            ("x", "c"),
            ("x", "å"),
            ("y", "a"),
        ]
        assert {r.at.replace(tzinfo=UTC) for r in stored} == {at}
        # A failed transaction keeps none of its keys: they are new again.
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                assert await insert_new_keys(
                    conn, marks, "key", ["d"], {"owner": "x", "at": at}
                ) == {"d"}
                raise RuntimeError("rolled back")
        async with db.transaction() as conn:
            assert await insert_new_keys(
                conn, marks, "key", ["d", "a"], {"owner": "x", "at": at}
            ) == {"d"}
    finally:
        await db.dispose()


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 3, 14, 9, 30, 15, 123456, tzinfo=UTC),
        datetime(2026, 3, 14, 9, 30, 15, tzinfo=timezone(timedelta(hours=2))),  # offset left out
        datetime(1, 1, 1),  # no microseconds, naive, the smallest year
        datetime(9999, 12, 31, 23, 59, 59, 999999),
        date(2026, 1, 31),  # a date alone: SQLAlchemy's own way
        None,
    ],
)
def test_sqlite_dates_are_bound_to_the_text_sqlalchemy_binds(value: Any) -> None:
    dialect = sqlite.dialect()
    theirs = sqlite.DATETIME(timezone=True).bind_processor(dialect)
    ours = db_module.SqliteDateTime(timezone=True).bind_processor(dialect)
    assert theirs is not None and ours is not None
    assert ours(value) == theirs(value)


async def test_a_sqlite_database_binds_its_dates_the_faster_way(tmp_path: Any) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'dates.db'}")
    await db.create_all(metadata)
    try:
        for engine in (db.engine, db.read_engine):
            impl = things.c.at.type.dialect_impl(engine.sync_engine.dialect)
            assert isinstance(impl, db_module.SqliteDateTime)
        async with db.transaction() as conn:
            await conn.execute(insert(things), rows("dt-", 2))
        stored = (await read(db, "dt-"))[1][4]
        assert stored == rows("dt-", 2)[1]["at"].replace(tzinfo=None)
    finally:
        await db.dispose()


async def test_postgresql_inserts_a_batch_in_one_execution(postgres_url: str) -> None:
    """On PostgreSQL a plain INSERT, and one that skips conflicts, take one array per
    column; an upsert (which may meet a key twice in a batch) goes row by row unless its
    caller says the keys are distinct."""
    db = Database(postgres_url)
    await db.create_all(metadata)
    try:
        skip = dialect_insert(db.dialect, marks).on_conflict_do_nothing()
        stmt = dialect_insert(db.dialect, marks)
        update = stmt.on_conflict_do_update(
            index_elements=["owner", "key"], set_={"at": stmt.excluded.at}
        )
        at = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
        later = at + timedelta(days=1)
        async with db.transaction() as conn:
            await insert_rows(conn, marks, [{"owner": "o", "key": "a", "at": at}])
            # "a" is known and "b" comes twice: each is there once afterwards.
            await insert_rows(
                conn, skip, [{"owner": "o", "key": k, "at": later} for k in ("a", "b", "b")]
            )
            await insert_rows(
                conn, update, [{"owner": "o", "key": "c", "at": t} for t in (at, later)]
            )
            # Keys said to be distinct: one execution, updating "a" and inserting "d".
            await insert_rows(
                conn,
                update,
                [{"owner": "o", "key": k, "at": later} for k in ("a", "d")],
                distinct=True,
            )
        keys = ("owner", "key", "at")
        compiled = {
            (into, distinct): db_module._INSERTS[(into, "postgresql", keys, distinct)]
            for into, distinct in ((marks, False), (skip, False), (update, False), (update, True))
        }
        assert {k: c is not None and c.columnar for k, c in compiled.items()} == {
            (marks, False): True,
            (skip, False): True,
            (update, False): False,
            (update, True): True,
        }
        async with db.engine.connect() as conn:
            stored = (await conn.execute(select(marks).order_by(marks.c.key))).all()
        assert [(r.key, r.at) for r in stored] == [
            ("a", later),
            ("b", later),
            ("c", later),
            ("d", later),
        ]
    finally:
        await db.dispose()


async def test_a_value_too_long_for_its_column_is_refused_not_cut(postgres_url: str) -> None:
    """PostgreSQL cuts a string cast to ``VARCHAR(n)``; the arrays are cast as the values
    of one row are, so the column's own length refuses it (SQLite keeps any length)."""
    db = Database(postgres_url)
    await db.create_all(metadata)
    try:
        row = {"owner": "o" * 21, "key": "k", "at": datetime(2026, 3, 14, tzinfo=UTC)}
        with pytest.raises(DBAPIError, match="too long"):
            async with db.transaction() as conn:
                await insert_rows(conn, marks, [row])
        async with db.engine.connect() as conn:
            assert (await conn.execute(select(marks).where(marks.c.key == "k"))).all() == []
    finally:
        await db.dispose()
