"""The idea projection's handlers straight on the database: the consumer's statements, made
once and bound per event, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ideabank_contracts import CloudEvent, EventData, new_event
from ideabank_contracts.events import idea as idea_ev
from ideabank_evaluation import projections as p
from ideabank_evaluation.consumers import HANDLERS
from ideabank_evaluation.store import get_idea, ideas, metadata
from ideabank_infra.db import Database
from sqlalchemy import select

T = "tproj"
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """Evaluation's tables on a fresh database."""
    database = Database(db_url)
    await database.create_all(metadata)
    yield database
    await database.dispose()


def event(data: EventData, idea_id: str, tenant: str = T) -> CloudEvent:
    """An event of the test tenant (or another) about ``idea_id``."""
    return new_event(data, tenant=tenant, subject=idea_id, source="/test/intake")


def submitted(idea_id: str, title: str = "Idé", tenant: str = T) -> CloudEvent:
    """An idea.submitted of the test tenant."""
    data = idea_ev.IdeaSubmitted(
        idea_id=idea_id,
        actor_id="giver",
        org_unit_id="unit",
        administration_id="adm",
        category="Arbetsmiljö",
        channel="staff_portal",
        title=title,
        description="d",
        problem="p",
        submitted_at=AT,
    )
    return event(data, idea_id, tenant)


def assigned(idea_id: str, ambassador: str, at: datetime, tenant: str = T) -> CloudEvent:
    """An idea.assigned of the test tenant."""
    data = idea_ev.IdeaAssigned(
        idea_id=idea_id, ambassador_id=ambassador, administration_id="adm", assigned_at=at
    )
    return event(data, idea_id, tenant)


async def apply(db: Database, *events: CloudEvent) -> None:
    """Apply events in one transaction through the consumer's handlers, as it applies a batch."""
    async with db.transaction() as conn:
        for ev in events:
            await HANDLERS[f"{ev.aggregate}.{ev.event}"](conn, ev)


async def stored_ideas(db: Database, tenant: str) -> list[tuple[Any, ...]]:
    """Every projected idea of a tenant, without the tenant and the time of the update."""
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(ideas).where(ideas.c.tenant == tenant))).mappings()
        return sorted(
            tuple(v for k, v in row.items() if k not in ("tenant", "updated_at")) for row in rows
        )


async def idea(db: Database, idea_id: str) -> Any:
    """The projected row of one idea."""
    async with db.engine.connect() as conn:
        return await get_idea(conn, tenant=T, idea_id=idea_id)


async def test_submission_then_assignments_then_withdrawal(db: Database) -> None:
    # A submission seen again under another event id leaves the idea as first stored.
    await apply(db, submitted("i1", "Först"), submitted("i2"), submitted("i1", "Sedan"))
    row = await idea(db, "i1")
    assert (row.title, row.status, row.idea_giver_id, row.ambassador_id) == (
        "Först",
        "submitted",
        "giver",
        None,
    )
    assert row.submitted_at.replace(tzinfo=UTC) == AT
    assert row.in_screening_since is None

    # The first assignment puts the idea in the queue; a later one changes only the ambassador.
    await apply(db, assigned("i1", "amb", AT + timedelta(hours=1)))
    await apply(db, assigned("i1", "amb2", AT + timedelta(hours=2)))
    row = await idea(db, "i1")
    assert (row.status, row.ambassador_id) == ("in_screening", "amb2")
    assert row.in_screening_since.replace(tzinfo=UTC) == AT + timedelta(hours=1)
    assert (await idea(db, "i2")).status == "submitted"

    withdrawn = idea_ev.IdeaWithdrawn(
        idea_id="i1", actor_id="giver", previous_status="in_screening", withdrawn_at=AT
    )
    await apply(db, event(withdrawn, "i1"))
    row = await idea(db, "i1")
    assert (row.status, row.ambassador_id, row.revisit_date) == ("withdrawn", "amb2", None)


async def test_a_batch_stores_what_its_events_one_by_one_do(db: Database) -> None:
    """The consumer's batch handler inserts runs of submissions together; split by other
    events, with an idea submitted twice in a run, it stores what the handlers do one by one,
    and applying the batch again changes nothing."""
    from ideabank_evaluation.consumers import apply as apply_batch

    def history(tenant: str) -> list[CloudEvent]:
        withdrawn = idea_ev.IdeaWithdrawn(
            idea_id="i2", actor_id="giver", previous_status="submitted", withdrawn_at=AT
        )
        return [
            submitted("i1", "Först", tenant),
            submitted("i2", tenant=tenant),
            submitted("i1", "Sedan", tenant),
            assigned("i1", "amb", AT + timedelta(hours=1), tenant),
            submitted("i3", tenant=tenant),
            event(withdrawn, "i2", tenant),
            submitted("i4", tenant=tenant),
        ]

    await apply(db, *history("one"))
    for _ in range(2):
        async with db.transaction() as conn:
            await apply_batch(conn, history("many"))
    one_by_one = await stored_ideas(db, "one")
    assert len(one_by_one) == 4
    assert await stored_ideas(db, "many") == one_by_one


async def test_assignment_before_its_submission_is_retried(db: Database) -> None:
    with pytest.raises(p.IdeaNotYetKnown):
        await apply(db, assigned("later", "amb", AT))
    assert await idea(db, "later") is None


async def test_an_update_of_an_unknown_column_is_refused() -> None:
    """``update_idea`` builds its SET clause from its parameters: a misspelt column must
    fail loudly rather than be left out."""
    import pytest
    from ideabank_evaluation.store import update_idea

    with pytest.raises(ValueError, match="statsu"):
        await update_idea(None, tenant=T, idea_id="x", statsu="paused")  # type: ignore[arg-type]
