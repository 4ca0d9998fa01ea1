"""The relay's JetStream publisher against a real NATS server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from ideabank_infra import publish as publish_module
from ideabank_infra.outbox import enqueue
from ideabank_infra.publish import Publisher
from ideabank_infra.tables import outbox
from nats.js.errors import BadRequestError, NoStreamResponseError
from sqlalchemy import select

from tests.infra.harness import Harness
from tests.infra.test_delivery import make_event


def _headers(msg_id: str, **more: str) -> dict[str, str]:
    return {"Nats-Msg-Id": msg_id, **more}


async def test_each_publish_is_answered_by_its_own_acknowledgement(harness: Harness) -> None:
    publisher = Publisher(harness.nc)
    subject = f"ideas.v1.{harness.tenant}.idea.commented"
    ids = [uuid.uuid4().hex for _ in range(50)]
    futures = [await publisher.publish(subject, i.encode(), _headers(i)) for i in ids]
    acks = await asyncio.gather(*futures)
    assert [a["stream"] for a in acks] == ["IDEAS"] * 50
    seqs = [a["seq"] for a in acks]
    assert seqs == sorted(seqs) and len(set(seqs)) == 50
    assert not any(a.get("duplicate") for a in acks)
    # The same message id again: the stream keeps the first and says so.
    again = await (await publisher.publish(subject, b"again", _headers(ids[7])))
    assert again["duplicate"] is True and again["seq"] == seqs[7]
    sub = await harness.js.pull_subscribe(subject, stream="IDEAS")
    msgs = await sub.fetch(51, timeout=1)
    assert [m.data.decode() for m in msgs] == ids
    assert [m.headers["Nats-Msg-Id"] for m in msgs if m.headers] == ids
    await publisher.close()


async def test_a_subject_no_stream_takes_fails_its_publish(harness: Harness) -> None:
    publisher = Publisher(harness.nc)
    future = await publisher.publish(f"nowhere.{harness.tenant}", b"x", _headers("n1"))
    with pytest.raises(NoStreamResponseError):
        await asyncio.wait_for(future, 5)
    await publisher.close()


async def test_the_servers_error_fails_the_publish_with_its_class(harness: Harness) -> None:
    publisher = Publisher(harness.nc)
    subject = f"ideas.v1.{harness.tenant}.idea.commented"
    headers = _headers("e1", **{"Nats-Expected-Stream": "NOT_IDEAS"})
    future = await publisher.publish(subject, b"x", headers)
    with pytest.raises(BadRequestError, match="expected stream does not match"):
        await asyncio.wait_for(future, 5)
    await publisher.close()


async def test_publishes_never_answered_are_forgotten_not_kept(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publish_module, "FORGET_AT", 10)
    silent = f"silent.{harness.tenant}"
    await harness.nc.subscribe(silent)  # takes each message and never answers
    publisher = Publisher(harness.nc)
    given_up = [await publisher.publish(silent, b"x", _headers(str(i))) for i in range(10)]
    for future in given_up:
        future.cancel()  # as the relay's timeout does
    answered = await publisher.publish(
        f"ideas.v1.{harness.tenant}.idea.commented", b"y", _headers("a1")
    )
    assert (await answered)["stream"] == "IDEAS"
    assert len(publisher._waiting) == 0  # the ten cancelled ones went at the 11th publish
    await publisher.close()


async def test_the_relay_marks_only_what_was_stored_and_keeps_order(harness: Harness) -> None:
    """A row no stream takes stops the batch there: it and the rows after it stay pending."""
    first = [make_event(harness.tenant, i) for i in range(3)]
    last = make_event(harness.tenant, 9)
    async with harness.db.transaction() as conn:
        await enqueue(conn, first)
        await conn.execute(
            outbox.insert().values(
                event_id="lost",
                subject=f"nowhere.{harness.tenant}",
                payload=b"{}",
                headers={"Nats-Msg-Id": "lost"},
                created_at=datetime.now(UTC),
            )
        )
        await enqueue(conn, [last])
    assert await harness.relay().publish_pending() == 3
    async with harness.db.engine.connect() as conn:
        pending = (
            await conn.execute(
                select(outbox.c.event_id)
                .where(outbox.c.published_at.is_(None))
                .order_by(outbox.c.seq)
            )
        ).all()
    assert [r.event_id for r in pending] == ["lost", last.id]


async def test_closing_after_the_connection_closed_is_quiet(harness: Harness) -> None:
    publisher = Publisher(harness.nc)
    await (await publisher.publish(f"ideas.v1.{harness.tenant}.x", b"x", _headers("c1")))
    await harness.nc.close()
    await publisher.close()
