"""Fixtures: a real intake app per test, on SQLite and PostgreSQL, against real NATS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from ideabank_contracts import CloudEvent, EventData, new_event
from ideabank_infra.auth import LocalIssuer
from ideabank_infra.testing import bearer, eventually, serve
from ideabank_intake.bootstrap import create_app
from ideabank_intake.settings import IntakeSettings
from nats.aio.client import Client as NATS


@pytest.fixture
def tenant() -> str:
    """A tenant slug of this test alone, so tests never see each other's events."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(
    db_url: str, nats_url: str, issuer: LocalIssuer, tenant: str, tmp_path
) -> IntakeSettings:
    """Settings of the intake service under test (copy with changes for special cases)."""
    return IntakeSettings(
        database_url=db_url,
        nats_url=nats_url,
        jwks_url=issuer.jwks_url,
        data_dir=tmp_path,
        consumer_suffix=f"-{tenant}",
        consumer_tenants=[tenant],
        log_json=False,
        redelivery_delay_seconds=0.2,
        # A pulled message now and then reaches the client just after its fetch timed out
        # and waits for ack_wait to be redelivered; keep that short in tests.
        ack_wait_seconds=3.0,
    )


@pytest.fixture
async def intake(settings: IntakeSettings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a running intake service."""
    async with serve(create_app(settings)) as client:
        yield client


def org_document(tenant: str) -> dict[str, Any]:
    """A small municipality: two administrations, only the first with an ambassador."""

    def person(pid: str, name: str, unit: str, roles: list[str]) -> dict[str, Any]:
        return {
            "id": pid,
            "name": name,
            "email": f"{pid}@{tenant}.example",
            "org_unit_id": unit,
            "roles": roles,
        }

    return {
        "tenant": {"name": f"{tenant} kommun"},
        "org_units": [
            {"id": "vof", "kind": "administration", "name": "Vård- och omsorgsförvaltningen"},
            {"id": "hemtjanst", "kind": "department", "name": "Hemtjänst", "parent_id": "vof"},
            {"id": "norr", "kind": "unit", "name": "Hemtjänst Norr", "parent_id": "hemtjanst"},
            {"id": "skol", "kind": "administration", "name": "Skolförvaltningen"},
            {"id": "skola1", "kind": "unit", "name": "Skola 1", "parent_id": "skol"},
        ],
        "people": [
            person("giver", "Greta Givare", "norr", ["employee"]),
            person("coauth", "Carl Medförfattare", "norr", ["employee"]),
            person("other", "Olle Annan", "norr", ["employee"]),
            person("amb", "Anna Ambassadör", "vof", ["employee", "ambassador"]),
            person("amb2", "Bo Ambassadör", "skol", ["employee", "ambassador"]),
            person("ig", "Ingrid Innovationsgrupp", "vof", ["employee", "innovation_group"]),
        ],
        "ambassadors": [{"administration_id": "vof", "person_id": "amb"}],
    }


class Org:
    """A tenant with its organisation loaded, and tokens for its people."""

    def __init__(self, client: httpx.AsyncClient, issuer: LocalIssuer, tenant: str) -> None:
        self.client = client
        self.issuer = issuer
        self.tenant = tenant
        self.doc = org_document(tenant)

    def headers(self, person: str, *roles: str, tenant: str | None = None) -> dict[str, str]:
        """Bearer header of a person (roles default to the person's roles in the document)."""
        if not roles:
            found = [p["roles"] for p in self.doc["people"] if p["id"] == person]
            roles = tuple(found[0]) if found else ("employee",)
        return bearer(
            self.issuer.mint(tenant=tenant or self.tenant, roles=list(roles), person=person)
        )

    @property
    def admin(self) -> dict[str, str]:
        """The tenant admin."""
        return self.headers("admin", "tenant_admin")

    async def load(self) -> Org:
        """Apply the tenancy document."""
        resp = await self.client.put("/v1/admin/tenancy", json=self.doc, headers=self.admin)
        assert resp.status_code == 200, resp.text
        return self

    async def submit(self, person: str = "giver", **fields: Any) -> dict[str, Any]:
        """Submit an idea as ``person``; returns the whole answer."""
        body = {
            "title": "Digitala nyckelskåp i hemtjänsten",
            "description": "Ersätt fysiska nycklar till brukarnas hem med digitala lås.",
            "problem": "Personalen tappar tid på att hämta och lämna nycklar varje morgon.",
            "org_unit_id": "norr",
            "category": "digitalisering",
            **fields,
        }
        resp = await self.client.post("/v1/ideas", json=body, headers=self.headers(person))
        assert resp.status_code == 201, resp.text
        return dict(resp.json())

    async def idea(self, idea_id: str, person: str = "giver") -> dict[str, Any]:
        """GET an idea."""
        resp = await self.client.get(f"/v1/ideas/{idea_id}", headers=self.headers(person))
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    async def wait_status(self, idea_id: str, status: str) -> dict[str, Any]:
        """Wait until intake's projection shows ``status``."""

        async def check() -> dict[str, Any] | None:
            idea = await self.idea(idea_id)
            return idea if idea["status"] == status else None

        result: dict[str, Any] = await eventually(check, timeout=10)
        return result


@pytest.fixture
async def org(intake: httpx.AsyncClient, issuer: LocalIssuer, tenant: str) -> Org:
    """The test tenant with its organisation loaded."""
    return await Org(intake, issuer, tenant).load()


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[Any]:
    """A JetStream context of the test's own NATS connection."""
    nc = NATS()
    await nc.connect(nats_url)
    yield nc.jetstream()
    await nc.close()


@pytest.fixture
def publish(js: Any, tenant: str) -> Callable[..., Awaitable[CloudEvent]]:
    """Publish an event's data as another service (or system) would."""

    async def _publish(
        data: EventData, *, subject: str, tenant_: str | None = None, event_id: str | None = None
    ) -> CloudEvent:
        ce = new_event(
            data, tenant=tenant_ or tenant, subject=subject, source="/test", event_id=event_id
        )
        await js.publish(ce.nats_subject, ce.to_json(), headers={"Nats-Msg-Id": ce.id})
        return ce

    return _publish


@pytest.fixture
def stream_events(js: Any, tenant: str) -> Callable[..., Awaitable[list[CloudEvent]]]:
    """Every event of the test tenant on the ideas stream (ephemeral pull subscription)."""

    async def _fetch(types: set[str] | None = None, at_least: int = 1) -> list[CloudEvent]:
        async def attempt() -> list[CloudEvent] | None:
            sub = await js.pull_subscribe(f"ideas.v1.{tenant}.>", stream="IDEAS")
            events: list[CloudEvent] = []
            try:
                while True:
                    msgs = await sub.fetch(200, timeout=0.3)
                    events += [CloudEvent.from_json(m.data) for m in msgs]
            except TimeoutError:
                pass
            finally:
                await sub.unsubscribe()
            if types is not None:
                events = [e for e in events if f"{e.aggregate}.{e.event}" in types]
            return events if len(events) >= at_least else None

        result: list[CloudEvent] = await eventually(attempt, timeout=10)
        return result

    return _fetch
