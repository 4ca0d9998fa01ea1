"""Inspect and replay dead-lettered events.

A replay republishes the original event on its original subject under a fresh
``Nats-Msg-Id`` (so the stream's duplicate window does not swallow it). Every consumer keeps
an inbox of handled event ids, so consumers that already handled the event skip it and only
the one that failed applies it. The dead letter is deleted once the replay is acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass

from ideabank_contracts.subjects import DEAD_LETTER_STREAM_NAME
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError


@dataclass(frozen=True)
class DeadLetterEntry:
    """One parked event with why it was parked."""

    seq: int
    consumer: str
    original_subject: str
    event_id: str
    event_type: str
    error: str
    deliveries: int
    failed_at: str
    data: bytes
    headers: dict[str, str]


async def list_dead_letters(
    js: JetStreamContext, consumer: str | None = None, limit: int = 10_000
) -> list[DeadLetterEntry]:
    """All dead letters (of one consumer, if given), oldest first."""
    try:
        info = await js.stream_info(DEAD_LETTER_STREAM_NAME)
    except NotFoundError:
        return []
    if info.state.messages == 0:
        return []
    subject = f"deadletter.{consumer}.>" if consumer else "deadletter.>"
    sub = await js.pull_subscribe(
        subject,
        stream=DEAD_LETTER_STREAM_NAME,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=30.0),
    )
    entries: list[DeadLetterEntry] = []
    try:
        while len(entries) < limit:
            try:
                msgs = await sub.fetch(min(500, limit - len(entries)), timeout=0.5)
            except TimeoutError:
                break
            for m in msgs:
                h = dict(m.headers or {})
                entries.append(
                    DeadLetterEntry(
                        seq=m.metadata.sequence.stream,
                        consumer=h.get("Ideabank-Consumer", ""),
                        original_subject=h.get("Ideabank-Original-Subject", ""),
                        event_id=h.get("ce-id", ""),
                        event_type=h.get("ce-type", ""),
                        error=h.get("Ideabank-Error", ""),
                        deliveries=int(h.get("Ideabank-Deliveries", "0") or 0),
                        failed_at=h.get("Ideabank-Failed-At", ""),
                        data=m.data,
                        headers=h,
                    )
                )
                await m.ack()
    finally:
        await sub.unsubscribe()
    return entries


async def replay_dead_letters(
    js: JetStreamContext, consumer: str | None = None, event_id: str | None = None
) -> list[DeadLetterEntry]:
    """Send dead letters back to their original subject; return the ones replayed."""
    replayed: list[DeadLetterEntry] = []
    for entry in await list_dead_letters(js, consumer):
        if event_id and entry.event_id != event_id:
            continue
        headers = {
            k: v
            for k, v in entry.headers.items()
            if not k.startswith("Ideabank-") and k != "Nats-Msg-Id"
        }
        headers["Nats-Msg-Id"] = f"{entry.event_id}:replay:{entry.seq}"
        headers["Ideabank-Replay-Of"] = str(entry.seq)
        await js.publish(entry.original_subject, entry.data, headers=headers)
        await js.delete_msg(DEAD_LETTER_STREAM_NAME, entry.seq)
        replayed.append(entry)
    return replayed
