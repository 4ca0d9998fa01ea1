"""The consumer's batch path: submissions written together, in stream order with the rest."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from ideabank_contracts import CloudEvent, EventData, new_event
from ideabank_contracts.events import IdeaAssigned, IdeaSubmitted, ScreeningCompleted
from ideabank_contracts.events.idea import Channel
from ideabank_contracts.events.screening import ScreeningOutcome
from ideabank_decision.consumers import Projections
from ideabank_decision.store import ideas
from sqlalchemy import select

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _submitted(tenant: str, idea_id: str, title: str, co_authors: tuple[str, ...] = ()) -> Any:
    return IdeaSubmitted(
        idea_id=idea_id,
        actor_id=f"{tenant}-giver",
        org_unit_id=f"{tenant}-norr",
        administration_id=f"{tenant}-vof",
        category="Arbetsmiljö",
        channel=Channel.STAFF_PORTAL,
        title=title,
        description="Nycklar till brukarnas hem hanteras digitalt.",
        problem="Nycklar kommer bort.",
        co_author_ids=co_authors,
        submitted_at=START,
    )


def _stream(tenant: str, a: str, b: str, c: str) -> list[CloudEvent]:
    """Submissions with other events between them, and one about an idea not yet known."""
    data: list[EventData] = [
        _submitted(tenant, a, "Nyckelskåp", co_authors=(f"{tenant}-impl",)),
        _submitted(tenant, b, "Bilpool"),
        IdeaAssigned(
            idea_id=a,
            ambassador_id=f"{tenant}-ig",
            administration_id=f"{tenant}-vof",
            assigned_at=START,
        ),
        # Screened before its submission got here: the submission must not undo it.
        ScreeningCompleted(
            idea_id=c,
            screening_id=str(uuid.uuid4()),
            actor_id=f"{tenant}-ig",
            administration_id=f"{tenant}-vof",
            outcome=ScreeningOutcome.QUICK_WIN,
            template_version=1,
            routed_to_org_unit_id=f"{tenant}-norr",
            completed_at=START,
        ),
        _submitted(tenant, c, "Cykelpool"),
        # The same submission again (sent twice upstream): the idea keeps its status.
        _submitted(tenant, a, "Nyckelskåp", co_authors=(f"{tenant}-impl",)),
    ]
    return [new_event(d, tenant=tenant, subject=tenant, source="/test") for d in data]


async def _rows(world: Any, tenant: str) -> dict[str, dict[str, Any]]:
    async with world.runtime.db.engine.connect() as conn:
        rows = await conn.execute(select(ideas).where(ideas.c.tenant == tenant))
        return {r.id: {k: v for k, v in r._mapping.items() if k != "tenant"} for r in rows}


async def test_a_batch_applies_like_its_events_one_by_one(world: Any) -> None:
    db = world.runtime.db
    projections = Projections(db)
    handlers = projections.handlers()
    batched, single = world.tenants[1], world.tenants[2]
    a, b, c = (str(uuid.uuid4()) for _ in range(3))

    async with db.transaction() as conn:
        await projections.apply(conn, _stream(batched, a, b, c))
    for event in _stream(single, a, b, c):
        async with db.transaction() as conn:
            await handlers[f"{event.aggregate}.{event.event}"](conn, event)

    got = await _rows(world, batched)
    assert {i: r["status"] for i, r in got.items()} == {
        a: "in_screening",
        b: "submitted",
        c: "quick_win",
    }
    assert got[a]["title"] == "Nyckelskåp" and got[a]["co_author_ids"] == [f"{batched}-impl"]
    assert got[a]["idea_giver_id"] == f"{batched}-giver" and got[a]["channel"] == "staff_portal"
    assert got[c]["title"] == "Cykelpool" and got[c]["routed_org_unit_id"] == f"{batched}-norr"
    assert all(r["escalated"] is False for r in got.values())

    def plain(rows: dict[str, dict[str, Any]], tenant: str) -> str:
        return repr(sorted(rows.items())).replace(tenant, "T")

    assert plain(got, batched) == plain(await _rows(world, single), single)
