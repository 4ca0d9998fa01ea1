"""Spread: offer an evaluated idea to the network, adoption by a fellow member, lineage."""

from __future__ import annotations

from typing import Any

from ideabank_infra.testing import eventually


async def test_offer_adopt_and_count_adoptions_across_the_network(world: Any) -> None:
    origin, adopter, outsider = world.tenants
    await world.seed(origin)
    await world.seed(adopter)
    await world.seed(outsider, network=False)
    idea = await world.evaluated(origin)

    r = await world.client.post(f"/v1/ideas/{idea}/offer", headers=world.as_(origin, "impl"))
    assert r.status_code == 403  # the innovation group or management offers
    r = await world.client.post(f"/v1/ideas/{idea}/offer", headers=world.as_(origin, "ig"))
    assert r.status_code == 200 and r.json() == {
        "idea_id": idea,
        "status": "spread",
        "networks": [world.network],
    }
    assert (
        await world.client.post(f"/v1/ideas/{idea}/offer", headers=world.as_(origin, "ig"))
    ).status_code == 409
    [offered] = [e for e in await world.events(idea) if e.type.endswith("idea.offered.v1")]
    assert offered.data["network"] == world.network and offered.data["realised_hours"] == "300.00"

    async def catalogue(tenant: str) -> list[dict[str, Any]]:
        r = await world.client.get("/v1/network/offers", headers=world.as_(tenant, "mgmt"))
        assert r.status_code == 200
        return [o for o in r.json() if o["idea_id"] == idea]

    [item] = await eventually(lambda: catalogue(adopter), timeout=15)
    assert item["origin_tenant"] == origin and item["adopted_as"] is None
    assert item["origin_tenant_name"] == f"Kommun {origin}"
    assert item["realised_benefit"] == {"amount": "120000.00", "currency": "SEK"}
    assert await catalogue(outsider) == []
    assert await catalogue(origin) == []  # one's own offers are not in one's catalogue

    url = f"/v1/ideas/{idea}/adopt"
    body = {"origin_tenant": origin}
    r = await world.client.post(url, json=body, headers=world.as_(outsider, "mgmt"))
    assert r.status_code == 403 and "not a member" in r.json()["detail"]
    r = await world.client.post(
        url, json={"origin_tenant": outsider}, headers=world.as_(adopter, "mgmt")
    )
    assert r.status_code == 404
    r = await world.client.post(url, json=body, headers=world.as_(adopter, "giver"))
    assert r.status_code == 403
    r = await world.client.post(
        url, json={**body, "org_unit_id": "nowhere"}, headers=world.as_(adopter, "mgmt")
    )
    assert r.status_code == 422 and r.json()["field"] == "org_unit_id"
    r = await world.client.post(
        url, json={"origin_tenant": "NOT A SLUG"}, headers=world.as_(adopter, "mgmt")
    )
    assert r.status_code == 422 and r.json()["field"] == "origin_tenant"

    r = await world.client.post(
        url,
        json={**body, "org_unit_id": world.u(adopter, "ekbacken")},
        headers=world.as_(adopter, "mgmt"),
    )
    assert r.status_code == 201, r.text
    new_id = r.json()["idea_id"]
    assert new_id != idea and r.json()["origin_idea_id"] == idea
    r = await world.client.post(url, json=body, headers=world.as_(adopter, "ig"))
    assert r.status_code == 409

    [adopted] = await world.events(new_id)
    assert adopted.tenant == adopter and adopted.type == "se.ideabank.idea.adopted.v1"
    assert adopted.nats_subject == f"ideas.v1.{adopter}.idea.adopted"
    assert adopted.data == {
        **adopted.data,
        "idea_id": new_id,
        "adopting_tenant": adopter,
        "origin_tenant": origin,
        "origin_idea_id": idea,
        "network": world.network,
        "org_unit_id": world.u(adopter, "ekbacken"),
        "administration_id": world.u(adopter, "vof"),
        "title": "Digital nyckelhantering",
    }
    view = (
        await world.client.get(
            f"/v1/ideas/{new_id}/implementation", headers=world.as_(adopter, "mgmt")
        )
    ).json()
    assert view["status"] == "submitted" and view["origin"] == {"tenant": origin, "idea_id": idea}
    [item] = await catalogue(adopter)
    assert item["adopted_as"] == new_id

    async def adopted_count() -> dict[str, Any] | None:
        r = await world.client.get(f"/v1/ideas/{idea}/adoptions", headers=world.as_(origin, "mgmt"))
        return r.json() if r.json()["count"] == 1 else None

    seen = await eventually(adopted_count, timeout=15)
    assert seen["adoptions"][0]["tenant"] == adopter and seen["adoptions"][0]["idea_id"] == new_id
    r = await world.client.get(f"/v1/ideas/{idea}/adoptions", headers=world.as_(adopter, "mgmt"))
    assert r.status_code == 404  # the origin's idea id means nothing in the adopting tenant

    # Once the origin leaves the network, its offer can no longer be adopted.
    await world.join(outsider)
    await eventually(lambda: catalogue(outsider), timeout=15)
    await world.leave(origin)

    async def gone() -> bool:
        return await catalogue(outsider) == []

    await eventually(gone, timeout=15)
    r = await world.client.post(url, json=body, headers=world.as_(outsider, "mgmt"))
    assert r.status_code == 403 and "left the network" in r.json()["detail"]


async def test_only_evaluated_ideas_are_offered(world: Any) -> None:
    t = world.tenants[0]
    await world.seed(t)
    idea = await world.approved(t)
    r = await world.client.post(f"/v1/ideas/{idea}/offer", headers=world.as_(t, "mgmt"))
    assert r.status_code == 409
    r = await world.client.post(
        f"/v1/ideas/{idea}/adopt", json={"origin_tenant": t}, headers=world.as_(t, "mgmt")
    )
    assert r.status_code == 422 and r.json()["field"] == "origin_tenant"
