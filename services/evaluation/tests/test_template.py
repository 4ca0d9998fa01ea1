"""The screening template: the SPEC default, validated new versions, versions on screenings."""

from __future__ import annotations

SCORES = [
    {"criterion_key": "mission", "score": 4},
    {"criterion_key": "reach", "score": 3},
    {"criterion_key": "public_benefit", "score": 5},
    {"criterion_key": "effect_vs_resources", "score": 2},
]
V2 = {
    "criteria": [
        {"key": "mission", "label": "inom förvaltningens uppdrag", "weight": "2"},
        {"key": "reach", "label": "påverkar fler än en enskild medarbetare", "scale_max": 3},
        {"key": "climate", "label": "minskar klimatpåverkan", "scale_max": 10, "weight": "0.5"},
    ]
}


async def test_default_template_then_new_versions_recorded_on_screenings(world) -> None:
    default = await world.client.get("/v1/screening-template", headers=world.auth("giver"))
    assert default.status_code == 200
    body = default.json()
    assert body["version"] == 1
    assert [c["key"] for c in body["criteria"]] == [
        "mission",
        "reach",
        "public_benefit",
        "effect_vs_resources",
    ]
    assert body["criteria"][2]["label"] == "bidrar till samhällsnytta och/eller effektivisering"
    assert {c["scale_max"] for c in body["criteria"]} == {5}

    first, second = await world.submit_many(2)
    resp = await world.screen(first)
    assert resp.status_code == 201 and resp.json()["template_version"] == 1

    # only the tenant admin publishes a version
    denied = await world.client.put("/v1/screening-template", json=V2, headers=world.auth("amb"))
    assert denied.status_code == 403
    resp = await world.client.put("/v1/screening-template", json=V2, headers=world.auth("admin"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["version"] == 2
    current = (await world.client.get("/v1/screening-template", headers=world.auth("amb"))).json()
    assert current["version"] == 2 and current["created_by"] == "admin"

    # the old criteria no longer fit
    resp = await world.screen(second)
    assert resp.status_code == 422 and resp.json()["field"] == "scores[2].criterion_key"
    v2_scores = [
        {"criterion_key": "mission", "score": 5},
        {"criterion_key": "reach", "score": 3},
        {"criterion_key": "climate", "score": 4},
    ]
    resp = await world.screen(second, scores=[*v2_scores[:1], {**v2_scores[1], "score": 4}])
    assert resp.status_code == 422 and resp.json()["field"] == "scores[1].score"
    resp = await world.screen(second, scores=v2_scores)
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["template_version"] == 2
    assert float(out["weighted_total"]) == 15.0  # 2·5 + 1·3 + 0.5·4
    assert float(out["weighted_max"]) == 18.0

    events = await world.stream("screening.completed", at_least=2)
    versions = {e.data["idea_id"]: e.data["template_version"] for e in events}
    assert versions == {first: 1, second: 2}
    climate = next(
        s for e in events for s in e.data["criterion_scores"] if s["criterion_key"] == "climate"
    )
    assert climate["scale_max"] == 10 and climate["weight"] == "0.5"

    # versions are immutable: version 1 still reads as it was
    v1 = await world.client.get("/v1/screening-template?version=1", headers=world.auth("amb"))
    assert v1.json()["criteria"][3]["key"] == "effect_vs_resources"
    missing = await world.client.get("/v1/screening-template?version=9", headers=world.auth("amb"))
    assert missing.status_code == 404
    rows = await world.sql("SELECT template_version FROM screenings ORDER BY template_version")
    assert [r[0] for r in rows] == [1, 2]
    audit = await world.sql(
        "SELECT actor_id FROM audit_log WHERE action = 'screening_template.versioned'"
    )
    assert audit == [("admin",)]


async def test_invalid_templates_name_the_field(world) -> None:
    admin = world.auth("admin")
    good = {"key": "a", "label": "A"}
    cases = [
        ({"criteria": []}, "criteria"),
        ({"criteria": [good, {"key": "a", "label": "B"}]}, "criteria[1].key"),
        ({"criteria": [{**good, "weight": "0"}]}, "criteria[0].weight"),
        ({"criteria": [good, {**good, "key": "b", "weight": "-1"}]}, "criteria[1].weight"),
        ({"criteria": [{**good, "scale_max": 11}]}, "criteria[0].scale_max"),
        ({"criteria": [{**good, "scale_max": 1}]}, "criteria[0].scale_max"),
        ({"criteria": [{**good, "key": "Not A Slug"}]}, "criteria[0].key"),
        ({"criteria": [{**good, "label": ""}]}, "criteria.0.label"),
        ({"criteria": [{**good, "weight": "lots"}]}, "criteria.0.weight"),
    ]
    for body, field in cases:
        resp = await world.client.put("/v1/screening-template", json=body, headers=admin)
        assert resp.status_code == 422, (field, resp.text)
        assert resp.json()["field"] == field
    assert await world.sql("SELECT version FROM screening_templates") == []
    current = (await world.client.get("/v1/screening-template", headers=admin)).json()
    assert current["version"] == 1
