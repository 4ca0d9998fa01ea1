"""Reporting at scale: a synthetic history, replayed; KPI and comparison query latency.

    .venv/bin/python -m bench.reporting_scale [--tenants 20] [--ideas 2000] [--network-size 5]
        [--postgres | --database-url postgresql+asyncpg://…] [--nats-url nats://…]
        [--queries 200] [--passes 1] [--fill-tenants 1050 --fill-ideas 24000] [--reuse]

Generates ``--ideas`` ideas per tenant for ``--tenants`` tenants (each with its organisation,
headcounts, targets and a network of ``--network-size`` members) spread over three years,
each idea walking part of the lifecycle (about 5 events per idea). Publishes the history to
a real nats-server with ``publish_async`` (a fresh one in a temporary folder unless
``--nats-url``), measures the raw JetStream consume rate (a plain nats-py pull fetch of the
same events), replays the stream into a fresh database with the reporting service's own
replay, then times the KPI and the network comparison queries (p50/p95 over ``--queries``
random calls). Without ``--database-url`` the read model goes into a temporary SQLite file;
``--postgres`` starts an embedded PostgreSQL in a temporary folder for it.

``--fill-tenants N --fill-ideas M`` (PostgreSQL) then grows the read model to N tenants of
about M ideas each before the queries, without going through the stream: each new tenant is
a copy of a replayed one (its organisation, headcounts, targets and idea facts, repeated
until it has M ideas), its cells computed by the service's own code, in networks of
``--network-size``. That is how the queries are timed at full scale (25 M ideas × 1,050
tenants) on one machine, where replaying 95 M events would take hours; the replay rate is
the one measured on the sample. Idea timelines are not copied (the queries do not read them).

Before the queries it brings the cache of each tenant-year's medians up to date, as the
service's background refresher does after a load, and says how long that took.
``--passes 2`` times the same queries twice: the first pass reads much from disk, the
second from memory. ``--reuse`` only times the queries, on the read model already in
``--database-url`` (a database filled by an earlier run).
Bounded: it stops publishing or replaying after ``--max-seconds`` and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ideabank_infra.db import Database
from ideabank_infra.messaging import connect, ensure_streams
from ideabank_infra.testing import NatsServer, create_postgres_database, embedded_postgres
from ideabank_reporting import handlers, store
from ideabank_reporting.rebuild import ReplayResult, replay
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import text

TYPE = "se.ideabank.{}.v1"
CATEGORIES = ["Arbetsmiljö", "Miljö", "Digitalisering", "Service", "Ekonomi"]
CHANNELS = ["staff_portal", "staff_portal", "staff_portal", "public_channel", "deviation"]


def ce(
    tenant: str, kind: str, subject: str, at: datetime, data: dict[str, Any]
) -> tuple[str, bytes, str]:
    event_id = uuid.uuid4().hex
    body = {
        "specversion": "1.0",
        "id": event_id,
        "source": "/bench",
        "type": TYPE.format(kind),
        "time": at.isoformat(),
        "subject": subject,
        "datacontenttype": "application/json",
        "tenant": tenant,
        "data": data,
    }
    return f"ideas.v1.{tenant}.{kind}", json.dumps(body).encode(), event_id


def tenant_history(
    tenant: str, ideas: int, network: str, rng: random.Random
) -> list[tuple[str, bytes, str]]:
    """One tenant's organisation and ``ideas`` ideas with their lifecycles."""
    t0 = datetime(2023, 1, 1, tzinfo=UTC)
    out = [
        ce(
            tenant,
            "tenant.registered",
            tenant,
            t0,
            {
                "tenant": tenant,
                "name": tenant.upper(),
                "country": "SE",
                "default_language": "sv",
                "currency": "SEK",
            },
        )
    ]
    units: list[tuple[str, str]] = []
    for a in range(2):
        admin = f"{tenant}-adm{a}"
        out.append(
            ce(
                tenant,
                "org_unit.defined",
                admin,
                t0,
                {
                    "org_unit_id": admin,
                    "kind": "administration",
                    "name": f"Förvaltning {a}",
                    "administration_id": admin,
                },
            )
        )
        for u in range(2):
            unit = f"{admin}-u{u}"
            units.append((unit, admin))
            out.append(
                ce(
                    tenant,
                    "org_unit.defined",
                    unit,
                    t0,
                    {
                        "org_unit_id": unit,
                        "parent_id": admin,
                        "kind": "unit",
                        "name": f"Enhet {u}",
                        "administration_id": admin,
                    },
                )
            )
    for year in (2023, 2024, 2025):
        for unit, _ in units:
            out.append(
                ce(
                    tenant,
                    "headcount.set",
                    unit,
                    t0,
                    {"org_unit_id": unit, "year": year, "headcount": rng.randint(50, 500)},
                )
            )
        out.append(
            ce(tenant, "target.set", tenant, t0, {"year": year, "ideas_per_employee": "0.5"})
        )
    out.append(ce(tenant, "network.joined", network, t0, {"network": network, "tenant": tenant}))
    for i in range(ideas):
        idea = f"{tenant}-i{i}"
        unit, admin = rng.choice(units)
        at = t0 + timedelta(minutes=rng.randint(0, 3 * 365 * 24 * 60))
        out.append(
            ce(
                tenant,
                "idea.submitted",
                idea,
                at,
                {
                    "idea_id": idea,
                    "actor_id": f"{tenant}-p{rng.randint(1, 999)}",
                    "org_unit_id": unit,
                    "administration_id": admin,
                    "category": rng.choice(CATEGORIES),
                    "channel": rng.choice(CHANNELS),
                    "title": f"Idé {i}",
                    "description": "d",
                    "problem": "p",
                    "submitted_at": at.isoformat(),
                },
            )
        )
        at += timedelta(hours=rng.randint(1, 72))
        out.append(
            ce(
                tenant,
                "idea.assigned",
                idea,
                at,
                {
                    "idea_id": idea,
                    "ambassador_id": f"{tenant}-amb",
                    "administration_id": admin,
                    "assigned_at": at.isoformat(),
                },
            )
        )
        if rng.random() < 0.15:
            continue
        at += timedelta(hours=rng.randint(4, 400))
        outcome = rng.choice(
            ["rejected", "paused", "quick_win", "in_development", "in_development"]
        )
        screening: dict[str, Any] = {
            "idea_id": idea,
            "screening_id": f"s{idea}",
            "actor_id": f"{tenant}-amb",
            "administration_id": admin,
            "outcome": outcome,
            "template_version": 1,
            "completed_at": at.isoformat(),
            "motivation": "Motivering" if rng.random() < 0.7 or outcome == "rejected" else None,
        }
        if outcome == "paused":
            screening["revisit_date"] = (at + timedelta(days=90)).date().isoformat()
        if outcome == "quick_win":
            screening["routed_to_org_unit_id"] = unit
        out.append(ce(tenant, "screening.completed", idea, at, screening))
        if outcome in ("rejected", "paused"):
            continue
        at += timedelta(days=rng.randint(1, 40))
        decision = rng.choice(["approved", "approved", "approved", "deferred", "rejected"])
        out.append(
            ce(
                tenant,
                "decision.made",
                idea,
                at,
                {
                    "idea_id": idea,
                    "decision_id": f"d{idea}",
                    "actor_id": f"{tenant}-m",
                    "decided_by": "management",
                    "org_unit_id": unit,
                    "administration_id": admin,
                    "outcome": decision,
                    "kind": "direct",
                    "implementer_id": f"{tenant}-impl",
                    "motivation": "Beslut",
                    "revisit_date": (at + timedelta(days=60)).date().isoformat(),
                    "decided_at": at.isoformat(),
                },
            )
        )
        if decision != "approved":
            continue
        at += timedelta(days=rng.randint(5, 90))
        out.append(
            ce(
                tenant,
                "idea.implemented",
                idea,
                at,
                {
                    "idea_id": idea,
                    "actor_id": f"{tenant}-impl",
                    "org_unit_id": unit,
                    "administration_id": admin,
                    "implemented_at": at.isoformat(),
                },
            )
        )
        if rng.random() < 0.5:
            at += timedelta(days=rng.randint(30, 180))
            out.append(
                ce(
                    tenant,
                    "idea.evaluated",
                    idea,
                    at,
                    {
                        "idea_id": idea,
                        "actor_id": f"{tenant}-ig",
                        "org_unit_id": unit,
                        "administration_id": admin,
                        "realised_benefit": {
                            "amount": str(rng.randint(1000, 90000)),
                            "currency": "SEK",
                        },
                        "realised_hours": str(rng.randint(5, 400)),
                        "lessons_learned": "Lärdom",
                        "evaluated_at": at.isoformat(),
                    },
                )
            )
    return out


#: Columns of the read model that name an org unit of their tenant (ids carry the tenant slug).
_UNIT_COLUMNS = {"org_unit_id", "administration_id", "parent_id"}


def _copy_sql(table: Any, *, copies: bool = False) -> str:
    """INSERT … SELECT that copies rows of ``table`` from sample tenants to new tenants.

    Bound by ``VALUES`` of (new tenant, sample tenant, network) pairs in ``pairs``; with
    ``copies``, each row is repeated ``:copies`` times with a suffixed ``idea_id``.
    """
    exprs = []
    for column in table.columns:
        name = column.name
        if name == "tenant":
            exprs.append("p.new_tenant")
        elif name == "network":
            exprs.append("p.network")
        elif name in _UNIT_COLUMNS or (name == "scope" and table is store.targets):
            exprs.append(f"replace(r.{name}, r.tenant, p.new_tenant)")
        elif name == "idea_id" and copies:
            exprs.append("r.idea_id || '-c' || c.n")
        else:
            exprs.append(f"r.{name}")
    names = ", ".join(c.name for c in table.columns)
    join = ", generate_series(1, CAST(:copies AS integer)) AS c(n)" if copies else ""
    return (
        f"INSERT INTO {table.name} ({names}) SELECT {', '.join(exprs)} "
        f"FROM {table.name} r JOIN unnest(CAST(:new_tenants AS text[]), "
        "CAST(:samples AS text[]), CAST(:networks AS text[])) "
        f"AS p(new_tenant, sample, network) ON r.tenant = p.sample{join}"
    )


async def fill(
    db: Database,
    *,
    samples: list[str],
    ideas_per_sample: int,
    prefix: str,
    tenants: int,
    ideas: int,
    network_size: int,
    deadline: float,
) -> dict[str, str]:
    """Grow the read model to ``tenants`` tenants of about ``ideas`` ideas (PostgreSQL).

    The new tenants and their networks; the tables are vacuumed and analysed at the end,
    as autovacuum would do after such a load.
    """
    copies = max(1, round(ideas / max(1, ideas_per_sample)))
    slugs = [f"{prefix}x{k}" for k in range(tenants)]
    networks = {s: f"{prefix}xn{k // network_size}" for k, s in enumerate(slugs)}
    chunk = 10
    started = time.perf_counter()
    made = 0
    for start in range(0, len(slugs), chunk):
        part = slugs[start : start + chunk]
        params = {
            "new_tenants": part,
            "samples": [samples[(start + i) % len(samples)] for i in range(len(part))],
            "networks": [networks[s] for s in part],
            "copies": copies,
        }
        async with db.transaction() as conn:
            for table in (
                store.tenants,
                store.org_units,
                store.headcounts,
                store.targets,
                store.year_versions,
            ):
                await conn.execute(text(_copy_sql(table)), params)
            await conn.execute(
                text(
                    "INSERT INTO rp_network_members (network, tenant, active, changed_at) "
                    "SELECT network, new_tenant, true, now() "
                    "FROM unnest(CAST(:networks AS text[]), CAST(:new_tenants AS text[])) "
                    "AS p(network, new_tenant)"
                ),
                params,
            )
            await conn.execute(text(_copy_sql(store.idea_facts, copies=True)), params)
            months = await conn.execute(
                text(
                    "SELECT DISTINCT tenant, year, month FROM idea_facts "
                    "WHERE tenant = ANY(CAST(:t AS text[])) AND year IS NOT NULL"
                ),
                {"t": part},
            )
            await store.recompute_cells(conn, [tuple(m) for m in months])
        made += len(part)
        elapsed = time.perf_counter() - started
        print(
            f"\r  filled {made:,}/{tenants:,} tenants ({made * copies * ideas_per_sample:,} ideas) "
            f"in {elapsed:,.0f} s",
            end="",
            flush=True,
        )
        if time.perf_counter() > deadline:
            print("\n  filling stopped at the time limit", flush=True)
            slugs = slugs[:made]
            break
    print(flush=True)
    started = time.perf_counter()
    async with db.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("idea_facts", "kpi_cells", "rp_org_units", "rp_network_members"):
            await auto.execute(text(f"VACUUM (ANALYZE) {table}"))
    print(f"  vacuumed and analysed in {time.perf_counter() - started:,.0f} s", flush=True)
    return {s: networks[s] for s in slugs}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class History:
    """The published sample, its raw consume rate and its replay."""

    slugs: list[str]
    networks: dict[str, str]
    published: int
    raw_rate: float
    replay: ReplayResult


async def history(
    args: argparse.Namespace, rng: random.Random, run_id: str, nats_url: str, database_url: str
) -> History:
    """Publish the synthetic history, time a raw pull of it, and replay it into the database."""
    deadline = time.perf_counter() + args.max_seconds
    slugs = [f"s{run_id}t{i}" for i in range(args.tenants)]
    networks = {s: f"s{run_id}n{i // args.network_size}" for i, s in enumerate(slugs)}
    nc = await connect(nats_url, "bench-reporting")
    js = nc.jetstream(publish_async_max_pending=20000)
    await ensure_streams(js)

    gen_started = time.perf_counter()
    published = 0
    pub_seconds = 0.0
    for slug in slugs:
        events = tenant_history(slug, args.ideas, networks[slug], rng)
        started = time.perf_counter()
        for subject, body, event_id in events:
            await js.publish_async(subject, body, headers={"Nats-Msg-Id": event_id})
        await js.publish_async_completed()
        pub_seconds += time.perf_counter() - started
        published += len(events)
        if time.perf_counter() > deadline:
            print(f"publishing stopped at the time limit after {slug}", flush=True)
            break
    print(
        f"generated and published {published:,} events in "
        f"{time.perf_counter() - gen_started:.1f} s (publish {published / pub_seconds:,.0f} ev/s)",
        flush=True,
    )

    # Raw consume: a plain pull fetch of the same events, no parsing, no database.
    psub = await js.pull_subscribe(
        f"ideas.v1.s{run_id}t0.>",
        stream="IDEAS",
        config=ConsumerConfig(
            filter_subjects=[f"ideas.v1.{s}.>" for s in slugs],
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.ALL,
            inactive_threshold=30.0,
        ),
    )
    got = 0
    started = time.perf_counter()
    while got < published and time.perf_counter() < deadline:
        try:
            got += len(await psub.fetch(1000, timeout=5))
        except (TimeoutError, NatsTimeout):
            break
    raw_rate = got / (time.perf_counter() - started)
    await psub.unsubscribe()
    await nc.close()

    result = await replay(
        database_url=database_url, nats_url=nats_url, tenants=slugs, batch_size=args.batch_size
    )
    print(f"replayed {result.events:,} events in {result.seconds:.1f} s", flush=True)
    return History(slugs, networks, published, raw_rate, result)


async def members(db: Database) -> dict[str, str]:
    """Every current network member of the read model and its network (for ``--reuse``)."""
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT tenant, network FROM rp_network_members WHERE active")
        )
        return {tenant: network for tenant, network in rows}


async def time_queries(
    db: Database, rng: random.Random, networks: dict[str, str], count: int
) -> tuple[list[float], list[float]]:
    """Milliseconds of ``count`` KPI and comparison queries on random tenants and years."""
    slugs = sorted(networks)
    kpi_ms: list[float] = []
    cmp_ms: list[float] = []
    for _ in range(count):
        tenant = rng.choice(slugs)
        year = rng.choice((2023, 2024, 2025))
        org = rng.choice([None, f"{tenant}-adm0", f"{tenant}-adm1-u1"])
        async with db.engine.connect() as conn:
            t = time.perf_counter()
            await handlers.kpis(conn, tenant=tenant, year=year, org_unit=org)
            kpi_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await handlers.comparison(conn, tenant=tenant, network=networks[tenant], year=year)
            cmp_ms.append((time.perf_counter() - t) * 1000)
    return kpi_ms, cmp_ms


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    run_id = uuid.uuid4().hex[:5]
    server = None
    tmp = Path(tempfile.mkdtemp(prefix="ideabank-bench-"))
    nats_url = args.nats_url
    pg = None
    if args.postgres:
        pg, admin_url = embedded_postgres(tmp / "pg")
        database_url = await create_postgres_database(admin_url)
    else:
        database_url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'reporting.db'}"
    try:
        sample: History | None = None
        if not args.reuse:
            if not nats_url:
                server = NatsServer(tmp / "nats").start()
                nats_url = server.url
            sample = await history(args, rng, run_id, nats_url, database_url)
        db = Database(database_url)
        networks = sample.networks if sample else await members(db)
        if args.fill_tenants and sample:
            if db.dialect != "postgresql":
                raise SystemExit("--fill-tenants needs PostgreSQL (--postgres or --database-url)")
            print(
                f"filling to {args.fill_tenants:,} tenants × ~{args.fill_ideas:,} ideas",
                flush=True,
            )
            networks = await fill(
                db,
                samples=sample.slugs,
                ideas_per_sample=args.ideas,
                prefix=f"s{run_id}",
                tenants=args.fill_tenants,
                ideas=args.fill_ideas,
                network_size=args.network_size,
                deadline=time.perf_counter() + args.max_seconds,
            )
        # What the service's background refresher does after a load: bring the cache of
        # each tenant-year's medians up to date (queries compute the out-of-date ones).
        started = time.perf_counter()
        refreshed = 0
        while n := await store.refresh_year_medians(db, limit=200):
            refreshed += n
        print(
            f"medians of {refreshed:,} tenant-years cached in "
            f"{time.perf_counter() - started:,.1f} s",
            flush=True,
        )
        if db.dialect == "postgresql":
            async with db.engine.connect() as conn:
                size = (
                    await conn.execute(
                        text("SELECT pg_size_pretty(pg_database_size(current_database()))")
                    )
                ).scalar_one()
                facts = (
                    await conn.execute(
                        text("SELECT reltuples::bigint FROM pg_class WHERE relname = 'idea_facts'")
                    )
                ).scalar_one()
                if facts < 0:  # not analysed yet (no fill): small enough to count
                    facts = (
                        await conn.execute(text("SELECT count(*) FROM idea_facts"))
                    ).scalar_one()
            scale = f"{len(networks):,} tenants, about {facts:,} ideas ({size})"
        else:
            scale = f"{len(networks):,} tenants"
        passes = []
        for _ in range(args.passes):
            passes.append(await time_queries(db, random.Random(args.seed), networks, args.queries))
        await db.dispose()

        print(f"\nreporting at {scale}, database {db.dialect}, networks of {args.network_size}")
        if sample:
            print(
                f"  sample: {len(sample.slugs)} tenants × {args.ideas:,} ideas "
                f"({sample.published:,} events)"
            )
            print(f"  raw JetStream consume (pull fetch)  {sample.raw_rate:>10,.0f} ev/s")
            print(
                f"  replay into the read model          {sample.replay.rate:>10,.0f} ev/s  "
                f"ratio {sample.replay.rate / sample.raw_rate:.0%} of raw consume"
            )
        for n, (kpi_ms, cmp_ms) in enumerate(passes, start=1):
            label = f", pass {n} of {len(passes)}" if len(passes) > 1 else ""
            print(
                f"  GET /v1/kpis query                  p50 {statistics.median(kpi_ms):6.1f} ms  "
                f"p95 {pct(kpi_ms, 95):6.1f} ms  (target p95 < 50 ms{label})"
            )
            print(
                f"  network comparison query            p50 {statistics.median(cmp_ms):6.1f} ms  "
                f"p95 {pct(cmp_ms, 95):6.1f} ms  (target p95 < 50 ms{label})"
            )
    finally:
        if server is not None:
            server.stop()
        if pg is not None:
            pg.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--ideas", type=int, default=2000, help="ideas per tenant")
    parser.add_argument("--network-size", type=int, default=5)
    parser.add_argument("--database-url", help="read model database (default: temporary SQLite)")
    parser.add_argument(
        "--postgres", action="store_true", help="read model in an embedded PostgreSQL"
    )
    parser.add_argument(
        "--fill-tenants", type=int, default=0, help="grow the read model to this many tenants"
    )
    parser.add_argument(
        "--fill-ideas", type=int, default=24000, help="ideas per filled tenant (about)"
    )
    parser.add_argument("--nats-url", help="NATS to use (default: a fresh nats-server)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--passes",
        type=int,
        default=1,
        help="time the same queries this many times (the first reads from disk, later ones "
        "from memory)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="only time the queries, on the read model already in --database-url",
    )
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--max-seconds", type=float, default=1800)
    parser.add_argument("--seed", type=int, default=7)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
