"""Email over a real SMTP server: delivered after commit, never twice, and digests by preference."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from ideabank_infra.testing import eventually, free_port

PEOPLE = [
    ("g1", "sv", "adm-u1", ["employee"]),
    ("c1", "en", "adm-u1", ["employee"]),
    ("amb", "da", "adm", ["ambassador"]),
]


class Mailbox:
    """aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 Message accepted for delivery"

    def to(self, address: str, subject: str | None = None) -> list[EmailMessage]:
        return [
            m
            for m in list(self.messages)
            if m["To"] == address and (subject is None or m["Subject"] == subject)
        ]


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on loopback."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


async def test_email_sent_once_even_when_the_event_is_redelivered(make_world, smtp) -> None:
    box, port = smtp
    async with make_world(smtp_host="127.0.0.1", smtp_port=port, smtp_from="idebank@test.se") as w:
        await w.setup_org(PEOPLE, ambassador="amb")
        await w.submit("A", "g1", co_authors=("c1",), title="Ny cykelpool")
        await w.assign("A", "amb")
        rejected = await w.screen("A", "rejected", motivation="Finns redan")
        # The same event again under another Nats-Msg-Id: JetStream does not drop it.
        await w.republish(rejected, msg_id=f"again-{rejected.id}")
        # A later event of the same consumer: once its email is out, the duplicate was handled.
        await w.submit("B", "g1", title="Spårämne")

        def sentinel() -> list[EmailMessage]:
            return [m for m in box.to("g1@example.org") if "Spårämne" in m.get_content()]

        await eventually(sentinel, timeout=15)
        sv = box.to("g1@example.org", "Din idé går inte vidare")
        en = box.to("c1@example.org", "Your idea will not go ahead")
        assert len(sv) == 1 and len(en) == 1
        body = sv[0].get_content()
        assert "Ny cykelpool" in body and "Motivering: Finns redan" in body
        assert "Motivation: Finns redan" in en[0].get_content()
        assert sv[0]["From"] == "idebank@test.se"
        assert sv[0]["Message-ID"]
        # Every immediate email was sent exactly once.
        sent = [(m["To"], m["Subject"], m.get_content()) for m in box.messages]
        assert len(sent) == len(set(sent))
        # The inbox has the message once too.
        rejections = await w.wait_for("g1", "screening_rejected")
        assert len(rejections) == 1


async def test_digest_by_preference(make_world, smtp) -> None:
    box, port = smtp
    async with make_world(smtp_host="127.0.0.1", smtp_port=port, digest_hour=7) as w:
        await w.setup_org(PEOPLE, ambassador="amb")
        h = w.headers("g1")
        bad = await w.client.put("/v1/preferences", headers=h, json={"email": "sometimes"})
        assert bad.status_code == 422 and bad.json()["field"] == "email"
        resp = await w.client.put(
            "/v1/preferences", headers=h, json={"email": "daily", "inbox": "off"}
        )
        assert resp.status_code == 200
        assert (await w.client.get("/v1/preferences", headers=h)).json() == {
            "inbox": "off",
            "email": "daily",
        }
        await w.submit("A", "g1", co_authors=("c1",), title="Första")
        await w.submit("B", "g1", title="Andra")
        # The co-author has the default (immediate): their email shows the events were handled.
        await eventually(lambda: box.to("c1@example.org"), timeout=15)
        await asyncio.sleep(0.3)
        assert box.to("g1@example.org") == []
        assert (await w.inbox("g1"))["items"] == []  # inbox off
        # The next morning at 07:00 the daily digest goes out, once.
        w.clock.set(datetime(2026, 3, 3, 7, 0, 1, tzinfo=UTC))
        digest = await eventually(lambda: box.to("g1@example.org"), timeout=15)
        assert len(digest) == 1
        assert digest[0]["Subject"] == "Din sammanfattning från idébanken (2)"
        body = digest[0].get_content()
        assert "Första" in body and "Andra" in body
        await asyncio.sleep(0.3)
        assert len(box.to("g1@example.org")) == 1
