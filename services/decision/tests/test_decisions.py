"""Decision queues and decisions: who decides what, and every refused transition."""

from __future__ import annotations

from typing import Any

from ideabank_infra.testing import eventually


async def test_quick_win_is_decided_by_the_routed_manager(world: Any) -> None:
    t, other, _ = world.tenants
    await world.seed(t)
    idea = await world.quick_win(t)
    item = await world.in_queue(t, idea, "unitmgr")
    assert item["queue"] == "manager" and item["status"] == "quick_win"
    # The department above sees it too; a manager elsewhere and management do not.
    await world.in_queue(t, idea, "deptmgr")
    for who in ("othermgr", "mgmt"):
        r = await world.client.get("/v1/decision-queue", headers=world.as_(t, who))
        assert idea not in [i["idea_id"] for i in r.json()]
    r = await world.client.get("/v1/decision-queue", headers=world.as_(t, "giver"))
    assert r.status_code == 403

    url = f"/v1/ideas/{idea}/decision"
    approve = {"outcome": "approved", "kind": "direct", "implementer_id": world.u(t, "impl")}
    r = await world.client.post(url, json=approve, headers=world.as_(t, "othermgr"))
    assert r.status_code == 403, r.text
    # Another tenant's manager: the idea does not exist for them.
    await world.seed(other)
    r = await world.client.post(url, json=approve, headers=world.as_(other, "unitmgr"))
    assert r.status_code == 404
    for body, field in (
        ({"outcome": "approved", "kind": "direct"}, "implementer_id"),
        ({"outcome": "approved", "implementer_id": world.u(t, "impl")}, "kind"),
        ({**approve, "implementer_id": "nobody"}, "implementer_id"),
        ({**approve, "implementer_id": world.u(other, "impl")}, "implementer_id"),
        ({"outcome": "maybe"}, "outcome"),
        ({"outcome": "rejected"}, "motivation"),
        ({"outcome": "deferred"}, "revisit_date"),
        ({"outcome": "deferred", "revisit_date": "2026-03-02"}, "revisit_date"),
        (
            {**approve, "kind": "project", "budget": {"amount": "-1", "currency": "SEK"}},
            "budget.amount",
        ),
    ):
        r = await world.client.post(url, json=body, headers=world.as_(t, "unitmgr"))
        assert r.status_code == 422, (body, r.text)
        assert r.json()["field"] == field, (body, r.json())
    assert await world.events(idea) == []

    r = await world.client.post(url, json=approve, headers=world.as_(t, "unitmgr"))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "approved" and r.json()["decided_by"] == "unit_manager"
    again = await world.client.post(url, json=approve, headers=world.as_(t, "unitmgr"))
    assert again.status_code == 409
    assert again.json()["type"].endswith("/invalid-transition")

    [made] = await world.events(idea)
    assert made.type == "se.ideabank.decision.made.v1"
    assert made.data["outcome"] == "approved" and made.data["implementer_id"] == world.u(t, "impl")
    assert made.data["decided_by"] == "unit_manager" and made.tenant == t
    assert await world.audit(idea) == ["decision.approved"]
    r = await world.client.get("/v1/decision-queue", headers=world.as_(t, "unitmgr"))
    assert idea not in [i["idea_id"] for i in r.json()]


async def test_management_decides_developed_ideas_of_its_administration(world: Any) -> None:
    t = world.tenants[0]
    await world.seed(t)
    idea = await world.awaiting(t)
    item = await world.in_queue(t, idea, "mgmt")
    assert item["queue"] == "management"
    assert item["decision_basis"]["expected_effects_long_term"] == "Lägre kostnader."
    assert item["decision_basis"]["proposed_implementer_id"] == world.u(t, "impl")

    url = f"/v1/ideas/{idea}/decision"
    rejected = {"outcome": "rejected", "motivation": "Ryms inte i budgeten i år."}
    for who in ("unitmgr", "utbmgmt"):
        r = await world.client.post(url, json=rejected, headers=world.as_(t, who))
        assert r.status_code == 403, (who, r.text)
    r = await world.client.post(
        url, json={"outcome": "rejected", "motivation": "  "}, headers=world.as_(t, "mgmt")
    )
    assert r.status_code == 422 and r.json()["field"] == "motivation"
    r = await world.client.post(url, json=rejected, headers=world.as_(t, "mgmt"))
    assert r.status_code == 201 and r.json()["decided_by"] == "management"
    r = await world.client.post(url, json=rejected, headers=world.as_(t, "mgmt"))
    assert r.status_code == 409
    [made] = await world.events(idea)
    assert made.data["outcome"] == "rejected" and made.data["motivation"] == rejected["motivation"]


async def test_a_manager_escalates_a_quick_win_to_management(world: Any) -> None:
    t = world.tenants[0]
    await world.seed(t)
    idea = await world.quick_win(t, routed_to="syd")
    r = await world.client.post(f"/v1/ideas/{idea}/escalate", headers=world.as_(t, "unitmgr"))
    assert r.status_code == 403  # routed to syd, not to the norr manager's unit
    r = await world.client.post(f"/v1/ideas/{idea}/escalate", headers=world.as_(t, "mgmt"))
    assert r.status_code == 403  # management holds no manager role
    r = await world.client.post(
        f"/v1/ideas/{idea}/escalate",
        json={"motivation": "Berör hela förvaltningen"},
        headers=world.as_(t, "deptmgr"),
    )
    assert r.status_code == 200 and r.json()["status"] == "awaiting_decision"
    r = await world.client.post(f"/v1/ideas/{idea}/escalate", headers=world.as_(t, "deptmgr"))
    assert r.status_code == 409
    item = await world.in_queue(t, idea, "mgmt")
    assert item["escalated"] is True
    # Now the management group decides it, not the manager.
    body = {
        "outcome": "approved",
        "kind": "project",
        "implementer_id": world.u(t, "impl"),
        "resources": "Två personer i tre månader",
        "budget": {"amount": "50000", "currency": "SEK"},
    }
    r = await world.client.post(
        f"/v1/ideas/{idea}/decision", json=body, headers=world.as_(t, "deptmgr")
    )
    assert r.status_code == 403
    r = await world.client.post(
        f"/v1/ideas/{idea}/decision", json=body, headers=world.as_(t, "mgmt")
    )
    assert r.status_code == 201, r.text
    types = [e.type for e in await world.events(idea)]
    assert types == ["se.ideabank.decision.escalated.v1", "se.ideabank.decision.made.v1"]
    assert await world.audit(idea) == ["decision.escalated", "decision.approved"]


async def test_withdrawn_or_unscreened_ideas_cannot_be_decided(world: Any) -> None:
    from ideabank_contracts.events import IdeaWithdrawn

    t = world.tenants[0]
    await world.seed(t)
    idea = await world.quick_win(t)
    await world.publish(
        t,
        idea,
        IdeaWithdrawn(
            idea_id=idea,
            actor_id=world.u(t, "giver"),
            previous_status="quick_win",
            withdrawn_at=world.clock.now(),
        ),
    )

    async def gone() -> bool:
        r = await world.client.get("/v1/decision-queue", headers=world.as_(t, "unitmgr"))
        return idea not in [i["idea_id"] for i in r.json()]

    await eventually(gone, timeout=10)
    r = await world.client.post(
        f"/v1/ideas/{idea}/decision",
        json={"outcome": "rejected", "motivation": "x"},
        headers=world.as_(t, "unitmgr"),
    )
    assert r.status_code == 409
    fresh = await world.submitted(t)
    await eventually(lambda: world.runtime.db.ping(), timeout=1)
    r = await world.client.post(
        f"/v1/ideas/{fresh}/decision",
        json={"outcome": "rejected", "motivation": "x"},
        headers=world.as_(t, "mgmt"),
    )
    assert r.status_code in (404, 409)  # 404 until the projection has it, then 409
