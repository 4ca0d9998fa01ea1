"""A paused idea comes back to the queue on its revisit date, by itself, exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from ideabank_evaluation.handlers import resume_due_ideas


async def test_paused_idea_returns_on_its_revisit_date(world) -> None:
    idea, other = await world.submit_many(2)
    revisit = world.clock.today() + timedelta(days=14)
    resp = await world.screen(idea, outcome="paused", revisit_date=revisit.isoformat())
    assert resp.status_code == 201
    resp = await world.screen(
        other, outcome="paused", revisit_date=(revisit + timedelta(days=1)).isoformat()
    )
    assert resp.status_code == 201

    world.clock.set(world.clock.now() + timedelta(days=13))  # the day before
    assert await resume_due_ideas(world.runtime) == 0
    assert await world.status(idea) == "paused"

    world.clock.set(world.clock.now() + timedelta(days=1))  # the revisit date
    assert await resume_due_ideas(world.runtime) == 1
    assert await resume_due_ideas(world.runtime) == 0  # a second pass finds nothing
    assert await world.status(idea) == "in_screening"
    assert await world.status(other) == "paused"

    queue = (await world.client.get("/v1/screening-queue", headers=world.auth("amb"))).json()
    assert [(i["idea_id"], i["waiting_days"]) for i in queue] == [(idea, 0)]
    # back in the queue, it is screened again like any other idea
    assert (await world.screen(idea, outcome="in_development")).status_code == 201

    events = await world.stream("idea.resumed")
    await asyncio.sleep(0.3)
    events = await world.stream("idea.resumed")
    assert [(e.data["idea_id"], e.data["from_status"], e.data["to_status"]) for e in events] == [
        (idea, "paused", "in_screening")
    ]
    assert events[0].data.get("actor_id") is None
    audit = await world.sql("SELECT subject FROM audit_log WHERE action = 'idea.resumed'")
    assert audit == [(idea,)]


async def test_a_withdrawn_pause_never_resumes(world) -> None:
    from ideabank_contracts.events import idea as idea_ev

    (idea,) = await world.submit_many(1)
    revisit = world.clock.today() + timedelta(days=3)
    assert (
        await world.screen(idea, outcome="paused", revisit_date=revisit.isoformat())
    ).status_code == 201
    await world.publish(
        (
            idea_ev.IdeaWithdrawn(
                idea_id=idea,
                actor_id="giver",
                previous_status="paused",
                withdrawn_at=world.clock.now(),
            ),
            idea,
        )
    )
    await world.wait_status(idea, "withdrawn")
    world.clock.set(world.clock.now() + timedelta(days=30))
    assert await resume_due_ideas(world.runtime) == 0


@pytest.mark.parametrize("n", [12])
async def test_two_replicas_resume_each_idea_exactly_once(
    postgres_url: str, world_factory, n: int
) -> None:
    async with world_factory(postgres_url, "a") as a, world_factory(postgres_url, "b") as b:
        await a.seed_org()
        ideas = await a.submit_many(n)
        revisit = a.clock.today() + timedelta(days=7)
        for idea in ideas:
            resp = await a.screen(idea, outcome="paused", revisit_date=revisit.isoformat())
            assert resp.status_code == 201

        # Each replica has its own clock, both past the date, and runs its pass at once.
        later = a.clock.now() + timedelta(days=8)
        a.clock.set(later)
        b.clock.set(later + timedelta(minutes=1))
        counts = await asyncio.gather(
            *(resume_due_ideas(r.runtime, batch=5) for r in (a, b, a, b, a, b))
        )
        assert sum(counts) == n, counts

        events = await a.stream("idea.resumed", at_least=n)
        await asyncio.sleep(0.5)
        events = await a.stream("idea.resumed", at_least=n)
        resumed = sorted(e.data["idea_id"] for e in events)
        assert resumed == sorted(ideas)  # every idea once, none twice
        rows = await a.sql(
            "SELECT count(*) FROM audit_log WHERE action = 'idea.resumed' AND tenant = :t",
            t=a.tenant,
        )
        assert rows[0][0] == n
        statuses = await b.sql("SELECT DISTINCT status FROM ideas WHERE tenant = :t", t=b.tenant)
        assert statuses == [("in_screening",)]
