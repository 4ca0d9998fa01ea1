"""Fixtures: a real reporting app per test (SQLite and PostgreSQL, real NATS) and a known
event history whose figures are computed by hand in the tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from ideabank_contracts import CloudEvent, EventData, new_event
from ideabank_contracts.events import (
    DecisionBasisSubmitted,
    DecisionMade,
    HeadcountSet,
    IdeaAdopted,
    IdeaAssigned,
    IdeaEvaluated,
    IdeaImplemented,
    IdeaSubmitted,
    IdeaWithdrawn,
    NetworkJoined,
    OrgUnitDefined,
    PlanAnchored,
    ScreeningCompleted,
    TargetSet,
    TenantRegistered,
)
from ideabank_infra.auth import LocalIssuer
from ideabank_infra.tables import inbox
from ideabank_infra.testing import bearer, eventually, serve
from ideabank_reporting.bootstrap import create_app
from ideabank_reporting.settings import ReportingSettings
from sqlalchemy import func, select


@dataclass
class Tenants:
    """Three tenants of this test alone: the main one, a network peer and an outsider."""

    main: str
    peer: str
    outsider: str
    network: str

    @property
    def all(self) -> list[str]:
        return [self.main, self.peer, self.outsider]


@pytest.fixture
def tenants() -> Tenants:
    def slug() -> str:
        return f"t{uuid.uuid4().hex[:10]}"

    return Tenants(slug(), slug(), slug(), f"nw{uuid.uuid4().hex[:8]}")


@dataclass
class Reporting:
    """A running reporting service and what a test needs to feed and ask it."""

    app: FastAPI
    client: httpx.AsyncClient
    issuer: LocalIssuer
    nats_url: str
    db_url: str
    published: int = 0

    async def publish(self, events: list[CloudEvent]) -> None:
        """Publish to JetStream and wait until the consumer has handled every event."""
        nc = await nats.connect(self.nats_url)
        js = nc.jetstream()
        for ev in events:
            await js.publish(ev.nats_subject, ev.to_json(), headers={"Nats-Msg-Id": ev.id})
        await nc.close()
        self.published += len(events)
        await eventually(self._handled, timeout=20)

    async def _handled(self) -> bool:
        runtime = self.app.state.runtime
        async with runtime.db.engine.connect() as conn:
            n = (await conn.execute(select(func.count()).select_from(inbox))).scalar_one()
        return int(n) >= self.published

    def headers(self, tenant: str, *roles: str) -> dict[str, str]:
        return bearer(self.issuer.mint(tenant=tenant, roles=list(roles or ["employee"])))

    async def get(self, path: str, tenant: str, *roles: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.headers(tenant, *roles))


@pytest.fixture
async def reporting(
    db_url: str, nats_url: str, issuer: LocalIssuer, tenants: Tenants, tmp_path
) -> AsyncIterator[Reporting]:
    settings = ReportingSettings(
        database_url=db_url,
        nats_url=nats_url,
        jwks_url=issuer.jwks_url,
        data_dir=tmp_path,
        consumer_suffix=f"-{tenants.main}",
        consumer_tenants=tenants.all,
        log_json=False,
    )
    app = create_app(settings)
    async with serve(app) as client:
        yield Reporting(app, client, issuer, nats_url, db_url)


def at(day: str) -> datetime:
    """Midnight UTC of an ISO date."""
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def event(tenant: str, data: EventData, subject: str | None = None) -> CloudEvent:
    idea = getattr(data, "idea_id", None)
    return new_event(data, tenant=tenant, subject=subject or idea or tenant, source="/test")


def organisation(t: str, name: str, *, network: str | None = None) -> list[CloudEvent]:
    """Admin A (dept D, unit U) and admin B (unit B1); headcount A=100, D=40, B1=50 in 2025;
    targets 0.5 for the tenant and 1.0 for B."""
    units = [
        OrgUnitDefined(
            org_unit_id=f"{t}-a",
            kind="administration",
            name="Vård och omsorg",
            administration_id=f"{t}-a",
        ),
        OrgUnitDefined(
            org_unit_id=f"{t}-d",
            parent_id=f"{t}-a",
            kind="department",
            name="Hemtjänst",
            administration_id=f"{t}-a",
        ),
        OrgUnitDefined(
            org_unit_id=f"{t}-u",
            parent_id=f"{t}-d",
            kind="unit",
            name="Hemtjänst norr",
            administration_id=f"{t}-a",
        ),
        OrgUnitDefined(
            org_unit_id=f"{t}-b", kind="administration", name="Kultur", administration_id=f"{t}-b"
        ),
        OrgUnitDefined(
            org_unit_id=f"{t}-b1",
            parent_id=f"{t}-b",
            kind="unit",
            name="Bibliotek",
            administration_id=f"{t}-b",
        ),
    ]
    out = [
        event(
            t,
            TenantRegistered(
                tenant=t, name=name, country="SE", default_language="sv", currency="SEK"
            ),
        )
    ]
    out += [event(t, u, u.org_unit_id) for u in units]
    out += [
        event(t, HeadcountSet(org_unit_id=f"{t}-a", year=2025, headcount=100)),
        event(t, HeadcountSet(org_unit_id=f"{t}-d", year=2025, headcount=40)),
        event(t, HeadcountSet(org_unit_id=f"{t}-b1", year=2025, headcount=50)),
        event(t, TargetSet(year=2025, ideas_per_employee=Decimal("0.5"))),
        event(
            t, TargetSet(year=2025, ideas_per_employee=Decimal("1.0"), administration_id=f"{t}-b")
        ),
    ]
    if network:
        out.append(event(t, NetworkJoined(network=network, tenant=t), network))
    return out


def submitted(
    t: str, idea: str, day: str, unit: str, admin: str, channel: str, category: str, **extra: Any
) -> CloudEvent:
    return event(
        t,
        IdeaSubmitted(
            idea_id=idea,
            actor_id=extra.pop("actor_id", f"{t}-p1"),
            org_unit_id=unit,
            administration_id=admin,
            category=category,
            channel=channel,
            title=f"Idea {idea}",
            description="d",
            problem="p",
            submitted_at=at(day),
            **extra,
        ),
    )


def assigned(t: str, idea: str, day: str, admin: str) -> CloudEvent:
    return event(
        t,
        IdeaAssigned(
            idea_id=idea, ambassador_id=f"{t}-amb", administration_id=admin, assigned_at=at(day)
        ),
    )


def screened(
    t: str,
    idea: str,
    day: str,
    admin: str,
    outcome: str,
    motivation: str | None = None,
    **extra: Any,
) -> CloudEvent:
    return event(
        t,
        ScreeningCompleted(
            idea_id=idea,
            screening_id=f"s-{idea}",
            actor_id=f"{t}-amb",
            administration_id=admin,
            outcome=outcome,
            motivation=motivation,
            template_version=1,
            completed_at=at(day),
            **extra,
        ),
    )


def basis(t: str, idea: str, day: str, unit: str, admin: str) -> CloudEvent:
    return event(
        t,
        DecisionBasisSubmitted(
            idea_id=idea,
            decision_basis_id=f"b-{idea}",
            actor_id=f"{t}-ig",
            org_unit_id=unit,
            administration_id=admin,
            description="x",
            expected_effects_short_term="s",
            expected_effects_long_term="l",
            submitted_at=at(day),
        ),
    )


def decided(
    t: str, idea: str, day: str, unit: str, admin: str, outcome: str, **extra: Any
) -> CloudEvent:
    if outcome == "approved":
        extra.setdefault("kind", "direct")
        extra.setdefault("implementer_id", f"{t}-impl")
    return event(
        t,
        DecisionMade(
            idea_id=idea,
            decision_id=f"d-{idea}",
            actor_id=f"{t}-mgmt",
            decided_by="management",
            org_unit_id=unit,
            administration_id=admin,
            outcome=outcome,
            decided_at=at(day),
            **extra,
        ),
    )


def anchored(t: str, idea: str, day: str) -> CloudEvent:
    return event(
        t,
        PlanAnchored(
            idea_id=idea,
            plan_id=f"p-{idea}",
            actor_id=f"{t}-impl",
            milestones=(),
            start_date=at(day).date(),
            anchored_at=at(day),
        ),
    )


def implemented(t: str, idea: str, day: str, unit: str, admin: str) -> CloudEvent:
    return event(
        t,
        IdeaImplemented(
            idea_id=idea,
            actor_id=f"{t}-impl",
            org_unit_id=unit,
            administration_id=admin,
            implemented_at=at(day),
        ),
    )


def evaluated(
    t: str,
    idea: str,
    day: str,
    unit: str,
    admin: str,
    money: str | None,
    hours: str | None,
    lessons: str,
) -> CloudEvent:
    return event(
        t,
        IdeaEvaluated(
            idea_id=idea,
            actor_id=f"{t}-ig",
            org_unit_id=unit,
            administration_id=admin,
            realised_benefit={"amount": money, "currency": "SEK"} if money else None,
            realised_hours=Decimal(hours) if hours else None,
            lessons_learned=lessons,
            benefit_description="Nöjdare brukare",
            evaluated_at=at(day),
        ),
    )


def withdrawn(t: str, idea: str, day: str) -> CloudEvent:
    return event(
        t,
        IdeaWithdrawn(
            idea_id=idea, actor_id=f"{t}-p1", previous_status="submitted", withdrawn_at=at(day)
        ),
    )


def adopted(
    t: str, idea: str, day: str, origin_tenant: str, origin_idea: str, network: str
) -> CloudEvent:
    return event(
        t,
        IdeaAdopted(
            idea_id=idea,
            actor_id=f"{t}-mgmt",
            adopting_tenant=t,
            origin_tenant=origin_tenant,
            origin_idea_id=origin_idea,
            network=network,
            org_unit_id=f"{t}-u",
            administration_id=f"{t}-a",
            adopted_at=at(day),
        ),
    )


def known_history(t: str) -> list[CloudEvent]:
    """Six ideas of 2025 and one of 2024 in tenant ``t``; the figures are in test_kpis.py."""
    a, u, b, b1 = f"{t}-a", f"{t}-u", f"{t}-b", f"{t}-b1"
    return [
        # i1: developed, approved, implemented and evaluated.
        submitted(t, "i1", "2025-01-10", u, a, "staff_portal", "Arbetsmiljö"),
        assigned(t, "i1", "2025-01-11", a),
        screened(t, "i1", "2025-01-13", a, "in_development", "Bra idé, vi utvecklar den"),
        basis(t, "i1", "2025-01-20", u, a),
        decided(t, "i1", "2025-01-25", u, a, "approved"),
        anchored(t, "i1", "2025-02-01"),
        implemented(t, "i1", "2025-03-01", u, a),
        evaluated(t, "i1", "2025-04-01", u, a, "10000.50", "120", "Förankra tidigt"),
        # i2: rejected with a motivation; the idea giver is anonymous.
        submitted(
            t,
            "i2",
            "2025-01-15",
            u,
            a,
            "staff_portal",
            "Arbetsmiljö",
            anonymous=True,
            actor_id=f"{t}-p2",
        ),
        assigned(t, "i2", "2025-01-15", a),
        screened(t, "i2", "2025-01-20", a, "rejected", "Utanför uppdraget"),
        # i3: quick win decided by the manager without a motivation, implemented.
        submitted(t, "i3", "2025-02-01", f"{t}-a", a, "public_channel", "Miljö"),
        assigned(t, "i3", "2025-02-02", a),
        screened(t, "i3", "2025-02-08", a, "quick_win", routed_to_org_unit_id=u),
        decided(t, "i3", "2025-02-10", u, a, "approved"),
        anchored(t, "i3", "2025-02-12"),
        implemented(t, "i3", "2025-02-20", u, a),
        # i4: paused.
        submitted(t, "i4", "2025-03-01", b1, b, "staff_portal", "Miljö"),
        assigned(t, "i4", "2025-03-02", b),
        screened(
            t,
            "i4",
            "2025-03-03",
            b,
            "paused",
            "Vänta på budget",
            revisit_date=at("2025-09-01").date(),
        ),
        # i5: withdrawn before screening.
        submitted(t, "i5", "2025-03-05", b1, b, "deviation", "Miljö"),
        withdrawn(t, "i5", "2025-03-06"),
        # i6: developed, then deferred with a motivation.
        submitted(t, "i6", "2025-04-01", b1, b, "staff_portal", "Arbetsmiljö"),
        assigned(t, "i6", "2025-04-02", b),
        screened(t, "i6", "2025-04-11", b, "in_development"),
        basis(t, "i6", "2025-04-20", b1, b),
        decided(
            t,
            "i6",
            "2025-05-01",
            b1,
            b,
            "deferred",
            motivation="Nästa år",
            revisit_date=at("2026-01-15").date(),
        ),
        # i7: another year.
        submitted(t, "i7", "2024-06-01", u, a, "staff_portal", "Miljö"),
    ]


@pytest.fixture
def history() -> Callable[[str], list[CloudEvent]]:
    return known_history


@pytest.fixture
def org() -> Callable[..., list[CloudEvent]]:
    return organisation


@pytest.fixture
def builders() -> dict[str, Callable[..., CloudEvent]]:
    return {
        "submitted": submitted,
        "adopted": adopted,
        "screened": screened,
        "assigned": assigned,
        "event": event,
    }  # type: ignore[dict-item]
