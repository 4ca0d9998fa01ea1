"""Network comparison (suppression, membership) and tenant isolation of idea-level data."""

from __future__ import annotations

from ideabank_contracts.events import NetworkLeft


async def test_comparison_suppresses_small_cells_and_follows_membership(
    reporting, tenants, org, history, builders
) -> None:
    t, peer, outsider, nw = tenants.main, tenants.peer, tenants.outsider, tenants.network
    adopted = builders["adopted"](peer, "n1", "2025-06-01", t, "i1", nw)
    await reporting.publish(
        org(t, "Testkommun", network=nw)
        + org(peer, "Grannkommun", network=nw)
        + org(outsider, "Utanför")
        + history(t)
        + [adopted]
    )
    r = await reporting.get(f"/v1/networks/{nw}/comparison", t, "network_coordinator", year=2025)
    assert r.status_code == 200, r.text
    body = r.json()
    members = {m["tenant"]: m for m in body["members"]}
    assert set(members) == {t, peer}
    main = members[t]["figures"]
    assert members[t]["headcount"] == 150 and members[t]["name"] == "Testkommun"
    # Six ideas: shown, per employee. Two implemented: suppressed. Five responded: shown.
    assert main["ideas_per_employee"] == {"value": 0.04, "suppressed": False}
    assert main["share_screened"] == {"value": 0.8333, "suppressed": False}
    assert main["median_days_to_first_feedback"] == {"value": 5.0, "suppressed": False}
    assert main["implemented_per_employee"] == {"value": None, "suppressed": True}
    assert main["implementation_rate"] == {"value": 0.3333, "suppressed": False}
    assert main["adoptions_given"] == {"value": None, "suppressed": True}
    # The peer has one idea (the adoption): every idea-based cell is suppressed.
    assert all(
        cell["suppressed"] and cell["value"] is None for cell in members[peer]["figures"].values()
    )
    # No idea-level data in a comparison.
    assert "i1" not in r.text and "title" not in r.text

    # Adoption counted on both sides in the tenants' own KPIs.
    k = (await reporting.get("/v1/kpis", t, year=2025)).json()
    assert k["adoptions"] == {"given": 1, "taken": 0}
    kp = (await reporting.get("/v1/kpis", peer, year=2025)).json()
    assert kp["adoptions"] == {"given": 0, "taken": 1} and kp["submitted"] == 1
    assert kp["by_channel"] == [
        {"channel": "network", "submitted": 1, "screened": 0, "implemented": 0, "evaluated": 0}
    ]

    # Not a member → 404, whatever the role; a plain employee may not compare at all.
    r = await reporting.get(f"/v1/networks/{nw}/comparison", outsider, "management", year=2025)
    assert r.status_code == 404
    r = await reporting.get(f"/v1/networks/{nw}/comparison", t, "employee", year=2025)
    assert r.status_code == 403

    # The peer leaves: it no longer sees the network, and no longer appears in it.
    left = builders["event"](peer, NetworkLeft(network=nw, tenant=peer), nw)
    await reporting.publish([left])
    r = await reporting.get(f"/v1/networks/{nw}/comparison", peer, "tenant_admin", year=2025)
    assert r.status_code == 404
    r = await reporting.get(f"/v1/networks/{nw}/comparison", t, "management", year=2025)
    assert [m["tenant"] for m in r.json()["members"]] == [t]


async def test_timeline_is_ordered_and_never_crosses_tenants(
    reporting, tenants, org, history
) -> None:
    t, other = tenants.main, tenants.peer
    await reporting.publish(org(t, "Testkommun") + org(other, "Annan") + history(t))
    r = await reporting.get("/v1/ideas/i1/timeline", t, "employee")
    assert r.status_code == 200, r.text
    tl = r.json()
    assert tl["status"] == "evaluated"
    assert [(e["type"], e["status"]) for e in tl["events"]] == [
        ("idea.submitted", "submitted"),
        ("idea.assigned", "in_screening"),
        ("screening.completed", "in_development"),
        ("decision_basis.submitted", "awaiting_decision"),
        ("decision.made", "approved"),
        ("plan.anchored", "in_implementation"),
        ("idea.implemented", "implemented"),
        ("idea.evaluated", "evaluated"),
    ]
    assert [e["position"] for e in tl["events"]] == list(range(1, 9))
    assert tl["events"][0]["actor_id"] == f"{t}-p1"
    assert tl["events"][2]["motivation"] == "Bra idé, vi utvecklar den"
    assert tl["events"][2]["actor_id"] == f"{t}-amb"
    # The anonymous idea giver of i2 is never shown, not even by id.
    i2 = (await reporting.get("/v1/ideas/i2/timeline", t)).json()
    assert i2["events"][0]["actor_id"] is None
    assert i2["events"][-1]["motivation"] == "Utanför uppdraget"

    # Another tenant: 404 for the idea, and KPIs of its own (empty) tenant only.
    r = await reporting.get("/v1/ideas/i1/timeline", other, "tenant_admin")
    assert r.status_code == 404
    assert (await reporting.get("/v1/ideas/nope/timeline", t)).status_code == 404
    k = (await reporting.get("/v1/kpis", other, "tenant_admin", year=2025)).json()
    assert k["submitted"] == 0 and k["by_month"] == []
    r = await reporting.get("/v1/kpis", other, year=2025, org_unit=f"{t}-a")
    assert r.status_code == 422 and r.json()["field"] == "org_unit"
    r = await reporting.get(
        "/v1/board-report", other, "innovation_group", **{"from": "2025-01-01", "to": "2025-12-31"}
    )
    assert r.status_code == 200 and "Idea i1" not in r.text
