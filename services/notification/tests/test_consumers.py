"""The consumer's batch path: a fetched batch writes and sends exactly what its events would
one by one, and a redelivered batch writes nothing more."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ideabank_contracts import CloudEvent, EventData, new_event
from ideabank_contracts.events import (
    AmbassadorAssigned,
    IdeaAssigned,
    IdeaSubmitted,
    OrgUnitDefined,
    PersonRegistered,
    PersonUpdated,
    TenantRegistered,
)
from ideabank_infra.app import Runtime
from ideabank_infra.clock import FixedClock
from ideabank_infra.consumer import Subscription
from ideabank_infra.db import Database
from ideabank_notification.consumers import subscriptions
from ideabank_notification.settings import NotificationSettings
from ideabank_notification.store import (
    deliveries,
    followers,
    ideas,
    messages,
    metadata,
    preferences,
    webhook_deliveries,
    webhooks,
)
from sqlalchemy import delete, insert, select

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TENANTS = ("norrby", "soderby")


def _events(tenant: str, data: Sequence[EventData], prefix: str) -> list[CloudEvent]:
    return [
        new_event(
            d,
            tenant=tenant,
            subject=getattr(d, "idea_id", None) or "tenancy",
            source="/tests",
            event_id=f"{prefix}-{tenant}-{n}",
            time=START + timedelta(seconds=n),
        )
        for n, d in enumerate(data)
    ]


def _person(pid: str, language: str, cls: type[Any] = PersonRegistered) -> Any:
    return cls(
        person_id=pid,
        name=f"Person {pid}",
        email=f"{pid}@example.org",
        language=language,
        org_unit_id="adm-u1",
        roles=("employee",),
    )


def _org(tenant: str) -> list[CloudEvent]:
    return _events(
        tenant,
        [
            TenantRegistered(
                tenant=tenant, name="Kommun", country="SE", default_language="sv", currency="SEK"
            ),
            OrgUnitDefined(
                org_unit_id="adm", kind="administration", name="Förv", administration_id="adm"
            ),
            OrgUnitDefined(
                org_unit_id="adm-u1",
                parent_id="adm",
                kind="unit",
                name="Enhet",
                administration_id="adm",
            ),
            *[_person(p, lang) for p, lang in (("g1", "sv"), ("g2", "en"), ("c1", "nb"))],
            _person("amb", "da"),
            AmbassadorAssigned(administration_id="adm", person_id="amb"),
        ],
        "org",
    )


def _submitted(idea_id: str, giver: str | None, title: str, co: tuple[str, ...] = ()) -> Any:
    return IdeaSubmitted(
        idea_id=idea_id,
        actor_id=giver,
        org_unit_id="adm-u1",
        administration_id="adm",
        category="Arbetsmiljö",
        channel="staff_portal",
        title=title,
        description="Beskrivning",
        problem="Problem",
        co_author_ids=co,
        submitted_at=START,
    )


def _stream() -> list[CloudEvent]:
    """Submissions of two tenants with other events between them (a language change, an
    assignment), the same idea submitted twice, a giver not known here and none at all."""
    out: list[CloudEvent] = []
    for tenant in TENANTS:
        out += _events(
            tenant,
            [
                _submitted("A", "g1", "Nyckelskåp", co=("c1",)),
                _submitted("B", "g2", "Bilpool"),
                # g1 now reads English: later feedback to g1 is in English, earlier in Swedish.
                _person("g1", "en", PersonUpdated),
                _submitted("C", "g1", "Cykelpool"),
                _submitted("D", "stranger", "Okänd"),
                _submitted("E", None, "Från en invånare"),
                # Sent twice upstream under another event id, with another giver: the idea
                # keeps its row, and only the second feedback reaches both givers.
                _submitted("C", "g2", "Cykelpool igen"),
                _submitted("F", "c1", "Fika"),
                IdeaAssigned(
                    idea_id="A", ambassador_id="amb", administration_id="adm", assigned_at=START
                ),
            ],
            "ev",
        )
    # Interleave the tenants, as the stream does.
    half = len(out) // 2
    return [e for pair in zip(out[:half], out[half:], strict=True) for e in pair]


async def _apply_one_by_one(sub: Subscription, db: Database, events: list[CloudEvent]) -> None:
    for event in events:
        handler = sub.handler_for(event)
        assert handler is not None
        async with db.transaction() as conn:
            await handler(conn, event)


async def _snapshot(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row the stream writes, in insertion order (surrogate ids aside)."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with db.engine.connect() as conn:
        for table, order in (
            (ideas, (ideas.c.tenant, ideas.c.id)),
            (followers, (followers.c.tenant, followers.c.idea_id, followers.c.person_id)),
            (messages, (messages.c.id,)),
            (deliveries, (deliveries.c.id,)),
            (webhook_deliveries, (webhook_deliveries.c.event_id, webhook_deliveries.c.webhook_id)),
        ):
            rows = await conn.execute(select(table).order_by(*order))
            surrogate = "id" if table in (messages, deliveries, webhook_deliveries) else None
            out[table.name] = [
                {k: v for k, v in r._mapping.items() if k != surrogate} for r in rows.all()
            ]
    return out


async def _run(sub: Subscription, db: Database, *, batched: bool) -> dict[str, Any]:
    async with db.transaction() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(delete(table))
    for tenant in TENANTS:
        await _apply_one_by_one(sub, db, _org(tenant))
    async with db.transaction() as conn:
        await conn.execute(
            insert(preferences),
            [
                {"tenant": t, "person_id": "g2", "inbox": "daily", "email": "weekly"}
                for t in TENANTS
            ],
        )
        await conn.execute(
            insert(webhooks),
            [
                {
                    "id": f"hook-{t}-{n}",
                    "tenant": t,
                    "url": "https://example.org/hook",
                    "event_types": types,
                    "secret": "s",
                    "enabled": True,
                    "consecutive_failures": 0,
                    "created_by": "admin",
                    "created_at": START,
                }
                for t in TENANTS
                for n, types in enumerate((["idea.submitted"], ["idea.*", "person.*"]))
            ],
        )
    if batched:
        assert sub.batch_handler is not None
        async with db.transaction() as conn:
            await sub.batch_handler(conn, _stream())
    else:
        await _apply_one_by_one(sub, db, _stream())
    return await _snapshot(db)


async def test_a_batch_writes_and_sends_what_its_events_would_one_by_one(
    db_url: str, tmp_path: Path
) -> None:
    settings = NotificationSettings(database_url=db_url, data_dir=tmp_path, smtp_host="smtp.test")
    db = Database(db_url)
    try:
        await db.create_all(metadata)
        runtime = Runtime(settings=settings, db=db, clock=FixedClock(START))
        [sub] = subscriptions(runtime)

        one_by_one = await _run(sub, db, batched=False)
        batched = await _run(sub, db, batched=True)
        assert batched == one_by_one

        got = batched
        assert len(got["ideas"]) == 12
        c = [i for i in got["ideas"] if i["id"] == "C"]
        assert [i["title"] for i in c] == ["Cykelpool", "Cykelpool"]
        received = [
            (m["tenant"], m["person_id"], m["idea_id"], m["language"])
            for m in got["messages"]
            if m["kind"] == "received" and m["tenant"] == "norrby"
        ]
        assert received == [
            ("norrby", "c1", "A", "nb"),
            ("norrby", "g1", "A", "sv"),
            ("norrby", "g1", "C", "en"),
            # The second submission of C: to both givers; g2 reads digests, not the inbox.
            ("norrby", "g1", "C", "en"),
            ("norrby", "c1", "F", "nb"),
        ]
        digests = {(d["person_id"], d["channel"], d["mode"]) for d in got["deliveries"]}
        assert ("g2", "inbox", "daily") in digests and ("g2", "email", "weekly") in digests
        hooked = [(w["webhook_id"], w["event_type"]) for w in got["webhook_deliveries"]]
        # Per tenant: 7 submissions to both endpoints, the assignment to one; people never.
        assert len(hooked) == 2 * (7 * 2 + 1)

        # Redelivered, the batch writes and sends nothing more. (After the first submission
        # of C: redelivered, that one would now also reach the giver C gained after it, one
        # by one as well; the consumer's inbox keeps such a redelivery out.)
        assert sub.batch_handler is not None
        async with db.transaction() as conn:
            await sub.batch_handler(conn, _stream()[2 * 4 :])
        assert await _snapshot(db) == batched
    finally:
        await db.dispose()
