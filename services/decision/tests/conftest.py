"""Fixtures: a real decision app per test, on SQLite and PostgreSQL, against real NATS.

The other services are not running: a test plays them by publishing their events
(tenancy, idea.submitted, screening.completed, decision_basis.submitted) to JetStream.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from ideabank_contracts import CloudEvent, EventData, new_event
from ideabank_contracts.events import (
    DecisionBasisSubmitted,
    IdeaAssigned,
    IdeaSubmitted,
    NetworkJoined,
    NetworkLeft,
    OrgUnitDefined,
    PersonRegistered,
    ScreeningCompleted,
)
from ideabank_contracts.events.idea import Channel
from ideabank_contracts.events.screening import ScreeningOutcome
from ideabank_contracts.events.tenancy import OrgUnitKind, Role, TenantRegistered
from ideabank_decision.bootstrap import create_app
from ideabank_decision.settings import DecisionSettings
from ideabank_infra.auth import LocalIssuer
from ideabank_infra.clock import FixedClock
from ideabank_infra.tables import audit_log, outbox
from ideabank_infra.testing import bearer, eventually, serve
from sqlalchemy import select

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

#: (id suffix, kind, parent suffix)
ORG = (
    ("vof", "administration", None),
    ("hemtjanst", "department", "vof"),
    ("norr", "unit", "hemtjanst"),
    ("syd", "unit", "hemtjanst"),
    ("sabo", "department", "vof"),
    ("ekbacken", "unit", "sabo"),
    ("utb", "administration", None),
)
#: (person suffix, org unit suffix, roles)
PEOPLE = (
    ("giver", "norr", ["employee"]),
    ("impl", "norr", ["employee", "implementer"]),
    ("unitmgr", "norr", ["employee", "unit_manager"]),
    ("deptmgr", "hemtjanst", ["employee", "department_manager"]),
    ("othermgr", "ekbacken", ["employee", "unit_manager"]),
    ("mgmt", "vof", ["employee", "management"]),
    ("utbmgmt", "utb", ["employee", "management"]),
    ("ig", "vof", ["employee", "innovation_group", "ambassador"]),
)


def unique_tenant() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@dataclass
class World:
    """One running decision service, the clock it reads and helpers to play the others."""

    app: FastAPI
    client: httpx.AsyncClient
    issuer: LocalIssuer
    clock: FixedClock
    tenants: list[str]
    network: str
    ideas_made: list[str] = field(default_factory=list)

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    def u(self, tenant: str, suffix: str) -> str:
        """The id of an org unit or person of ``tenant``."""
        return f"{tenant}-{suffix}"

    def as_(self, tenant: str, who: str) -> dict[str, str]:
        """Bearer header of a seeded person."""
        unit, roles = next((u, r) for p, u, r in PEOPLE if p == who)
        return bearer(
            self.issuer.mint(
                tenant=tenant,
                roles=roles,
                person=self.u(tenant, who),
                org_unit=self.u(tenant, unit),
            )
        )

    async def publish(self, tenant: str, subject: str, *data: EventData) -> list[CloudEvent]:
        js = self.runtime.js
        events = []
        for d in data:
            ev = new_event(d, tenant=tenant, subject=subject, source="/test")
            await js.publish(ev.nats_subject, ev.to_json(), headers={"Nats-Msg-Id": ev.id})
            events.append(ev)
        return events

    async def seed(self, tenant: str, *, network: bool = True) -> None:
        """The organisation of ``tenant`` as intake would announce it."""
        units = [
            OrgUnitDefined(
                org_unit_id=self.u(tenant, uid),
                parent_id=self.u(tenant, parent) if parent else None,
                kind=OrgUnitKind(kind),
                name=uid.title(),
                administration_id=self.u(tenant, "utb" if uid == "utb" else "vof"),
            )
            for uid, kind, parent in ORG
        ]
        people = [
            PersonRegistered(
                person_id=self.u(tenant, pid),
                name=f"Person {pid}",
                email=f"{pid}@{tenant}.example",
                language="sv",
                org_unit_id=self.u(tenant, unit),
                roles=tuple(Role(r) for r in roles),
            )
            for pid, unit, roles in PEOPLE
        ]
        registered = TenantRegistered(
            tenant=tenant,
            name=f"Kommun {tenant}",
            country="SE",
            default_language="sv",
            currency="SEK",
        )
        await self.publish(tenant, tenant, registered, *units, *people)
        if network:
            await self.join(tenant)
        last = self.u(tenant, PEOPLE[-1][0])
        await eventually(lambda: self._has_person(tenant, last), timeout=15)

    async def join(self, tenant: str) -> None:
        await self.publish(tenant, tenant, NetworkJoined(network=self.network, tenant=tenant))

    async def leave(self, tenant: str) -> None:
        await self.publish(tenant, tenant, NetworkLeft(network=self.network, tenant=tenant))

    async def _has_person(self, tenant: str, person_id: str) -> bool:
        from ideabank_decision.store import people

        async with self.runtime.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(people.c.id).where(people.c.tenant == tenant, people.c.id == person_id)
                )
            ).first()
        return row is not None

    async def submitted(self, tenant: str, title: str = "Digital nyckelhantering") -> str:
        idea_id = str(uuid.uuid4())
        await self.publish(
            tenant,
            idea_id,
            IdeaSubmitted(
                idea_id=idea_id,
                actor_id=self.u(tenant, "giver"),
                org_unit_id=self.u(tenant, "norr"),
                administration_id=self.u(tenant, "vof"),
                category="Arbetsmiljö",
                channel=Channel.STAFF_PORTAL,
                title=title,
                description="Nycklar till brukarnas hem hanteras digitalt.",
                problem="Nycklar kommer bort.",
                submitted_at=self.clock.now(),
            ),
            IdeaAssigned(
                idea_id=idea_id,
                ambassador_id=self.u(tenant, "ig"),
                administration_id=self.u(tenant, "vof"),
                assigned_at=self.clock.now(),
            ),
        )
        return idea_id

    async def quick_win(self, tenant: str, routed_to: str = "norr") -> str:
        """A screened quick win in the routed manager's queue."""
        idea_id = await self.submitted(tenant)
        await self.publish(
            tenant,
            idea_id,
            ScreeningCompleted(
                idea_id=idea_id,
                screening_id=str(uuid.uuid4()),
                actor_id=self.u(tenant, "ig"),
                administration_id=self.u(tenant, "vof"),
                outcome=ScreeningOutcome.QUICK_WIN,
                template_version=1,
                routed_to_org_unit_id=self.u(tenant, routed_to),
                completed_at=self.clock.now(),
            ),
        )
        await self.in_queue(tenant, idea_id, "unitmgr" if routed_to == "norr" else "deptmgr")
        return idea_id

    async def awaiting(self, tenant: str) -> str:
        """A developed idea with its decision basis in the management group's queue."""
        idea_id = await self.submitted(tenant, title="Gemensam bilpool")
        await self.publish(
            tenant,
            idea_id,
            ScreeningCompleted(
                idea_id=idea_id,
                screening_id=str(uuid.uuid4()),
                actor_id=self.u(tenant, "ig"),
                administration_id=self.u(tenant, "vof"),
                outcome=ScreeningOutcome.IN_DEVELOPMENT,
                template_version=1,
                completed_at=self.clock.now(),
            ),
            DecisionBasisSubmitted(
                idea_id=idea_id,
                decision_basis_id=str(uuid.uuid4()),
                actor_id=self.u(tenant, "ig"),
                org_unit_id=self.u(tenant, "norr"),
                administration_id=self.u(tenant, "vof"),
                description="En bilpool för hemtjänsten.",
                expected_effects_short_term="Färre taxiresor.",
                expected_effects_long_term="Lägre kostnader.",
                proposed_implementer_id=self.u(tenant, "impl"),
                submitted_at=self.clock.now(),
            ),
        )
        await self.in_queue(tenant, idea_id, "mgmt")
        return idea_id

    async def in_queue(self, tenant: str, idea_id: str, who: str) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            r = await self.client.get("/v1/decision-queue", headers=self.as_(tenant, who))
            assert r.status_code == 200, r.text
            return next((i for i in r.json() if i["idea_id"] == idea_id), None)

        found: dict[str, Any] = await eventually(check, timeout=15)
        return found

    async def approved(self, tenant: str) -> str:
        """A quick win approved with the seeded implementer."""
        idea_id = await self.quick_win(tenant)
        r = await self.client.post(
            f"/v1/ideas/{idea_id}/decision",
            json={
                "outcome": "approved",
                "kind": "direct",
                "implementer_id": self.u(tenant, "impl"),
            },
            headers=self.as_(tenant, "unitmgr"),
        )
        assert r.status_code == 201, r.text
        return idea_id

    async def evaluated(self, tenant: str) -> str:
        """An idea walked through plan, implementation and evaluation."""
        idea_id = await self.approved(tenant)
        impl = self.as_(tenant, "impl")
        steps: list[tuple[str, dict[str, Any]]] = [
            (
                "plan",
                {
                    "milestones": [{"title": "Start", "due": "2026-04-01"}],
                    "made_with_idea_giver": True,
                },
            ),
            ("implemented", {}),
            (
                "evaluation",
                {
                    "lessons_learned": "Börja smått.",
                    "realised_benefit": {"amount": "120000", "currency": "SEK"},
                    "hours": "300",
                },
            ),
        ]
        for step, body in steps:
            r = await self.client.post(f"/v1/ideas/{idea_id}/{step}", json=body, headers=impl)
            assert r.status_code in (200, 201), r.text
        return idea_id

    async def events(self, idea_id: str) -> list[CloudEvent]:
        """What the service enqueued about ``idea_id``, oldest first."""
        async with self.runtime.db.engine.connect() as conn:
            rows = await conn.execute(select(outbox.c.payload).order_by(outbox.c.seq))
            out = [CloudEvent.from_json(r.payload) for r in rows]
        return [e for e in out if e.subject == idea_id]

    async def audit(self, idea_id: str) -> list[str]:
        async with self.runtime.db.engine.connect() as conn:
            rows = await conn.execute(
                select(audit_log.c.action)
                .where(audit_log.c.subject == idea_id)
                .order_by(audit_log.c.seq)
            )
            return [r.action for r in rows]


def settings_for(
    db_url: str, nats_url: str, issuer: LocalIssuer, tmp: Path, tenants: list[str]
) -> DecisionSettings:
    return DecisionSettings(
        database_url=db_url,
        nats_url=nats_url,
        jwks_url=issuer.jwks_url,
        data_dir=tmp,
        consumer_suffix=f"-{tenants[0]}",
        consumer_tenants=tenants,
        log_json=False,
        revisit_poll_seconds=0.1,
        redelivery_delay_seconds=0.2,
        # A message caught in a timed-out partial fetch waits ack_wait before redelivery.
        ack_wait_seconds=3.0,
    )


@pytest.fixture
async def world(
    db_url: str, nats_url: str, issuer: LocalIssuer, tmp_path: Path
) -> AsyncIterator[World]:
    """A running decision service for three fresh tenants; the first two share a network."""
    tenants = [unique_tenant() for _ in range(3)]
    clock = FixedClock(START)
    app = create_app(settings_for(db_url, nats_url, issuer, tmp_path, tenants), clock=clock)
    async with serve(app) as client:
        yield World(app, client, issuer, clock, tenants, network=f"net-{tenants[0]}")


@pytest.fixture
def make_settings() -> Any:
    """Settings for another replica of the service (same database, same consumers)."""
    return settings_for
