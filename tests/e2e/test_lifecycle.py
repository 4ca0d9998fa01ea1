"""End to end: all five services on real NATS walk one idea through its whole life.

Two municipalities share a network. An employee of the first submits an idea (intake); its
ambassador screens and develops it (evaluation); the management group approves it and the
implementer plans, tries, implements, measures and evaluates it (decision); it is offered to
the network and the second municipality adopts it, which its own intake turns into a new
idea that remembers where it came from. Only HTTP is used to drive it; every status is read
back from intake and every event is read back from the stream, in order, each exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from ideabank_contracts import CloudEvent
from ideabank_decision.bootstrap import create_app as decision_app
from ideabank_decision.settings import DecisionSettings
from ideabank_evaluation.bootstrap import create_app as evaluation_app
from ideabank_evaluation.settings import EvaluationSettings
from ideabank_infra.auth import LocalIssuer
from ideabank_infra.testing import bearer, eventually, serve
from ideabank_intake.bootstrap import create_app as intake_app
from ideabank_intake.settings import IntakeSettings
from ideabank_notification.bootstrap import create_app as notification_app
from ideabank_notification.settings import NotificationSettings
from ideabank_reporting.bootstrap import create_app as reporting_app
from ideabank_reporting.settings import ReportingSettings
from nats.aio.client import Client as NATS

pytestmark = pytest.mark.slow

PEOPLE = (
    ("giver", "norr", ["employee"]),
    ("amb", "vof", ["employee", "ambassador", "innovation_group"]),
    ("mgmt", "vof", ["employee", "management"]),
    ("impl", "norr", ["employee", "implementer"]),
    ("admin", "vof", ["employee", "tenant_admin"]),
)


def tenancy(tenant: str, network: str) -> dict[str, Any]:
    u = lambda s: f"{tenant}-{s}"  # noqa: E731
    return {
        "tenant": {"name": f"Kommun {tenant}"},
        "org_units": [
            {"id": u("vof"), "kind": "administration", "name": "Vård- och omsorgsförvaltningen"},
            {
                "id": u("hemtjanst"),
                "kind": "department",
                "name": "Hemtjänst",
                "parent_id": u("vof"),
            },
            {
                "id": u("norr"),
                "kind": "unit",
                "name": "Hemtjänst Norr",
                "parent_id": u("hemtjanst"),
            },
        ],
        "headcounts": [{"org_unit_id": u("norr"), "year": date.today().year, "headcount": 40}],
        "people": [
            {
                "id": u(p),
                "name": f"Person {p}",
                "email": f"{p}@{tenant}.example",
                "org_unit_id": u(unit),
                "roles": roles,
            }
            for p, unit, roles in PEOPLE
        ],
        "ambassadors": [{"administration_id": u("vof"), "person_id": u("amb")}],
        "networks": [network],
    }


class Platform:
    """HTTP clients of the five running services and tokens for the seeded people."""

    def __init__(
        self, issuer: LocalIssuer, clients: dict[str, httpx.AsyncClient], nats_url: str
    ) -> None:
        self.issuer = issuer
        self.c = clients
        self.nats_url = nats_url

    def as_(self, tenant: str, who: str) -> dict[str, str]:
        unit, roles = next((u, r) for p, u, r in PEOPLE if p == who)
        return bearer(
            self.issuer.mint(
                tenant=tenant, roles=roles, person=f"{tenant}-{who}", org_unit=f"{tenant}-{unit}"
            )
        )

    async def status(self, tenant: str, idea_id: str, expected: str) -> dict[str, Any]:
        """Wait until intake shows the idea in ``expected`` status."""

        async def check() -> dict[str, Any] | None:
            r = await self.c["intake"].get(
                f"/v1/ideas/{idea_id}", headers=self.as_(tenant, "giver")
            )
            if r.status_code == 200 and r.json()["status"] == expected:
                return dict(r.json())
            return None

        found: dict[str, Any] = await eventually(check, timeout=20)
        return found


async def stream_events(nats_url: str, tenant: str) -> list[CloudEvent]:
    """Every event of ``tenant`` on the stream, in stream order."""
    nc = NATS()
    await nc.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(f"ideas.v1.{tenant}.>", stream="IDEAS")
        events: list[CloudEvent] = []
        while True:
            try:
                msgs = await sub.fetch(200, timeout=0.5)
            except TimeoutError:
                break
            for m in msgs:
                events.append(CloudEvent.from_json(m.data))
                await m.ack()
        await sub.unsubscribe()
        return events
    finally:
        await nc.close()


@pytest.fixture
async def platform(
    nats_url: str, issuer: LocalIssuer, tmp_path: Path
) -> AsyncIterator[tuple[Platform, str, str, str]]:
    a, b = (f"e{uuid.uuid4().hex[:9]}" for _ in range(2))
    network = f"net-{a}"
    common = {
        "nats_url": nats_url,
        "jwks_url": issuer.jwks_url,
        "consumer_suffix": f"-{a}",
        "consumer_tenants": [a, b],
        "log_json": False,
        "redelivery_delay_seconds": 0.2,
        # A message caught in a timed-out partial fetch waits ack_wait before redelivery.
        "ack_wait_seconds": 3.0,
    }
    builders = {
        "intake": (intake_app, IntakeSettings),
        "evaluation": (evaluation_app, EvaluationSettings),
        "decision": (decision_app, DecisionSettings),
        "notification": (notification_app, NotificationSettings),
        "reporting": (reporting_app, ReportingSettings),
    }
    async with AsyncExitStack() as stack:
        clients: dict[str, httpx.AsyncClient] = {}
        for name, (factory, settings_cls) in builders.items():
            folder = tmp_path / name
            folder.mkdir()
            settings = settings_cls(
                database_url=f"sqlite+aiosqlite:///{folder / 'db.sqlite'}",
                data_dir=folder,
                **common,
            )
            clients[name] = await stack.enter_async_context(serve(factory(settings)))
        yield Platform(issuer, clients, nats_url), a, b, network


async def test_one_idea_from_submission_to_adoption_by_another_municipality(
    platform: tuple[Platform, str, str, str],
) -> None:
    p, a, b, network = platform
    intake, evaluation, decision = p.c["intake"], p.c["evaluation"], p.c["decision"]
    today = date.today()

    # Organisation of both municipalities, both joining the network (intake publishes it).
    for tenant in (a, b):
        r = await intake.put(
            "/v1/admin/tenancy", json=tenancy(tenant, network), headers=p.as_(tenant, "admin")
        )
        assert r.status_code == 200, r.text

    # 1. Submission (intake) → assigned to the ambassador → in_screening.
    r = await intake.post(
        "/v1/ideas",
        json={
            "title": "Digital nyckelhantering i hemtjänsten",
            "description": "Brukarnas nycklar ersätts av digitala lås.",
            "problem": "Nycklar kommer bort och hämtas varje morgon.",
            "expected_benefit": "Tio minuter per besök.",
            "org_unit_id": f"{a}-norr",
            "category": "Arbetssätt",
        },
        headers=p.as_(a, "giver"),
    )
    assert r.status_code == 201, r.text
    idea = r.json()["idea"]["id"]
    assert r.json()["idea"]["status"] in ("submitted", "in_screening")
    seen = await p.status(a, idea, "in_screening")
    assert seen["ambassador_id"] == f"{a}-amb"

    # 2. Screening (evaluation): developed with the idea giver.
    scores = [
        {"criterion_key": k, "score": s}
        for k, s in (
            ("mission", 5),
            ("reach", 4),
            ("public_benefit", 4),
            ("effect_vs_resources", 3),
        )
    ]

    # The ambassador screens what their queue shows: evaluation learns of the assignment
    # from intake's events, a moment after intake reports in_screening.
    async def in_queue() -> dict[str, Any] | None:
        r = await evaluation.get("/v1/screening-queue", headers=p.as_(a, "amb"))
        assert r.status_code == 200, r.text
        return next((i for i in r.json() if i["idea_id"] == idea), None)

    await eventually(in_queue, timeout=20)
    r = await evaluation.post(
        f"/v1/ideas/{idea}/screening",
        json={
            "scores": scores,
            "outcome": "in_development",
            "motivation": "Lovande, vi utvecklar den.",
        },
        headers=p.as_(a, "amb"),
    )
    assert r.status_code == 201, r.text
    await p.status(a, idea, "in_development")

    # 3. Decision basis (evaluation) → awaiting_decision.
    r = await evaluation.post(
        f"/v1/ideas/{idea}/decision-basis",
        json={
            "description": "Digitala lås hos 120 brukare i hemtjänst norr.",
            "estimated_cost": {"amount": "240000", "currency": "SEK"},
            "estimated_effort_hours": "160",
            "effects_short_term": "Inga borttappade nycklar.",
            "effects_long_term": "Mer tid hos brukarna.",
            "proposed_implementer_id": f"{a}-impl",
        },
        headers=p.as_(a, "amb"),
    )
    assert r.status_code == 201, r.text
    await p.status(a, idea, "awaiting_decision")

    # 4. Decision (decision): the management group approves it as a project.
    async def queued() -> dict[str, Any] | None:
        r = await decision.get("/v1/decision-queue", headers=p.as_(a, "mgmt"))
        return next((i for i in r.json() if i["idea_id"] == idea), None)

    item = await eventually(queued, timeout=20)
    assert item["decision_basis"]["proposed_implementer_id"] == f"{a}-impl"
    r = await decision.post(
        f"/v1/ideas/{idea}/decision",
        json={
            "outcome": "approved",
            "kind": "project",
            "implementer_id": f"{a}-impl",
            "resources": "En projektledare 20 % i tre månader",
            "budget": {"amount": "240000", "currency": "SEK"},
        },
        headers=p.as_(a, "mgmt"),
    )
    assert r.status_code == 201, r.text
    await p.status(a, idea, "approved")

    # 5. Plan anchored with the idea giver → in_implementation.
    impl = p.as_(a, "impl")
    r = await decision.post(
        f"/v1/ideas/{idea}/plan",
        json={
            "milestones": [
                {"title": "Lås installerade", "due": str(today + timedelta(days=30))},
                {"title": "Utvärdering", "due": str(today + timedelta(days=90))},
            ],
            "made_with_idea_giver": True,
        },
        headers=impl,
    )
    assert r.status_code == 201, r.text
    await p.status(a, idea, "in_implementation")

    # 6. Two trial actions, about three weeks apart.
    for i, verdict in enumerate(("adapt", "adopt")):
        start = today - timedelta(days=60 - 21 * i)
        r = await decision.post(
            f"/v1/ideas/{idea}/trials",
            json={
                "hypothesis": f"Prov {i + 1}: digitala lås sparar tid per besök",
                "start": str(start),
                "end": str(start + timedelta(days=14)),
                "result": "Sparade åtta minuter" if i == 0 else "Sparade elva minuter",
                "verdict": verdict,
            },
            headers=impl,
        )
        assert r.status_code == 201 and r.json()["cycle"] == i + 1, r.text

    # 7. Implemented.
    r = await decision.post(
        f"/v1/ideas/{idea}/implemented", json={"summary": "Alla lås på plats"}, headers=impl
    )
    assert r.status_code == 200, r.text
    await p.status(a, idea, "implemented")

    # 8. An indicator with two measurements, the second off target with its corrective action.
    r = await decision.post(
        f"/v1/ideas/{idea}/indicators",
        json={
            "name": "Tid per besök",
            "unit": "minuter",
            "baseline": "45",
            "target": "35",
            "direction": "decrease",
            "cadence": "monthly",
            "tolerance_percent": "10",
        },
        headers=impl,
    )
    assert r.status_code == 201, r.text
    indicator = r.json()["indicator_id"]
    for value, action in (("36", None), ("42", "Repetera utbildningen i låsen")):
        body = {"indicator_id": indicator, "value": value, "measured_at": str(today)}
        if action:
            body["corrective_action"] = action
        r = await decision.post(f"/v1/ideas/{idea}/measurements", json=body, headers=impl)
        assert r.status_code == 201, r.text
        assert r.json()["off_target"] is bool(action)

    # 9. Evaluation → evaluated.
    r = await decision.post(
        f"/v1/ideas/{idea}/evaluation",
        json={
            "realised_benefit": {"amount": "310000", "currency": "SEK"},
            "hours": "950",
            "lessons_learned": "Prova i liten skala först.",
        },
        headers=impl,
    )
    assert r.status_code == 200, r.text
    await p.status(a, idea, "evaluated")

    # 10. Offered to the network → spread.
    r = await decision.post(f"/v1/ideas/{idea}/offer", headers=p.as_(a, "mgmt"))
    assert r.status_code == 200 and r.json()["networks"] == [network], r.text
    await p.status(a, idea, "spread")

    # 11. The second municipality sees the offer and adopts it.
    async def offered() -> dict[str, Any] | None:
        r = await decision.get("/v1/network/offers", headers=p.as_(b, "mgmt"))
        return next((o for o in r.json() if o["idea_id"] == idea), None)

    offer = await eventually(offered, timeout=20)
    assert offer["origin_tenant"] == a
    r = await decision.post(
        f"/v1/ideas/{idea}/adopt",
        json={"origin_tenant": a, "org_unit_id": f"{b}-norr"},
        headers=p.as_(b, "mgmt"),
    )
    assert r.status_code == 201, r.text
    adopted = r.json()["idea_id"]
    again = await decision.post(
        f"/v1/ideas/{idea}/adopt", json={"origin_tenant": a}, headers=p.as_(b, "mgmt")
    )
    assert again.status_code == 409

    # 12. The new idea exists in the second municipality's intake, with its lineage.
    new = await p.status(b, adopted, "in_screening")
    assert new["lineage"] == {"origin_tenant": a, "origin_idea_id": idea, "network": network}
    assert new["title"] == "Digital nyckelhantering i hemtjänsten"
    r = await intake.get(f"/v1/ideas/{adopted}", headers=p.as_(a, "giver"))
    assert r.status_code == 404  # the adopted idea belongs to the second tenant only

    async def counted() -> dict[str, Any] | None:
        r = await decision.get(f"/v1/ideas/{idea}/adoptions", headers=p.as_(a, "mgmt"))
        return r.json() if r.json()["count"] == 1 else None

    adoptions = await eventually(counted, timeout=20)
    assert (
        adoptions["adoptions"][0]["tenant"] == b and adoptions["adoptions"][0]["idea_id"] == adopted
    )

    # Every event on the stream, in order, each exactly once.
    expected_a = [
        "idea.submitted",
        "idea.assigned",
        "screening.completed",
        "decision_basis.submitted",
        "decision.made",
        "plan.anchored",
        "trial.recorded",
        "trial.recorded",
        "idea.implemented",
        "indicator.defined",
        "measurement.recorded",
        "measurement.recorded",
        "idea.evaluated",
        "idea.offered",
    ]
    expected_b = ["idea.adopted", "idea.submitted", "idea.assigned"]

    async def of_idea(tenant: str, idea_id: str, n: int) -> list[CloudEvent] | None:
        events = [e for e in await stream_events(p.nats_url, tenant) if e.subject == idea_id]
        return events if len(events) >= n else None

    events_a = await eventually(lambda: of_idea(a, idea, len(expected_a)), timeout=20)
    events_b = await eventually(lambda: of_idea(b, adopted, len(expected_b)), timeout=20)
    assert [f"{e.aggregate}.{e.event}" for e in events_a] == expected_a
    assert [f"{e.aggregate}.{e.event}" for e in events_b] == expected_b
    assert len({e.id for e in events_a + events_b}) == len(events_a) + len(events_b)
    assert all(e.tenant == a for e in events_a) and all(e.tenant == b for e in events_b)
    by_type = {f"{e.aggregate}.{e.event}": e.data for e in events_a}
    assert by_type["screening.completed"]["outcome"] == "in_development"
    assert by_type["decision.made"]["outcome"] == "approved"
    assert by_type["decision.made"]["implementer_id"] == f"{a}-impl"
    assert by_type["plan.anchored"]["anchored_with_ids"] == [f"{a}-giver"]
    assert [
        e.data["verdict"] for e in events_a if e.event == "recorded" and e.aggregate == "trial"
    ] == ["adapt", "adopt"]
    assert by_type["idea.evaluated"]["realised_benefit"] == {"amount": "310000", "currency": "SEK"}
    assert by_type["idea.offered"]["network"] == network
    lineage = events_b[0].data
    assert (lineage["origin_tenant"], lineage["origin_idea_id"], lineage["adopting_tenant"]) == (
        a,
        idea,
        b,
    )
    assert events_b[1].data["channel"] == "network"
