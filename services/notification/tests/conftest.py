"""Fixtures: a real notification app per test, on SQLite and PostgreSQL, against real NATS,
fed by CloudEvents published to JetStream as the other services would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from ideabank_contracts import CloudEvent, new_event
from ideabank_contracts.envelope import EventData
from ideabank_contracts.events import (
    AmbassadorAssigned,
    DecisionBasisSubmitted,
    DecisionMade,
    IdeaAssigned,
    IdeaSubmitted,
    OrgUnitDefined,
    PersonRegistered,
    PlanAnchored,
    ScreeningCompleted,
    TenantRegistered,
)
from ideabank_infra.auth import LocalIssuer
from ideabank_infra.clock import FixedClock
from ideabank_infra.testing import bearer, eventually, serve
from ideabank_notification.bootstrap import create_app
from ideabank_notification.settings import NotificationSettings
from nats.js import JetStreamContext

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning


@pytest.fixture
def tenant() -> str:
    """A tenant slug of this test alone, so tests never see each other's events."""
    return f"t{uuid.uuid4().hex[:10]}"


@dataclass
class World:
    """A running notification service plus what a test needs to drive it."""

    client: httpx.AsyncClient
    js: JetStreamContext
    issuer: LocalIssuer
    tenant: str
    clock: FixedClock
    app: Any
    nc: Any
    published: list[CloudEvent] = field(default_factory=list)

    async def publish(
        self,
        data: EventData,
        *,
        subject: str = "",
        msg_id: str | None = None,
        event_id: str | None = None,
        tenant: str | None = None,
    ) -> CloudEvent:
        """Publish one event to JetStream as its owning service would."""
        ev = new_event(
            data,
            tenant=tenant or self.tenant,
            subject=subject or getattr(data, "idea_id", None) or "tenancy",
            source="/tests",
            event_id=event_id,
            time=self.clock.now(),
        )
        await self.republish(ev, msg_id=msg_id)
        self.published.append(ev)
        return ev

    async def republish(self, ev: CloudEvent, *, msg_id: str | None = None) -> None:
        """Publish an event (again) under the given Nats-Msg-Id."""
        await self.js.publish(
            ev.nats_subject, ev.to_json(), headers={"Nats-Msg-Id": msg_id or ev.id}
        )

    def headers(
        self, person: str, *roles: str, org_unit: str | None = None, tenant: str | None = None
    ) -> dict[str, str]:
        """Bearer header of a person."""
        token = self.issuer.mint(
            tenant=tenant or self.tenant,
            roles=list(roles) or ["employee"],
            person=person,
            org_unit=org_unit,
        )
        return bearer(token)

    async def inbox(self, person: str, **params: Any) -> dict[str, Any]:
        """The person's inbox."""
        resp = await self.client.get("/v1/inbox", headers=self.headers(person), params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    async def wait_for(
        self, person: str, kind: str, count: int = 1, timeout: float = 15
    ) -> list[dict[str, Any]]:
        """Wait until the person has ``count`` inbox messages of ``kind``; return them."""

        async def check() -> list[dict[str, Any]] | None:
            found = [m for m in (await self.inbox(person, limit=500))["items"] if m["kind"] == kind]
            return found if len(found) >= count else None

        result: list[dict[str, Any]] = await eventually(check, timeout=timeout, interval=0.1)
        return result

    async def submit(
        self,
        idea_id: str,
        giver: str,
        *,
        co_authors: tuple[str, ...] = (),
        title: str | None = None,
    ) -> CloudEvent:
        """idea.submitted in administration 'adm'."""
        return await self.publish(
            IdeaSubmitted(
                idea_id=idea_id,
                actor_id=giver,
                org_unit_id="adm-u1",
                administration_id="adm",
                category="Arbetsmiljö",
                channel="staff_portal",
                title=title or f"Idé {idea_id}",
                description="Beskrivning",
                problem="Problem",
                co_author_ids=co_authors,
                submitted_at=self.clock.now(),
            )
        )

    async def assign(self, idea_id: str, ambassador: str) -> CloudEvent:
        """idea.assigned."""
        return await self.publish(
            IdeaAssigned(
                idea_id=idea_id,
                ambassador_id=ambassador,
                administration_id="adm",
                assigned_at=self.clock.now(),
            )
        )

    async def screen(self, idea_id: str, outcome: str, **extra: Any) -> CloudEvent:
        """screening.completed."""
        return await self.publish(
            ScreeningCompleted(
                idea_id=idea_id,
                screening_id=f"s-{idea_id}-{uuid.uuid4().hex[:4]}",
                actor_id="amb",
                administration_id="adm",
                outcome=outcome,
                template_version=1,
                completed_at=self.clock.now(),
                **extra,
            )
        )

    async def decision_basis(self, idea_id: str) -> CloudEvent:
        """decision_basis.submitted."""
        return await self.publish(
            DecisionBasisSubmitted(
                idea_id=idea_id,
                decision_basis_id=f"db-{idea_id}",
                actor_id="amb",
                org_unit_id="adm-u1",
                administration_id="adm",
                description="Utvecklad idé",
                expected_effects_short_term="Kort",
                expected_effects_long_term="Lång",
                submitted_at=self.clock.now(),
            )
        )

    async def decide(self, idea_id: str, outcome: str, **extra: Any) -> CloudEvent:
        """decision.made."""
        return await self.publish(
            DecisionMade(
                idea_id=idea_id,
                decision_id=f"d-{idea_id}-{uuid.uuid4().hex[:4]}",
                actor_id="mgr",
                decided_by="management",
                org_unit_id="adm-u1",
                administration_id="adm",
                outcome=outcome,
                decided_at=self.clock.now(),
                **extra,
            )
        )

    async def anchor(self, idea_id: str) -> CloudEvent:
        """plan.anchored."""
        return await self.publish(
            PlanAnchored(
                idea_id=idea_id,
                plan_id=f"p-{idea_id}",
                actor_id="impl",
                milestones=(),
                start_date=self.clock.today(),
                anchored_at=self.clock.now(),
            )
        )

    async def setup_org(
        self, people: list[tuple[str, str, str, list[str]]], *, ambassador: str | None = None
    ) -> None:
        """Tenant, administration 'adm' with unit 'adm-u1', the given people
        (id, language, org unit, roles) and the ambassador."""
        t = self.tenant
        await self.publish(
            TenantRegistered(
                tenant=t, name="Testkommun", country="SE", default_language="sv", currency="SEK"
            )
        )
        await self.publish(
            OrgUnitDefined(
                org_unit_id="adm",
                kind="administration",
                name="Förvaltning",
                administration_id="adm",
            )
        )
        await self.publish(
            OrgUnitDefined(
                org_unit_id="adm-u1",
                parent_id="adm",
                kind="unit",
                name="Enhet 1",
                administration_id="adm",
            )
        )
        for pid, lang, ou, roles in people:
            await self.publish(
                PersonRegistered(
                    person_id=pid,
                    name=f"Person {pid}",
                    email=f"{pid}@example.org",
                    language=lang,
                    org_unit_id=ou,
                    roles=tuple(roles),
                )
            )
        if ambassador:
            await self.publish(AmbassadorAssigned(administration_id="adm", person_id=ambassador))


def settings_for(
    db_url: str, nats_url: str, issuer: LocalIssuer, tenant: str, tmp_path: Path, **overrides: Any
) -> NotificationSettings:
    """Settings of an isolated test instance (own consumer, own tenant, quick timers)."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "nats_url": nats_url,
        "jwks_url": issuer.jwks_url,
        "data_dir": tmp_path,
        "consumer_suffix": f"-{tenant}",
        "consumer_tenants": [tenant],
        "log_json": False,
        "worker_poll_seconds": 0.05,
        "timer_poll_seconds": 0.1,
        "redelivery_delay_seconds": 0.1,
        # A message that a timed-out pull request swallowed comes back after this (not 30 s).
        "ack_wait_seconds": 2.0,
    }
    values.update(overrides)
    return NotificationSettings(**values)


@pytest.fixture
def make_world(
    db_url: str, nats_url: str, issuer: LocalIssuer, tenant: str, tmp_path: Path
) -> Callable[..., Any]:
    """Start a notification service with setting overrides; yields a :class:`World`."""

    @asynccontextmanager
    async def start(clock: FixedClock | None = None, **overrides: Any) -> AsyncIterator[World]:
        clock = clock or FixedClock(START)
        settings = settings_for(db_url, nats_url, issuer, tenant, tmp_path, **overrides)
        app = create_app(settings, clock=clock)
        nc = await nats.connect(nats_url)
        try:
            async with serve(app) as client:
                yield World(
                    client=client,
                    js=nc.jetstream(),
                    issuer=issuer,
                    tenant=tenant,
                    clock=clock,
                    app=app,
                    nc=nc,
                )
        finally:
            await nc.close()

    return start
