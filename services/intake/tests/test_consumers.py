"""What intake learns from events: deviations, adoptions by the network."""

from __future__ import annotations

from datetime import UTC, datetime

from ideabank_contracts.events import DeviationRegistered, IdeaAdopted
from ideabank_infra.testing import eventually

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_a_deviation_delivered_three_times_creates_exactly_one_idea(
    org, publish, stream_events
) -> None:
    deviation = DeviationRegistered(
        deviation_id="AVV-2026-0042",
        source_system="Synergi",
        org_unit_id="norr",
        title="Fel läkemedel levererades",
        description="Dosetten innehöll fel läkemedel vid två tillfällen.",
        suggested_improvement="Dubbelkontroll vid leverans.",
        url="https://avvikelser.example/AVV-2026-0042",
        registered_at=NOW,
    )
    # Three deliveries with three different event ids: neither the stream's duplicate
    # window nor the inbox can catch them; the source key must.
    for _ in range(3):
        await publish(deviation, subject=deviation.deviation_id)
    h = org.headers("amb")

    async def one_idea() -> list[dict] | None:
        items = (await org.client.get("/v1/ideas", headers=h)).json()["items"]
        return items or None

    items = await eventually(one_idea, timeout=10)
    submitted = await stream_events({"idea.submitted"})
    assert len(submitted) == 1
    idea = await org.idea(items[0]["id"], "amb")
    assert idea["channel"] == "deviation"
    assert idea["source_ref"] == "AVV-2026-0042" and idea["source_system"] == "Synergi"
    assert idea["status"] == "in_screening" and idea["giver_id"] is None
    assert idea["proposed_solution"] == "Dubbelkontroll vid leverans."
    assert submitted[0].data["source_ref"] == "AVV-2026-0042"
    assert submitted[0].data["channel"] == "deviation"
    # A fourth copy, after the first was applied, still changes nothing.
    await publish(deviation, subject=deviation.deviation_id)
    another = deviation.model_copy(update={"deviation_id": "AVV-2026-0043"})
    await publish(another, subject=another.deviation_id)
    await eventually(
        lambda: _total(org, h, 2),
        timeout=10,
    )
    assert len(await stream_events({"idea.submitted"}, at_least=2)) == 2


async def _total(org, h, n: int) -> bool:
    return bool((await org.client.get("/v1/ideas", headers=h)).json()["total"] == n)


async def test_an_adoption_creates_a_new_idea_with_its_lineage(org, publish, stream_events) -> None:
    origin_tenant = f"{org.tenant}o"
    origin = await org.__class__(org.client, org.issuer, origin_tenant).load()
    offered = (await origin.submit(title="Digitala nyckelskåp"))["idea"]

    adoption = IdeaAdopted(
        idea_id="adopted-1",
        actor_id="ig",
        adopting_tenant=org.tenant,
        origin_tenant=origin_tenant,
        origin_idea_id=offered["id"],
        network="skl",
        org_unit_id="hemtjanst",
        administration_id="vof",
        adopted_at=NOW,
    )
    await publish(adoption, subject="adopted-1")
    await publish(adoption, subject="adopted-1")  # a second delivery changes nothing

    async def adopted() -> dict | None:
        resp = await org.client.get("/v1/ideas/adopted-1", headers=org.headers("amb"))
        return resp.json() if resp.status_code == 200 else None

    idea = await eventually(adopted, timeout=10)
    assert idea["channel"] == "network"
    assert idea["lineage"] == {
        "origin_tenant": origin_tenant,
        "origin_idea_id": offered["id"],
        "network": "skl",
    }
    assert idea["title"] == "Digitala nyckelskåp"
    assert idea["org_unit_id"] == "hemtjanst" and idea["status"] == "in_screening"
    submitted = await stream_events({"idea.submitted"})
    assert len(submitted) == 1
    assert submitted[0].subject == "adopted-1"
    assert submitted[0].data["origin_tenant"] == origin_tenant
    assert submitted[0].data["origin_idea_id"] == offered["id"]
    assert submitted[0].data["channel"] == "network"
    # The origin tenant's people never travel: the giver of the origin idea is not copied.
    assert submitted[0].data["actor_id"] == "ig"
