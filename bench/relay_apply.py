"""Outbox → JetStream relay and consumer apply throughput, next to raw nats-py, plus idle memory.

    .venv/bin/python -m bench.relay_apply [--events 20000] [--postgres] [--no-memory]

Prints events/s for: raw JetStream publish-with-ack (publish_async, thousands in flight); the
outbox relay reading committed rows back; the same rows written, then read back, against them
written and handed to a started relay as they commit (published from memory); raw pull
consume with ack; and the inbox consumer applying each event to a table. Each comes with its
ratio to the raw figure measured in the same run. Then it starts the whole platform (no demo
data) and prints its idle memory (sum of RSS of every process).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from ideabank_contracts import CloudEvent
from ideabank_infra.consumer import EventConsumers, Subscription
from ideabank_infra.db import Database
from ideabank_infra.messaging import connect, ensure_streams
from ideabank_infra.outbox import OutboxRelay, enqueue, event_headers
from ideabank_infra.testing import (
    NatsServer,
    create_postgres_database,
    embedded_postgres,
    free_port,
)
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select

metadata = MetaData()
applied = Table(
    "applied",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
)
PAYLOAD_PAD = "x" * 700  # events of about 1 KB, like FACTS.md's measurements


def make_events(tenant: str, n: int) -> list[CloudEvent]:
    now = datetime.now(UTC)
    return [
        CloudEvent(
            id=str(uuid.uuid4()),
            source="/bench",
            type="se.ideabank.idea.commented.v1",
            time=now,
            subject=f"idea-{i}",
            tenant=tenant,
            data={"idea_id": f"idea-{i}", "comment_id": f"c{i}", "pad": PAYLOAD_PAD},
        )
        for i in range(n)
    ]


async def raw_publish(js, tenant: str, n: int) -> float:  # type: ignore[no-untyped-def]
    # The same messages the relay sends (body and headers), straight from memory.
    events = make_events(tenant, n)
    prepared = [(e.nats_subject, e.to_json(), event_headers(e)) for e in events]
    started = time.perf_counter()
    for subject, body, headers in prepared:
        await js.publish_async(subject, body, headers=headers)
    await js.publish_async_completed()
    return n / (time.perf_counter() - started)


async def raw_consume(js, tenant: str, n: int) -> float:  # type: ignore[no-untyped-def]
    sub = await js.pull_subscribe(f"ideas.v1.{tenant}.>", durable=f"raw{tenant}", stream="IDEAS")
    got = 0
    started = time.perf_counter()
    while got < n:
        msgs = await sub.fetch(200, timeout=5)
        for m in msgs:
            await m.ack()
        got += len(msgs)
    return n / (time.perf_counter() - started)


async def run_throughput(db_url: str, label: str, nats_url: str, n: int) -> None:
    nc = await connect(nats_url, "bench")
    js = nc.jetstream(publish_async_max_pending=5000)
    await ensure_streams(js)
    db = Database(db_url)
    await db.create_all(metadata)

    raw_tenant = f"raw{uuid.uuid4().hex[:6]}"
    raw_pub = await raw_publish(js, raw_tenant, n)

    tenant = f"b{uuid.uuid4().hex[:6]}"
    events = make_events(tenant, n)
    started = time.perf_counter()
    for i in range(0, n, 1000):
        async with db.transaction() as conn:
            await enqueue(conn, events[i : i + 1000])
    written = time.perf_counter() - started
    relay = OutboxRelay(db, js, batch_size=1000)
    started = time.perf_counter()
    published = 0
    while published < n:
        published += await relay.drain()
    relayed = time.perf_counter() - started
    relay_rate = n / relayed

    # A started relay takes the rows each commit hands over and publishes them from memory.
    memory_tenant = f"m{uuid.uuid4().hex[:6]}"
    events = make_events(memory_tenant, n)
    relay = OutboxRelay(db, js, batch_size=1000)
    relay.start()
    try:
        started = time.perf_counter()
        for i in range(0, n, 1000):
            async with db.transaction() as conn:
                await enqueue(conn, events[i : i + 1000])
        while relay.published_total < n and time.perf_counter() - started < 120:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        memory_rate = relay.published_total / (time.perf_counter() - started)
    finally:
        await relay.stop()

    raw_cons = await raw_consume(js, raw_tenant, n)

    consumers = EventConsumers(db, js, batch_size=500)

    applied_so_far = {"n": 0}
    all_applied = asyncio.Event()

    async def apply(conn, events):  # type: ignore[no-untyped-def]
        # A read-model style handler: one bulk statement per fetched batch.
        await conn.execute(applied.insert(), [{"event_id": e.id} for e in events])
        applied_so_far["n"] += len(events)

    async def committed() -> None:
        if applied_so_far["n"] >= n:
            all_applied.set()

    consumers.add(
        Subscription(
            name=f"apply{tenant}",
            subjects=[f"ideas.v1.{tenant}.>"],
            handlers={},
            batch_handler=apply,
            after_batch=committed,
        )
    )
    started = time.perf_counter()
    await consumers.start()
    try:
        await asyncio.wait_for(all_applied.wait(), timeout=300)
    except TimeoutError:
        print("  apply did not finish within 300 s", flush=True)
    elapsed = time.perf_counter() - started
    async with db.engine.connect() as conn:
        done = (await conn.execute(select(func.count()).select_from(applied))).scalar_one()
    apply_rate = done / elapsed
    await consumers.stop()

    print(f"\n[{label}] {n} events of ~1 KB")
    print(f"  raw JetStream publish (publish_async) {raw_pub:>10,.0f} ev/s")
    print(
        f"  outbox relay → JetStream              {relay_rate:>10,.0f} ev/s  "
        f"ratio {relay_rate / raw_pub:.0%} (target ≥ 50 %)"
    )
    print(
        f"  outbox write, then relay reading it   {n / (written + relayed):>10,.0f} ev/s  "
        f"ratio {n / (written + relayed) / raw_pub:.0%} (commits of 1,000 included)"
    )
    print(
        f"  outbox write + relay from memory      {memory_rate:>10,.0f} ev/s  "
        f"ratio {memory_rate / raw_pub:.0%} (the same, handed over as they commit)"
    )
    print(f"  raw JetStream pull consume + ack      {raw_cons:>10,.0f} ev/s")
    print(
        f"  inbox consumer apply (row per event)  {apply_rate:>10,.0f} ev/s  "
        f"ratio {apply_rate / raw_cons:.0%} (target ≥ 50 %)",
        flush=True,
    )
    await db.dispose()
    await nc.close()


def idle_memory() -> None:
    import httpx
    import psutil

    data = Path(tempfile.mkdtemp(prefix="ideabank-bench-"))
    names = ["intake", "evaluation", "decision", "notification", "reporting", "portal"]
    ports = {name: free_port() for name in names}
    nats_port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "ideabank_cli.main",
        "up",
        "--no-demo",
        "--data-dir",
        str(data),
        "--nats-port",
        str(nats_port),
        "--ports",
        ",".join(f"{k}={v}" for k, v in ports.items()),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if all(
                    httpx.get(f"http://127.0.0.1:{p}/readyz", timeout=1).status_code == 200
                    for p in ports.values()
                ):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        time.sleep(5)  # let start-up garbage settle
        root = psutil.Process(proc.pid)
        procs = [root, *root.children(recursive=True)]
        rss = sum(p.memory_info().rss for p in procs if p.is_running())
        print(
            f"\n[platform] idle memory: {rss / 2**20:,.0f} MB RSS over {len(procs)} processes "
            f"(target < 600 MB)"
        )
        for p in procs:
            try:
                name = " ".join(p.cmdline()[2:4]) if "python" in p.name() else p.name()
                print(f"    {p.memory_info().rss / 2**20:6.0f} MB  {name}")
            except psutil.Error:
                pass
    finally:
        os.killpg(proc.pid, 2)
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--postgres", action="store_true", help="also measure on PostgreSQL")
    parser.add_argument("--no-memory", action="store_true", help="skip the idle-memory figure")
    args = parser.parse_args()
    store = Path(tempfile.mkdtemp(prefix="ideabank-bench-nats-"))
    tmp = Path(tempfile.mkdtemp(prefix="ideabank-bench-db-"))
    server = NatsServer(store).start()
    try:
        await run_throughput(
            f"sqlite+aiosqlite:///{tmp / 'bench.db'}", "SQLite", server.url, args.events
        )
        if args.postgres:
            pg, admin = embedded_postgres(Path(tempfile.mkdtemp(prefix="ideabank-bench-pg-")))
            try:
                await run_throughput(
                    await create_postgres_database(admin), "PostgreSQL", server.url, args.events
                )
            finally:
                pg.cleanup()
    finally:
        server.stop()
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    if not args.no_memory:
        idle_memory()


if __name__ == "__main__":
    asyncio.run(main())
