"""Announcement fan-out to 20,000 people, next to the raw bulk-insert rate of the same rows.

    .venv/bin/python -m bench.announcement [--people 20000] [--postgres] [--chunk 2000]

Starts a real nats-server and the notification service (SQLite; also PostgreSQL with
``--postgres``), feeds it 20,000 ``person.registered`` events of one administration and an
idea up to ``plan.anchored``, approves the announcement over HTTP and prints the time until
every inbox message exists, the rate, and the ratio to a raw Core ``insert()`` executemany
of the same rows into an identical table, measured in the same run. While the fan-out
runs it also times inbox requests, to show that it blocks nothing else. Prints figures;
never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import nats
from ideabank_contracts import new_event
from ideabank_contracts.envelope import EventData
from ideabank_contracts.events import (
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
from ideabank_infra.db import Database
from ideabank_infra.testing import (
    NatsServer,
    bearer,
    create_postgres_database,
    embedded_postgres,
    serve,
)
from ideabank_notification.bootstrap import create_app
from ideabank_notification.settings import NotificationSettings
from ideabank_notification.store import messages, metadata, people
from sqlalchemy import func, insert, select


def log(text: str) -> None:
    print(text, flush=True)


async def publish_all(js: Any, tenant: str, items: list[EventData]) -> None:
    """Publish many events with thousands in flight."""
    now = datetime.now(UTC)
    for start in range(0, len(items), 2000):
        futures = []
        for data in items[start : start + 2000]:
            ev = new_event(
                data,
                tenant=tenant,
                subject=getattr(data, "idea_id", None) or "tenancy",
                source="/bench",
                time=now,
            )
            futures.append(
                await js.publish_async(
                    ev.nats_subject, ev.to_json(), headers={"Nats-Msg-Id": ev.id}
                )
            )
        await asyncio.gather(*futures)


def idea_events() -> list[EventData]:
    now = datetime.now(UTC)
    common = {"idea_id": "I1"}
    return [
        IdeaSubmitted(
            **common,
            actor_id="p00000",
            org_unit_id="adm-u1",
            administration_id="adm",
            category="Verksamhet",
            channel="staff_portal",
            title="Digital anslagstavla",
            description="d",
            problem="p",
            submitted_at=now,
        ),
        IdeaAssigned(**common, ambassador_id="p00001", administration_id="adm", assigned_at=now),
        ScreeningCompleted(
            **common,
            screening_id="s1",
            actor_id="p00001",
            administration_id="adm",
            outcome="in_development",
            template_version=1,
            completed_at=now,
        ),
        DecisionBasisSubmitted(
            **common,
            decision_basis_id="b1",
            actor_id="p00001",
            org_unit_id="adm-u1",
            administration_id="adm",
            description="d",
            expected_effects_short_term="s",
            expected_effects_long_term="l",
            submitted_at=now,
        ),
        DecisionMade(
            **common,
            decision_id="d1",
            actor_id="p00002",
            decided_by="management",
            org_unit_id="adm-u1",
            administration_id="adm",
            outcome="approved",
            kind="project",
            implementer_id="p00000",
            decided_at=now,
        ),
        PlanAnchored(
            **common,
            plan_id="pl1",
            actor_id="p00000",
            milestones=(),
            start_date=date.today(),
            anchored_at=now,
        ),
    ]


async def count(db: Database, stmt: Any) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def wait_until(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def raw_insert_rate(url: str, n: int, chunk: int, tag: str) -> float:
    """Rows/s of Core insert() executemany of the same message rows into an empty table."""
    db = Database(url)
    await db.create_all(metadata)
    now = datetime.now(UTC)
    rows = [
        {
            "tenant": f"raw-{tag}",
            "person_id": f"p{i:05d}",
            "dedup_key": f"announcement:raw-{tag}",
            "idea_id": "I1",
            "kind": "announcement",
            "subject": "Ny idé genomförs: Digital anslagstavla",
            "body": "En medarbetares idé, ”Digital anslagstavla”, genomförs nu i förvaltningen.",
            "language": "sv",
            "created_at": now,
            "read_at": None,
        }
        for i in range(n)
    ]
    started = time.perf_counter()
    for start in range(0, n, chunk):
        async with db.transaction() as conn:
            await conn.execute(insert(messages), rows[start : start + chunk])
    took = time.perf_counter() - started
    await db.dispose()
    return n / took


async def run(
    label: str,
    db_url: str,
    raw_url: str,
    nats_url: str,
    issuer: LocalIssuer,
    work: Path,
    n_people: int,
    chunk: int,
) -> None:
    tenant = f"b{uuid.uuid4().hex[:8]}"
    settings = NotificationSettings(
        database_url=db_url,
        nats_url=nats_url,
        jwks_url=issuer.jwks_url,
        data_dir=work,
        consumer_suffix=f"-{tenant}",
        consumer_tenants=[tenant],
        log_level="WARNING",
        worker_poll_seconds=0.05,
        announcement_chunk_size=chunk,
        consumer_batch_size=500,
    )
    app = create_app(settings)
    db: Database = app.state.runtime.db
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        async with serve(app) as client:
            started = time.perf_counter()
            tenancy: list[EventData] = [
                TenantRegistered(
                    tenant=tenant,
                    name="Benchkommun",
                    country="SE",
                    default_language="sv",
                    currency="SEK",
                ),
                OrgUnitDefined(
                    org_unit_id="adm",
                    kind="administration",
                    name="Förvaltning",
                    administration_id="adm",
                ),
                OrgUnitDefined(
                    org_unit_id="adm-u1",
                    parent_id="adm",
                    kind="unit",
                    name="Enhet",
                    administration_id="adm",
                ),
            ]
            for i in range(n_people):
                roles = ("communicator",) if i == 3 else ("employee",)
                tenancy.append(
                    PersonRegistered(
                        person_id=f"p{i:05d}",
                        name=f"Person {i}",
                        email=f"p{i}@example.org",
                        language=("sv", "en", "nb", "da")[i % 4],
                        org_unit_id="adm" if i < 10 else "adm-u1",
                        roles=roles,
                    )
                )
            await publish_all(js, tenant, tenancy)
            await publish_all(js, tenant, idea_events())

            async def seeded() -> bool:
                return await count(db, select(func.count()).select_from(people)) >= n_people

            if not await wait_until(seeded, 300):
                log(f"[{label}] people projection did not fill in time")
                return
            headers = bearer(
                issuer.mint(tenant=tenant, roles=["communicator"], person="p00003", org_unit="adm")
            )

            async def drafted() -> bool:
                got = (await client.get("/v1/announcements", headers=headers)).json()
                return bool(got)

            if not await wait_until(drafted, 60):
                log(f"[{label}] no announcement draft appeared")
                return
            log(
                f"[{label}] setup: {n_people} people and the idea consumed in "
                f"{time.perf_counter() - started:.1f} s"
            )
            announcement = (await client.get("/v1/announcements", headers=headers)).json()[0]
            before = await count(db, select(func.count()).select_from(messages))

            # The raw rate is measured just before and just after, into an identical
            # table, because this machine's speed drifts while other work runs.
            raw_before = await raw_insert_rate(raw_url, n_people, chunk, "before")
            latencies: list[float] = []
            stop = asyncio.Event()

            async def probe() -> None:
                # Someone reading their inbox while the fan-out runs.
                reader = bearer(issuer.mint(tenant=tenant, roles=["employee"], person="p00000"))
                while not stop.is_set():
                    t = time.perf_counter()
                    await client.get("/v1/inbox", headers=reader, params={"limit": 20})
                    latencies.append((time.perf_counter() - t) * 1000)
                    await asyncio.sleep(0.02)

            t0 = time.perf_counter()
            resp = await client.post(
                f"/v1/announcements/{announcement['id']}/approve", headers=headers
            )
            approve_ms = (time.perf_counter() - t0) * 1000
            recipients = resp.json().get("recipients", 0)
            prober = asyncio.create_task(probe())

            async def all_written() -> bool:
                return (
                    await count(db, select(func.count()).select_from(messages)) - before
                    >= recipients
                )

            ok = await wait_until(all_written, 300)
            took = time.perf_counter() - t0
            stop.set()
            await prober
            final = (
                await client.get(f"/v1/announcements/{announcement['id']}", headers=headers)
            ).json()
            rate = recipients / took if took else 0.0
            raw_after = await raw_insert_rate(raw_url, recipients, chunk, "after")
            raw = (raw_before + raw_after) / 2
            log(
                f"[{label}] approve request answered in {approve_ms:.0f} ms (fan-out in background)"
            )
            log(
                f"[{label}] {recipients} inbox messages {'written' if ok else 'NOT all written'} "
                f"in {took:.2f} s → {rate:,.0f} messages/s; status {final.get('status')}, "
                f"delivered {final.get('delivered')}"
            )
            log(
                f"[{label}] raw Core insert() executemany of the same rows, chunks of {chunk}: "
                f"{raw_before:,.0f} rows/s before, {raw_after:,.0f} after → fan-out/raw ratio "
                f"{rate / raw:.2f}"
            )
            if latencies:
                log(
                    f"[{label}] GET /v1/inbox during fan-out: {len(latencies)} requests, "
                    f"p50 {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms"
                )
    finally:
        await nc.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ideabank-bench-"))
    server = NatsServer(work / "nats").start()
    issuer = LocalIssuer(work / "issuer")
    log(f"announcement fan-out to {args.people} people, chunks of {args.chunk}")
    try:
        try:
            await run(
                "sqlite",
                f"sqlite+aiosqlite:///{work / 'notification.db'}",
                f"sqlite+aiosqlite:///{work / 'raw.db'}",
                server.url,
                issuer,
                work,
                args.people,
                args.chunk,
            )
        except Exception:
            traceback.print_exc()
        if args.postgres:
            pg = None
            try:
                pg, admin = embedded_postgres(Path(tempfile.mkdtemp(prefix="ideabank-bench-pg-")))
                await run(
                    "postgres",
                    await create_postgres_database(admin),
                    await create_postgres_database(admin),
                    server.url,
                    issuer,
                    work,
                    args.people,
                    args.chunk,
                )
            except Exception:
                traceback.print_exc()
            finally:
                if pg is not None:
                    pg.cleanup()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception:
        traceback.print_exc()
    sys.exit(0)
