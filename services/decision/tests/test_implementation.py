"""Implementation and benefit realisation: plan, trials, implemented, indicators, measurements,
evaluation; only the assigned implementer records, and every step refuses the wrong moment."""

from __future__ import annotations

from typing import Any


async def test_implementer_walks_an_idea_from_plan_to_evaluation(world: Any) -> None:
    t, other, _ = world.tenants
    await world.seed(t)
    idea = await world.approved(t)
    impl, mgr = world.as_(t, "impl"), world.as_(t, "unitmgr")
    post = world.client.post
    base = f"/v1/ideas/{idea}"
    plan = {
        "milestones": [
            {"title": "Utvärdera", "due": "2026-06-01"},
            {"title": "Första prov", "due": "2026-04-01"},
        ],
        "made_with_idea_giver": True,
    }
    trial = {
        "hypothesis": "Digitala lås sparar tio minuter per besök",
        "start": "2026-04-01",
        "end": "2026-04-20",
        "result": "Åtta minuter per besök",
        "verdict": "adapt",
    }

    # Before a plan: nothing but the plan.
    r = await post(f"{base}/implemented", headers=impl)
    assert r.status_code == 409 and "plan" in r.json()["detail"]
    assert (await post(f"{base}/trials", json=trial, headers=impl)).status_code == 409
    assert (
        await post(f"{base}/evaluation", json={"lessons_learned": "x"}, headers=impl)
    ).status_code == 409
    # Only the assigned implementer; another tenant does not see the idea at all.
    assert (await post(f"{base}/plan", json=plan, headers=mgr)).status_code == 403
    await world.seed(other, network=False)
    assert (
        await post(f"{base}/plan", json=plan, headers=world.as_(other, "impl"))
    ).status_code == 404
    r = await post(f"{base}/plan", json={**plan, "made_with_idea_giver": False}, headers=impl)
    assert r.status_code == 422 and r.json()["field"] == "made_with_idea_giver"
    r = await post(f"{base}/plan", json={**plan, "milestones": []}, headers=impl)
    assert r.status_code == 422 and r.json()["field"] == "milestones"
    r = await post(
        f"{base}/plan", json={**plan, "milestones": [{"title": "x", "due": "soon"}]}, headers=impl
    )
    assert r.status_code == 422 and r.json()["field"] == "milestones.0.due"

    r = await post(f"{base}/plan", json=plan, headers=impl)
    assert r.status_code == 201 and r.json()["status"] == "in_implementation"
    assert (await post(f"{base}/plan", json=plan, headers=impl)).status_code == 409

    r = await post(f"{base}/trials", json={**trial, "end": "2026-03-20"}, headers=impl)
    assert r.status_code == 422 and r.json()["field"] == "end"
    r = await post(f"{base}/trials", json={**trial, "verdict": "maybe"}, headers=impl)
    assert r.status_code == 422 and r.json()["field"] == "verdict"
    assert (await post(f"{base}/trials", json=trial, headers=mgr)).status_code == 403
    first = await post(f"{base}/trials", json=trial, headers=impl)
    second = await post(
        f"{base}/trials",
        json={**trial, "start": "2026-05-04", "end": "2026-05-25", "verdict": "adopt"},
        headers=impl,
    )
    assert first.json()["cycle"] == 1 and second.json()["cycle"] == 2

    indicator = {
        "name": "Tid per besök",
        "unit": "minuter",
        "baseline": "45",
        "target": "35",
        "direction": "decrease",
        "cadence": "monthly",
        "tolerance_percent": "10",
    }
    r = await post(f"{base}/indicators", json={**indicator, "target": "50"}, headers=impl)
    assert r.status_code == 422 and r.json()["field"] == "target"
    r = await post(f"{base}/indicators", json={**indicator, "cadence": "daily"}, headers=impl)
    assert r.status_code == 422 and r.json()["field"] == "cadence"
    r = await post(f"{base}/indicators", json=indicator, headers=impl)
    assert r.status_code == 201, r.text
    ind = r.json()["indicator_id"]

    m = {"indicator_id": ind, "value": "36", "measured_at": "2026-02-28"}
    r = await post(f"{base}/measurements", json={**m, "indicator_id": "nope"}, headers=impl)
    assert r.status_code == 422 and r.json()["field"] == "indicator_id"
    r = await post(f"{base}/measurements", json={**m, "measured_at": "2027-01-01"}, headers=impl)
    assert r.status_code == 422 and r.json()["field"] == "measured_at"
    on = await post(f"{base}/measurements", json=m, headers=impl)  # within 10 % of 35
    assert on.status_code == 201 and on.json()["off_target"] is False
    r = await post(f"{base}/measurements", json={**m, "value": "44"}, headers=impl)
    assert r.status_code == 422 and r.json()["field"] == "corrective_action"
    off = await post(
        f"{base}/measurements",
        json={**m, "value": "44", "corrective_action": "Utbilda personalen i låsen"},
        headers=impl,
    )
    assert off.status_code == 201 and off.json()["off_target"] is True

    assert (await post(f"{base}/implemented", headers=mgr)).status_code == 403
    r = await post(f"{base}/implemented", json={"summary": "Låsen används"}, headers=impl)
    assert r.status_code == 200 and r.json()["status"] == "implemented"
    assert (await post(f"{base}/implemented", headers=impl)).status_code == 409

    ev = {
        "realised_benefit": {"amount": "180000.50", "currency": "SEK"},
        "hours": "420",
        "lessons_learned": "Börja med en grupp.",
    }
    r = await post(
        f"{base}/evaluation",
        json={**ev, "realised_benefit": {"amount": "1", "currency": "EUR"}},
        headers=impl,
    )
    assert r.status_code == 422 and r.json()["field"] == "realised_benefit.currency"
    r = await post(f"{base}/evaluation", json={"hours": "1"}, headers=impl)
    assert r.status_code == 422 and r.json()["field"] == "lessons_learned"
    r = await post(f"{base}/evaluation", json=ev, headers=impl)
    assert r.status_code == 200 and r.json()["status"] == "evaluated"
    assert (await post(f"{base}/evaluation", json=ev, headers=impl)).status_code == 409

    view = (await world.client.get(f"{base}/implementation", headers=impl)).json()
    assert view["status"] == "evaluated" and view["implementer_id"] == world.u(t, "impl")
    assert [ms["title"] for ms in view["plan"]["milestones"]] == ["Första prov", "Utvärdera"]
    assert view["plan"]["anchored_with_ids"] == [world.u(t, "giver")]
    assert [tr["verdict"] for tr in view["trials"]] == ["adapt", "adopt"]
    [shown] = view["indicators"]
    assert [x["off_target"] for x in shown["measurements"]] == [False, True]
    assert shown["measurements"][1]["corrective_action"] == "Utbilda personalen i låsen"
    assert view["evaluation"]["lessons_learned"] == "Börja med en grupp."
    r = await world.client.get(f"{base}/implementation", headers=world.as_(other, "mgmt"))
    assert r.status_code == 404

    events = await world.events(idea)
    assert [e.type.split(".", 2)[2] for e in events] == [
        "decision.made.v1",
        "plan.anchored.v1",
        "trial.recorded.v1",
        "trial.recorded.v1",
        "indicator.defined.v1",
        "measurement.recorded.v1",
        "measurement.recorded.v1",
        "idea.implemented.v1",
        "idea.evaluated.v1",
    ]
    anchored = events[1].data
    assert anchored["anchored_with_ids"] == [world.u(t, "giver")]
    assert events[4].data["tolerance_percent"] == "10"
    assert events[6].data["off_target"] is True
    assert events[8].data["realised_benefit"] == {"amount": "180000.50", "currency": "SEK"}
    assert await world.audit(idea) == [
        "decision.approved",
        "plan.anchored",
        "trial.recorded",
        "trial.recorded",
        "indicator.defined",
        "measurement.recorded",
        "measurement.recorded",
        "idea.implemented",
        "idea.evaluated",
    ]
