"""Screening over HTTP, real NATS and both databases: queue, the four outcomes, every refusal."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from ideabank_contracts.events import idea as idea_ev

SCORES = [
    {"criterion_key": "mission", "score": 4, "note": "Klart inom uppdraget"},
    {"criterion_key": "reach", "score": 3},
    {"criterion_key": "public_benefit", "score": 5},
    {"criterion_key": "effect_vs_resources", "score": 2},
]


async def test_queue_lists_the_administrations_ideas_oldest_first(world) -> None:
    now = world.clock.now()
    newer = await world.submit(assigned_at=now - timedelta(days=2), wait=False)
    older = await world.submit(assigned_at=now - timedelta(days=9), wait=False)
    elsewhere = await world.submit(
        administration="adm2", org_unit="adm2", assign_to="amb2", wait=False
    )
    waiting = await world.submit(assign_to=None)  # no ambassador yet: not in any queue
    await world.wait_all([newer, older, elsewhere], "in_screening")

    resp = await world.client.get("/v1/screening-queue", headers=world.auth("amb"))
    assert resp.status_code == 200, resp.text
    queue = resp.json()
    assert [i["idea_id"] for i in queue] == [older, newer]
    assert [i["waiting_days"] for i in queue] == [9, 2]
    assert queue[0]["title"] == f"Idé {older}"

    ig = (await world.client.get("/v1/screening-queue", headers=world.auth("ig"))).json()
    assert [i["idea_id"] for i in ig] == [older, newer]  # the innovation group of adm
    other = (await world.client.get("/v1/screening-queue", headers=world.auth("amb2"))).json()
    assert [i["idea_id"] for i in other] == [elsewhere]
    assert waiting not in {i["idea_id"] for i in queue + ig + other}

    employee = await world.client.get("/v1/screening-queue", headers=world.auth("giver"))
    assert employee.status_code == 403
    stranger = world.auth("amb", tenant=f"{world.tenant}x")
    assert (await world.client.get("/v1/screening-queue", headers=stranger)).json() == []


async def test_the_four_outcomes(world) -> None:
    rejected, paused, quick, developed = await world.submit_many(4)
    today = world.clock.today()

    # rejected: a motivation is required
    resp = await world.screen(rejected, outcome="rejected")
    assert resp.status_code == 422 and resp.json()["field"] == "motivation"
    resp = await world.screen(rejected, outcome="rejected", motivation="   ")
    assert resp.status_code == 422 and resp.json()["field"] == "motivation"
    resp = await world.screen(rejected, outcome="rejected", motivation="Ligger utanför uppdraget")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["outcome"] == "rejected" and body["template_version"] == 1
    assert Decimal(body["weighted_total"]) == 14 and Decimal(body["weighted_max"]) == 20
    assert Decimal(body["weighted_share"]) == Decimal("0.7")

    # paused: a revisit date in the future is required
    resp = await world.screen(paused, outcome="paused")
    assert resp.status_code == 422 and resp.json()["field"] == "revisit_date"
    resp = await world.screen(paused, outcome="paused", revisit_date=today.isoformat())
    assert resp.status_code == 422 and resp.json()["field"] == "revisit_date"
    revisit = (today + timedelta(days=30)).isoformat()
    resp = await world.screen(paused, who="ig", outcome="paused", revisit_date=revisit)
    assert resp.status_code == 201, resp.text

    # quick win: routed to the idea's unit and its unit manager by default
    resp = await world.screen(quick, outcome="quick_win")
    assert resp.status_code == 201, resp.text
    assert resp.json()["routed_to_org_unit_id"] == "unit"
    assert resp.json()["routed_to_person_id"] == "um"

    resp = await world.screen(developed, outcome="in_development", motivation="Vi utvecklar")
    assert resp.status_code == 201, resp.text

    for idea, status in [
        (rejected, "rejected"),
        (paused, "paused"),
        (quick, "quick_win"),
        (developed, "in_development"),
    ]:
        assert await world.status(idea) == status
    # already screened: 409, and nothing changes
    again = await world.screen(developed, outcome="rejected", motivation="Nej")
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert await world.status(developed) == "in_development"
    queue = (await world.client.get("/v1/screening-queue", headers=world.auth("amb"))).json()
    assert queue == []

    events = await world.stream("screening.completed", at_least=4)
    assert len(events) == 4
    by_idea = {e.data["idea_id"]: e.data for e in events}
    assert by_idea[rejected]["motivation"] == "Ligger utanför uppdraget"
    assert by_idea[paused]["revisit_date"] == revisit
    assert by_idea[paused]["actor_id"] == "ig"
    assert by_idea[quick]["routed_to_person_id"] == "um"
    assert by_idea[developed]["template_version"] == 1
    scores = by_idea[developed]["criterion_scores"]
    assert [s["criterion_key"] for s in scores] == [s["criterion_key"] for s in SCORES]
    assert scores[0]["label"] == "inom förvaltningens uppdrag"
    assert scores[0]["note"] == "Klart inom uppdraget"
    assert by_idea[developed]["weighted_total"] == "14"
    assert all(e.subject == e.data["idea_id"] for e in events)

    audit = await world.sql(
        "SELECT subject, action, actor_id FROM audit_log WHERE tenant = :t AND action = :a",
        t=world.tenant,
        a="screening.completed",
    )
    assert sorted(r[0] for r in audit) == sorted([rejected, paused, quick, developed])

    history = await world.client.get(f"/v1/ideas/{quick}/screening", headers=world.auth("giver"))
    assert history.status_code == 200 and history.json()[0]["outcome"] == "quick_win"


async def test_quick_win_routed_to_another_unit_of_the_administration(world) -> None:
    a, b, c = await world.submit_many(3)
    resp = await world.screen(a, outcome="quick_win", routed_to_org_unit_id="dep")
    assert resp.status_code == 201 and resp.json()["routed_to_person_id"] == "dm"
    # a unit without a unit manager goes to its department manager
    resp = await world.screen(b, outcome="quick_win", routed_to_org_unit_id="unit-b")
    assert resp.status_code == 201 and resp.json()["routed_to_person_id"] == "dm"
    for unit in ("adm2", "nowhere"):
        resp = await world.screen(c, outcome="quick_win", routed_to_org_unit_id=unit)
        assert resp.status_code == 422 and resp.json()["field"] == "routed_to_org_unit_id"
    resp = await world.screen(c, outcome="in_development", routed_to_org_unit_id="unit")
    assert resp.status_code == 422 and resp.json()["field"] == "routed_to_org_unit_id"


async def test_refused_screenings_write_nothing(world) -> None:
    idea = await world.submit()

    def scores_with(i: int, **change: object) -> list[dict[str, object]]:
        return [dict(s, **change) if n == i else s for n, s in enumerate(SCORES)]

    cases = [
        (scores_with(2, score=6), "scores[2].score"),
        (scores_with(1, score=0), "scores[1].score"),
        (scores_with(0, criterion_key="beauty"), "scores[0].criterion_key"),
        (SCORES[:3], "scores"),
        ([*SCORES, SCORES[0]], "scores[4].criterion_key"),
        (scores_with(3, score="many"), "scores.3.score"),
    ]
    for scores, field in cases:
        resp = await world.screen(idea, scores=scores)
        assert resp.status_code == 422, (field, resp.text)
        assert resp.json()["field"] == field
    resp = await world.screen(idea, outcome="maybe")
    assert resp.status_code == 422 and resp.json()["field"] == "outcome"
    resp = await world.screen(idea, outcome="in_development", revisit_date="2030-01-01")
    assert resp.status_code == 422 and resp.json()["field"] == "revisit_date"

    # another administration's ambassador: 403; an employee: 403; another tenant: 404
    assert (await world.screen(idea, who="amb2")).status_code == 403
    assert (await world.screen(idea, who="giver")).status_code == 403
    foreign = world.auth("amb", tenant=f"{world.tenant}x")
    resp = await world.client.post(
        f"/v1/ideas/{idea}/screening",
        json={"scores": SCORES, "outcome": "in_development"},
        headers=foreign,
    )
    assert resp.status_code == 404
    assert (await world.screen("no-such-idea")).status_code == 404

    assert await world.status(idea) == "in_screening"
    assert await world.sql("SELECT id FROM screenings") == []
    assert await world.sql("SELECT seq FROM outbox") == []
    assert await world.sql("SELECT seq FROM audit_log") == []


async def test_withdrawn_merged_and_unassigned_ideas_cannot_be_screened(world) -> None:
    withdrawn, merged, keeper = await world.submit_many(3)
    unassigned = await world.submit(assign_to=None, wait=False)
    now = world.clock.now()
    await world.publish(
        (
            idea_ev.IdeaWithdrawn(
                idea_id=withdrawn,
                actor_id="giver",
                previous_status="in_screening",
                withdrawn_at=now,
            ),
            withdrawn,
        ),
        (
            idea_ev.IdeaMerged(idea_id=merged, actor_id="amb", into_idea_id=keeper, merged_at=now),
            merged,
        ),
    )
    await world.wait_status(withdrawn, "withdrawn")
    await world.wait_status(merged, "merged")
    for idea in (withdrawn, merged, unassigned):
        resp = await world.screen(idea)
        assert resp.status_code == 409, resp.text
        assert resp.json()["type"].endswith("/invalid-transition")
    queue = (await world.client.get("/v1/screening-queue", headers=world.auth("amb"))).json()
    assert [i["idea_id"] for i in queue] == [keeper]


async def test_projection_follows_revisions_redelivery_and_erasure(world) -> None:
    idea = await world.submit()
    revised = idea_ev.IdeaRevised(
        idea_id=idea,
        actor_id="giver",
        org_unit_id="adm2",
        administration_id="adm2",
        category="Miljö",
        title="Ny titel",
        description="d",
        problem="p",
        revised_at=world.clock.now(),
    )
    # The same event three times (redelivery with one id): applied once.
    for _ in range(3):
        await world.publish((revised, idea), event_id=f"rev-{idea}")
    await world.publish(
        (
            idea_ev.IdeaRedacted(idea_id=idea, person_id="giver", redacted_at=world.clock.now()),
            idea,
        )
    )

    async def erased() -> bool:
        rows = await world.sql("SELECT idea_giver_id, title, administration_id FROM ideas")
        return rows[0][0] is None

    from ideabank_infra.testing import eventually

    await eventually(erased, timeout=20)
    rows = await world.sql("SELECT title, administration_id FROM ideas")
    assert rows == [("Ny titel", "adm2")]
    queue = (await world.client.get("/v1/screening-queue", headers=world.auth("amb2"))).json()
    assert [i["idea_id"] for i in queue] == [idea]
    assert date.fromisoformat(queue[0]["in_screening_since"][:10]) < world.clock.today()
