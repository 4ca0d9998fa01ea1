"""Tenancy administration: validated, tenant-scoped, announced by events, idempotent."""

from __future__ import annotations

import httpx
from ideabank_contracts import CloudEvent
from ideabank_infra.auth import LocalIssuer
from ideabank_infra.testing import bearer
from nats.aio.client import Client as NATS

DOC = {
    "tenant": {"name": "Testby kommun"},
    "org_units": [
        {"id": "adm", "kind": "administration", "name": "Vård- och omsorgsförvaltningen"},
        {"id": "dep", "kind": "department", "name": "Hemtjänst", "parent_id": "adm"},
        {"id": "unit", "kind": "unit", "name": "Hemtjänst Norr", "parent_id": "dep"},
    ],
    "headcounts": [{"org_unit_id": "unit", "year": 2026, "headcount": 40}],
    "targets": [{"year": 2026, "ideas_per_employee": "1.0"}],
    "people": [
        {
            "id": "p1",
            "name": "Anna Andersson",
            "email": "anna@testby.example",
            "org_unit_id": "adm",
            "roles": ["employee", "ambassador"],
        }
    ],
    "ambassadors": [{"administration_id": "adm", "person_id": "p1"}],
    "networks": ["testnet"],
}


async def fetch_events(nats_url: str, tenant: str) -> list[CloudEvent]:
    nc = NATS()
    await nc.connect(nats_url)
    js = nc.jetstream()
    sub = await js.pull_subscribe(f"ideas.v1.{tenant}.>", stream="IDEAS")
    events: list[CloudEvent] = []
    try:
        while True:
            msgs = await sub.fetch(100, timeout=0.5)
            events += [CloudEvent.from_json(m.data) for m in msgs]
    except TimeoutError:
        pass
    await nc.close()
    return events


async def test_tenancy_document_is_applied_once_and_announced(
    intake: httpx.AsyncClient, issuer: LocalIssuer, tenant: str, nats_url: str
) -> None:
    admin = bearer(issuer.mint(tenant=tenant, roles=["tenant_admin"], person="admin"))
    first = await intake.put("/v1/admin/tenancy", json=DOC, headers=admin)
    assert first.status_code == 200, first.text
    assert first.json()["changed"]["org_unit.defined"] == 3
    again = await intake.put("/v1/admin/tenancy", json=DOC, headers=admin)
    assert again.json()["changed"] == {}

    from ideabank_infra.testing import eventually

    events = await eventually(lambda: _at_least(fetch_events(nats_url, tenant), 9), timeout=10)
    types = sorted(e.type for e in events)
    assert "se.ideabank.person.registered.v1" in types
    assert "se.ideabank.network.joined.v1" in types
    assert all(e.tenant == tenant for e in events)
    units = await intake.get("/v1/org-units", headers=admin)
    assert {u["id"] for u in units.json()} == {"adm", "dep", "unit"}


async def _at_least(coro, n: int):  # type: ignore[no-untyped-def]
    events = await coro
    return events if len(events) >= n else None


async def test_bad_tenancy_input_names_the_field_and_writes_nothing(
    intake: httpx.AsyncClient, issuer: LocalIssuer, tenant: str
) -> None:
    admin = bearer(issuer.mint(tenant=tenant, roles=["tenant_admin"]))
    bad = {**DOC, "org_units": [*DOC["org_units"], {"id": "x", "kind": "unit", "name": "X"}]}
    resp = await intake.put("/v1/admin/tenancy", json=bad, headers=admin)
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["field"] == "org_units[3].parent_id"
    units = await intake.get("/v1/org-units", headers=admin)
    assert units.json() == []  # nothing half-written

    resp = await intake.put(
        "/v1/admin/tenancy", json={**DOC, "headcounts": [{"org_unit_id": "unit"}]}, headers=admin
    )
    assert resp.status_code == 422
    assert resp.json()["field"] == "headcounts.0.year"


async def test_only_tenant_admins_change_tenancy_and_tenants_are_separate(
    intake: httpx.AsyncClient, issuer: LocalIssuer, tenant: str
) -> None:
    employee = bearer(issuer.mint(tenant=tenant, roles=["employee"]))
    resp = await intake.put("/v1/admin/tenancy", json=DOC, headers=employee)
    assert resp.status_code == 403
    admin = bearer(issuer.mint(tenant=tenant, roles=["tenant_admin"]))
    assert (await intake.put("/v1/admin/tenancy", json=DOC, headers=admin)).status_code == 200
    other = bearer(issuer.mint(tenant=f"{tenant}x", roles=["tenant_admin"]))
    assert (await intake.get("/v1/org-units", headers=other)).json() == []
    assert (await intake.get("/v1/people/p1", headers=other)).status_code == 404
