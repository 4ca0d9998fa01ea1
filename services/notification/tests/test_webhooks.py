"""Webhooks after Standard Webhooks: signed deliveries to a loopback receiver, secret rotation,
retries with exponential backoff, an endpoint that keeps failing disabled and its admin told."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from ideabank_infra.clock import SystemClock
from ideabank_infra.testing import eventually
from standardwebhooks import Webhook

PEOPLE = [
    ("g1", "sv", "adm-u1", ["employee"]),
    ("admin", "en", "adm", ["tenant_admin"]),
]


@dataclass
class Receiver:
    """A tiny HTTP server on loopback that records requests and answers with ``status``."""

    status: int = 204
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((headers, body))
        writer.write(
            f"HTTP/1.1 {self.status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    server = await asyncio.start_server(r.handle, "127.0.0.1", 0)
    r.port = server.sockets[0].getsockname()[1]
    try:
        yield r
    finally:
        server.close()


async def test_signed_delivery_and_secret_rotation(make_world, receiver) -> None:
    async with make_world(clock=SystemClock()) as w:
        admin = w.headers("admin", "tenant_admin")
        await w.setup_org(PEOPLE)
        resp = await w.client.post(
            "/v1/webhooks",
            headers=admin,
            json={"url": receiver.url, "event_types": ["idea.*", "decision.made"]},
        )
        assert resp.status_code == 201, resp.text
        hook = resp.json()
        assert hook["secret"].startswith("whsec_")
        listed = (await w.client.get("/v1/webhooks", headers=admin)).json()
        assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]

        submitted = await w.submit("A", "g1", title="Webhookidé")
        await w.decision_basis("A")  # not in the filter: never delivered
        await eventually(lambda: receiver.requests, timeout=15)
        headers, body = receiver.requests[0]
        # Verified with the reference implementation of Standard Webhooks.
        payload = Webhook(hook["secret"]).verify(body, headers)
        assert payload["id"] == submitted.id and payload["type"] == "se.ideabank.idea.submitted.v1"
        assert headers["webhook-id"] == submitted.id
        assert headers["content-type"] == "application/cloudevents+json"
        assert json.loads(body)["data"]["title"] == "Webhookidé"

        # Rotation: the next delivery is signed with the new and, during the grace, the old one.
        rotated = await w.client.post(f"/v1/webhooks/{hook['id']}/rotate-secret", headers=admin)
        assert rotated.status_code == 200
        new_secret = rotated.json()["secret"]
        assert new_secret != hook["secret"]
        await w.submit("B", "g1")
        await eventually(lambda: len(receiver.requests) >= 2, timeout=15)
        headers2, body2 = receiver.requests[1]
        assert len(headers2["webhook-signature"].split(" ")) == 2
        Webhook(new_secret).verify(body2, headers2)
        Webhook(hook["secret"]).verify(body2, headers2)

        async def all_succeeded() -> dict | None:
            got = (
                await w.client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=admin)
            ).json()
            return got if {d["status"] for d in got["items"]} == {"succeeded"} else None

        # The receiver has the request a moment before the attempt is recorded.
        deliveries = await eventually(all_succeeded, timeout=10)
        assert len(deliveries["items"]) == 2  # decision_basis.submitted was filtered out
        assert deliveries["items"][0]["attempt_log"][0]["status_code"] == 204

        # Another tenant's admin sees nothing of it.
        other = w.headers("admin", "tenant_admin", tenant="elsewhere")
        assert (
            await w.client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=other)
        ).status_code == 404


async def test_failing_endpoint_retried_with_backoff_then_disabled(make_world, receiver) -> None:
    receiver.status = 500
    async with make_world(
        clock=SystemClock(),
        # Long enough that a commit slowed by a busy disk cannot hide the doubling.
        webhook_backoff_base_seconds=0.25,
        webhook_max_attempts=4,
        webhook_disable_after=1,
    ) as w:
        admin = w.headers("admin", "tenant_admin")
        await w.setup_org(PEOPLE)
        hook = (
            await w.client.post(
                "/v1/webhooks", headers=admin, json={"url": receiver.url, "event_types": ["idea.*"]}
            )
        ).json()
        await w.submit("A", "g1")

        told = await w.wait_for("admin", "webhook_disabled", timeout=20)
        assert told[0]["subject"] == "Webhook disabled" and receiver.url in told[0]["body"]
        assert len(receiver.requests) == 4
        deliveries = (
            await w.client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=admin)
        ).json()
        assert deliveries["webhook"]["enabled"] is False
        item = deliveries["items"][0]
        assert item["status"] == "failed" and item["attempts"] == 4
        log = item["attempt_log"]
        assert [a["status_code"] for a in log] == [500, 500, 500, 500]
        times = [datetime.fromisoformat(a["at"]) for a in log]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        # Exponential: 0.25 s, 0.5 s, 1 s (plus polling slack), each wait longer than the last.
        assert gaps[0] >= 0.25 and gaps[1] >= 0.5 and gaps[2] >= 1.0, gaps
        assert gaps[2] > gaps[0]

        # Disabled: a new event is queued but not attempted.
        await w.submit("B", "g1")
        await w.wait_for("g1", "received", count=2)
        await asyncio.sleep(0.3)
        assert len(receiver.requests) == 4


async def test_webhook_validation_and_roles(make_world) -> None:
    async with make_world() as w:
        admin = w.headers("admin", "tenant_admin")
        bad = await w.client.post("/v1/webhooks", headers=admin, json={"url": "ftp://x.org/hook"})
        assert bad.status_code == 422 and bad.json()["field"] == "url"
        bad = await w.client.post(
            "/v1/webhooks",
            headers=admin,
            json={"url": "https://x.org/hook", "event_types": ["idea submitted"]},
        )
        assert bad.status_code == 422 and bad.json()["field"] == "event_types"
        employee = w.headers("g1", "employee")
        resp = await w.client.post("/v1/webhooks", headers=employee, json={"url": "https://x.org"})
        assert resp.status_code == 403
        assert (await w.client.get("/v1/webhooks", headers=admin)).json() == []
