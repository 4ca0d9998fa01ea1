"""Fixtures: a real evaluation app per test, on SQLite and PostgreSQL, against real NATS.

Evaluation learns about ideas and the organisation only from intake's events, so the tests
publish those events to JetStream exactly as intake would, and wait for the projection.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest
from ideabank_contracts import CloudEvent, EventData, new_event
from ideabank_contracts.events import idea as idea_ev
from ideabank_contracts.events import tenancy as tenancy_ev
from ideabank_evaluation.bootstrap import create_app
from ideabank_evaluation.settings import EvaluationSettings
from ideabank_infra.auth import LocalIssuer
from ideabank_infra.clock import FixedClock
from ideabank_infra.testing import bearer, serve
from sqlalchemy import func, select, text

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

#: The test organisation: two administrations, people in each role evaluation cares about.
ORG_UNITS = [
    ("adm", "administration", None, "adm"),
    ("dep", "department", "adm", "adm"),
    ("unit", "unit", "dep", "adm"),
    ("unit-b", "unit", "dep", "adm"),
    ("adm2", "administration", None, "adm2"),
]
PEOPLE = {
    "amb": ("adm", ["employee", "ambassador"]),
    "ig": ("adm", ["employee", "innovation_group"]),
    "amb2": ("adm2", ["employee", "ambassador"]),
    "giver": ("unit", ["employee"]),
    "um": ("unit", ["employee", "unit_manager"]),
    "dm": ("dep", ["employee", "department_manager"]),
    "impl": ("unit", ["employee", "implementer"]),
    "admin": ("adm", ["employee", "tenant_admin"]),
}
AMBASSADORS = {"adm": "amb", "adm2": "amb2"}
SCORES = [
    {"criterion_key": "mission", "score": 4, "note": "Klart inom uppdraget"},
    {"criterion_key": "reach", "score": 3},
    {"criterion_key": "public_benefit", "score": 5},
    {"criterion_key": "effect_vs_resources", "score": 2},
]


@pytest.fixture
def tenant() -> str:
    """A tenant slug of this test alone, so tests never see each other's events."""
    return f"t{uuid.uuid4().hex[:10]}"


def make_settings(db_url: str, nats_url: str, issuer: LocalIssuer, tenant: str, tmp: Any):
    """Settings of one evaluation instance under test; the timer loop stays out of the way."""
    return EvaluationSettings(
        database_url=db_url,
        nats_url=nats_url,
        jwks_url=issuer.jwks_url,
        data_dir=tmp,
        consumer_suffix=f"-{tenant}",
        consumer_tenants=[tenant],
        log_json=False,
        revisit_poll_seconds=3600,
        redelivery_delay_seconds=0.2,
    )


class World:
    """A running evaluation app plus the means to play intake and read the stream."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        app: Any,
        clock: FixedClock,
        tenant: str,
        issuer: LocalIssuer,
        nc: Any,
    ) -> None:
        self.client = client
        self.app = app
        self.runtime = app.state.runtime
        self.clock = clock
        self.tenant = tenant
        self.issuer = issuer
        self.nc = nc
        self.js = nc.jetstream()

    # --- identities ---------------------------------------------------------------------

    def auth(self, person: str, tenant: str | None = None) -> dict[str, str]:
        """Bearer header of a test person (roles and org unit of the test organisation)."""
        unit, roles = PEOPLE[person]
        return bearer(
            self.issuer.mint(
                tenant=tenant or self.tenant, roles=roles, person=person, org_unit=unit
            )
        )

    # --- playing intake -----------------------------------------------------------------

    async def publish(self, *items: tuple[EventData, str], event_id: str | None = None) -> None:
        """Publish events of this tenant to JetStream, as intake's relay does."""
        for data, subject in items:
            ev = new_event(
                data, tenant=self.tenant, subject=subject, source="/test/intake", event_id=event_id
            )
            await self.publish_event(ev)

    async def publish_event(self, ev: CloudEvent) -> None:
        """Publish one ready-made event."""
        await self.js.publish(ev.nats_subject, ev.to_json(), headers={"Nats-Msg-Id": ev.id})

    async def seed_org(self) -> None:
        """Register the tenant's organisation and wait until evaluation knows it."""
        items: list[tuple[EventData, str]] = [
            (
                tenancy_ev.TenantRegistered(
                    tenant=self.tenant,
                    name="Testby kommun",
                    country="SE",
                    default_language="sv",
                    currency="SEK",
                ),
                self.tenant,
            )
        ]
        for uid, kind, parent, admin in ORG_UNITS:
            items.append(
                (
                    tenancy_ev.OrgUnitDefined(
                        org_unit_id=uid,
                        parent_id=parent,
                        kind=kind,
                        name=uid.title(),
                        administration_id=admin,
                    ),
                    uid,
                )
            )
        for pid, (unit, roles) in PEOPLE.items():
            items.append(
                (
                    tenancy_ev.PersonRegistered(
                        person_id=pid,
                        name=f"Person {pid}",
                        email=f"{pid}@testby.example",
                        language="sv",
                        org_unit_id=unit,
                        roles=tuple(roles),
                    ),
                    pid,
                )
            )
        for admin, pid in AMBASSADORS.items():
            items.append(
                (tenancy_ev.AmbassadorAssigned(administration_id=admin, person_id=pid), admin)
            )
        await self.publish(*items)
        await self.wait_rows("ambassadors", len(AMBASSADORS))

    async def submit(
        self,
        idea_id: str | None = None,
        *,
        org_unit: str = "unit",
        administration: str = "adm",
        giver: str | None = "giver",
        assign_to: str | None = "amb",
        assigned_at: datetime | None = None,
        wait: bool = True,
    ) -> str:
        """An idea submitted (and assigned) by intake; waits until evaluation has it."""
        idea_id = idea_id or f"idea-{uuid.uuid4().hex[:8]}"
        at = assigned_at or self.clock.now() - timedelta(days=1)
        items: list[tuple[EventData, str]] = [
            (
                idea_ev.IdeaSubmitted(
                    idea_id=idea_id,
                    actor_id=giver,
                    org_unit_id=org_unit,
                    administration_id=administration,
                    category="Arbetsmiljö",
                    channel="staff_portal",
                    title=f"Idé {idea_id}",
                    description="Beskrivning",
                    problem="Problemet",
                    submitted_at=at - timedelta(hours=1),
                ),
                idea_id,
            )
        ]
        if assign_to is not None:
            items.append(
                (
                    idea_ev.IdeaAssigned(
                        idea_id=idea_id,
                        ambassador_id=assign_to,
                        administration_id=administration,
                        assigned_at=at,
                    ),
                    idea_id,
                )
            )
        await self.publish(*items)
        if wait:
            await self.wait_status(idea_id, "in_screening" if assign_to else "submitted")
        return idea_id

    async def submit_many(self, n: int, **kwargs: Any) -> list[str]:
        """``n`` ideas published at once, then waited for together (one consumer round trip)."""
        ids = [await self.submit(wait=False, **kwargs) for _ in range(n)]
        status = "in_screening" if kwargs.get("assign_to", "amb") else "submitted"
        for idea_id in ids:
            await self.wait_status(idea_id, status)
        return ids

    async def wait_all(self, ids: list[str], status: str) -> None:
        """Wait until every idea of ``ids`` is in ``status``."""
        for idea_id in ids:
            await self.wait_status(idea_id, status)

    # --- reading state ------------------------------------------------------------------

    async def sql(self, query: str, **params: Any) -> list[Any]:
        """Rows of a query on the service's own database (assertions only)."""
        async with self.runtime.db.engine.connect() as conn:
            return list(await conn.execute(text(query), params))

    async def status(self, idea_id: str) -> str | None:
        """Evaluation's status of an idea."""
        rows = await self.sql(
            "SELECT status FROM ideas WHERE tenant = :t AND id = :i", t=self.tenant, i=idea_id
        )
        return rows[0][0] if rows else None

    async def wait_status(self, idea_id: str, status: str, timeout: float = 20) -> None:
        """Wait until the projection shows the idea in ``status``."""
        deadline = time.monotonic() + timeout
        while (now := await self.status(idea_id)) != status:
            if time.monotonic() > deadline:
                raise AssertionError(f"{idea_id} is {now!r}, not {status!r}")
            await asyncio.sleep(0.05)

    async def wait_rows(self, table: str, n: int, timeout: float = 20) -> None:
        """Wait until ``table`` holds ``n`` rows of this tenant."""
        deadline = time.monotonic() + timeout
        while True:
            async with self.runtime.db.engine.connect() as conn:
                count = (
                    await conn.execute(
                        select(func.count()).select_from(text(table)).where(text("tenant = :t")),
                        {"t": self.tenant},
                    )
                ).scalar_one()
            if count >= n:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{table} has {count} rows, expected {n}")
            await asyncio.sleep(0.05)

    async def stream(self, event: str, *, at_least: int = 1, timeout: float = 10) -> list[Any]:
        """Every ``<aggregate>.<event>`` of this tenant on the stream, once ``at_least`` are."""
        subject = f"ideas.v1.{self.tenant}.{event}"
        deadline = time.monotonic() + timeout
        while True:
            found = await self._fetch(subject)
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.1)

    async def _fetch(self, subject: str) -> list[CloudEvent]:
        sub = await self.js.pull_subscribe(subject, stream="IDEAS")
        out: list[CloudEvent] = []
        try:
            while True:
                msgs = await sub.fetch(200, timeout=0.3)
                out += [CloudEvent.from_json(m.data) for m in msgs]
        except (TimeoutError, nats.errors.TimeoutError):
            pass
        finally:
            await sub.unsubscribe()
        return out

    async def screen(self, idea_id: str, who: str = "amb", **body: Any) -> httpx.Response:
        """POST a screening (default scores, outcome in_development unless given)."""
        payload = {"scores": SCORES, "outcome": "in_development", **body}
        return await self.client.post(
            f"/v1/ideas/{idea_id}/screening", json=payload, headers=self.auth(who)
        )


@asynccontextmanager
async def running(settings: EvaluationSettings, clock: FixedClock) -> AsyncIterator[Any]:
    """Run one evaluation app; yields (client, app)."""
    app = create_app(settings, clock=clock)
    async with serve(app) as client:
        yield client, app


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Any]:
    """A NATS connection for publishing and reading the stream."""
    conn = await nats.connect(nats_url)
    yield conn
    await conn.close()


@pytest.fixture
def world_factory(
    nats_url: str, issuer: LocalIssuer, tenant: str, tmp_path: Any, nc: Any
) -> Callable[..., Any]:
    """Build a World around a running app on ``db_url`` (used for several replicas)."""

    @asynccontextmanager
    async def make(db_url: str, name: str = "a") -> AsyncIterator[World]:
        clock = FixedClock(START)
        settings = make_settings(db_url, nats_url, issuer, tenant, tmp_path / name)
        async with running(settings, clock) as (client, app):
            yield World(client=client, app=app, clock=clock, tenant=tenant, issuer=issuer, nc=nc)

    return make


@pytest.fixture
async def world(db_url: str, world_factory: Callable[..., Any]) -> AsyncIterator[World]:
    """A running evaluation service with the test organisation loaded."""
    async with world_factory(db_url) as w:
        await w.seed_org()
        yield w
