"""Deferred ideas return to their decision queue on the revisit date, exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from ideabank_decision.bootstrap import create_app
from ideabank_infra.testing import serve


async def test_deferred_idea_returns_once_with_two_replicas(
    world: Any, db_url: str, nats_url: str, issuer: Any, tmp_path: Path, make_settings: Any
) -> None:
    t = world.tenants[0]
    await world.seed(t)
    quick = await world.quick_win(t)
    developed = await world.awaiting(t)
    for idea, who in ((quick, "unitmgr"), (developed, "mgmt")):
        r = await world.client.post(
            f"/v1/ideas/{idea}/decision",
            json={
                "outcome": "deferred",
                "revisit_date": "2026-04-01",
                "motivation": "Efter sommaren",
            },
            headers=world.as_(t, who),
        )
        assert r.status_code == 201, r.text
    r = await world.client.post(
        f"/v1/ideas/{quick}/decision",
        json={"outcome": "rejected", "motivation": "x"},
        headers=world.as_(t, "unitmgr"),
    )
    assert r.status_code == 409  # deferred: decided for now
    r = await world.client.get("/v1/decision-queue", headers=world.as_(t, "unitmgr"))
    assert quick not in [i["idea_id"] for i in r.json()]

    # A second replica on the same database, reading the same clock.
    second = create_app(
        make_settings(db_url, nats_url, issuer, tmp_path / "b", world.tenants), clock=world.clock
    )
    async with serve(second):
        world.clock.advance(timedelta(days=29))  # 2026-03-31: not yet
        await asyncio.sleep(0.5)
        r = await world.client.get(
            f"/v1/ideas/{quick}/implementation", headers=world.as_(t, "unitmgr")
        )
        assert r.json()["status"] == "deferred"
        world.clock.advance(timedelta(days=1))
        await world.in_queue(t, quick, "unitmgr")
        await world.in_queue(t, developed, "mgmt")
        # Both replicas keep polling; give them several rounds to misbehave.
        await asyncio.sleep(1.0)
    for idea, back_to in ((quick, "quick_win"), (developed, "awaiting_decision")):
        resumed = [e for e in await world.events(idea) if e.type.endswith("idea.resumed.v1")]
        assert len(resumed) == 1, resumed
        assert resumed[0].data["from_status"] == "deferred"
        assert resumed[0].data["to_status"] == back_to
        assert (await world.audit(idea)).count("idea.resumed") == 1
    r = await world.client.post(
        f"/v1/ideas/{quick}/decision",
        json={"outcome": "approved", "kind": "assignment", "implementer_id": world.u(t, "impl")},
        headers=world.as_(t, "unitmgr"),
    )
    assert r.status_code == 201
