"""Development into a decision basis: drafts, the submit, and every refusal."""

from __future__ import annotations

BASIS = {
    "description": "Digitala nyckelskåp i hemtjänsten",
    "estimated_cost": {"amount": "125000.50"},
    "estimated_effort_hours": "80",
    "resources_needed": "IT-stöd två veckor",
    "effects_short_term": "Färre borttappade nycklar",
    "effects_long_term": "Mer tid hos brukarna",
    "risks": "Batteritid",
    "proposed_implementer_id": "impl",
    "proposed_indicators": [
        {
            "name": "Tid för nyckelhantering",
            "unit": "minuter per dag",
            "baseline": "45",
            "target": "10",
            "direction": "decrease",
        }
    ],
}


async def test_decision_basis_from_draft_to_management(world) -> None:
    (idea,) = await world.submit_many(1)
    url = f"/v1/ideas/{idea}/decision-basis"

    # not in development yet: 409 for draft and submit
    assert (await world.client.put(url, json=BASIS, headers=world.auth("amb"))).status_code == 409
    assert (await world.client.post(url, json=BASIS, headers=world.auth("amb"))).status_code == 409
    assert (await world.screen(idea, outcome="in_development")).status_code == 201

    # the idea giver drafts with the ambassador
    draft = {"description": BASIS["description"], "risks": "Okänt"}
    resp = await world.client.put(url, json=draft, headers=world.auth("giver"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "draft" and resp.json()["risks"] == "Okänt"
    resp = await world.client.put(url, json={"risks": "Batteritid"}, headers=world.auth("amb"))
    assert resp.json()["description"] == BASIS["description"]
    assert resp.json()["risks"] == "Batteritid"
    got = await world.client.get(url, headers=world.auth("giver"))
    assert got.status_code == 200 and got.json()["updated_by"] == "amb"
    assert (await world.client.get(url, headers=world.auth("amb2"))).status_code == 403

    # submitting needs the effects; only an ambassador of the administration submits
    resp = await world.client.post(url, json={}, headers=world.auth("amb"))
    assert resp.status_code == 422 and resp.json()["field"] == "effects_short_term"
    resp = await world.client.post(url, json=BASIS, headers=world.auth("giver"))
    assert resp.status_code == 403
    resp = await world.client.post(url, json=BASIS, headers=world.auth("amb2"))
    assert resp.status_code == 403
    bad = {**BASIS, "proposed_implementer_id": "ghost"}
    resp = await world.client.post(url, json=bad, headers=world.auth("amb"))
    assert resp.status_code == 422 and resp.json()["field"] == "proposed_implementer_id"
    wrong_way = {
        **BASIS,
        "proposed_indicators": [{**BASIS["proposed_indicators"][0], "target": "60"}],
    }
    resp = await world.client.post(url, json=wrong_way, headers=world.auth("amb"))
    assert resp.status_code == 422 and resp.json()["field"] == "proposed_indicators[0].target"
    resp = await world.client.post(
        url, json={**BASIS, "estimated_cost": {"amount": "-1"}}, headers=world.auth("amb")
    )
    assert resp.status_code == 422 and resp.json()["field"] == "estimated_cost.amount"
    assert await world.status(idea) == "in_development"

    foreign = world.auth("amb", tenant=f"{world.tenant}x")
    assert (await world.client.post(url, json=BASIS, headers=foreign)).status_code == 404

    resp = await world.client.post(
        url, json={k: v for k, v in BASIS.items() if k != "risks"}, headers=world.auth("ig")
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["status"] == "submitted" and resp.json()["risks"] == "Batteritid"
    assert await world.status(idea) == "awaiting_decision"

    # once submitted, the idea is with the management group
    assert (await world.client.post(url, json=BASIS, headers=world.auth("amb"))).status_code == 409
    assert (await world.client.put(url, json=BASIS, headers=world.auth("amb"))).status_code == 409

    events = await world.stream("decision_basis.submitted")
    assert len(events) == 1
    data = events[0].data
    assert data["idea_id"] == idea and data["actor_id"] == "ig"
    assert data["administration_id"] == "adm" and data["org_unit_id"] == "unit"
    assert data["estimated_cost"] == {"amount": "125000.50", "currency": "SEK"}
    assert data["estimated_effort_hours"] == "80"
    assert data["expected_effects_long_term"] == "Mer tid hos brukarna"
    assert data["risks"] == "Batteritid"
    assert data["proposed_implementer_id"] == "impl"
    assert data["proposed_indicators"][0]["baseline"] == "45"
    assert data["proposed_indicators"][0]["direction"] == "decrease"

    actions = [
        r[0]
        for r in await world.sql(
            "SELECT action FROM audit_log WHERE subject = :i ORDER BY seq", i=idea
        )
    ]
    assert actions == [
        "screening.completed",
        "decision_basis.draft_saved",
        "decision_basis.draft_saved",
        "decision_basis.submitted",
    ]
