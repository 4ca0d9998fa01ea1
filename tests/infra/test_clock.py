"""The demo clock moves time only while its file says so, and events follow it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ideabank_contracts import CloudEvent
from ideabank_infra.clock import FixedClock, ShiftedClock, set_event_clock
from ideabank_infra.db import Database
from ideabank_infra.outbox import enqueue
from ideabank_infra.tables import outbox
from sqlalchemy import select


def test_shifted_clock_follows_its_file(tmp_path: Path) -> None:
    path = tmp_path / "demo-clock"
    clock = ShiftedClock(path)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=2)
    path.write_text(str(-2 * 365 * 86400))
    assert abs(clock.now() - (datetime.now(UTC) - timedelta(days=730))) < timedelta(seconds=2)
    path.write_text("garbage")
    import os

    os.utime(path, (1, 1))
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=2)
    path.unlink()
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=2)


def test_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(datetime(2026, 1, 1))
    assert clock.today().isoformat() == "2026-01-01"
    clock.advance(timedelta(days=31))
    assert clock.today().isoformat() == "2026-02-01"


async def test_outbox_stamps_events_with_the_demo_clock(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    await db.create_all()
    past = datetime(2024, 3, 1, tzinfo=UTC)
    set_event_clock(FixedClock(past))
    try:
        event = CloudEvent(
            id="e1",
            source="/t",
            type="se.ideabank.idea.commented.v1",
            time=datetime.now(UTC),
            subject="i",
            tenant="t",
            data={},
        )
        async with db.transaction() as conn:
            await enqueue(conn, [event])
    finally:
        set_event_clock(None)
    async with db.engine.connect() as conn:
        payload = (await conn.execute(select(outbox.c.payload))).scalar_one()
    assert CloudEvent.from_json(payload).time == past
    await db.dispose()
