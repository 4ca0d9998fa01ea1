"""The pipeline end to end: ideas submitted over HTTP until they are visible in the KPIs.

    .venv/bin/python -m bench.pipeline [--seconds 5] [--connections 50,200] [--rounds 3]
        [--max-ideas 20000] [--postgres] [--services all|pipeline] [--latency-runs 3]

Starts a nats-server, the whole platform (uvicorn subprocesses on loopback, one worker each,
httptools, no access log, SQLite each or ``--postgres``): intake and reporting, which the
measured path goes through, and evaluation, decision and notification, which consume every
submission too, and the portal; ``--services pipeline`` starts intake and reporting only.
Beside them, a plain FastAPI app whose POST only publishes to JetStream (a stream no service
reads): the raw ceiling of "HTTP in, event out" on this machine. Then:

1. ceiling: that plain POST under closed-loop load (``wrk`` if installed, else an httpx
   load generator) for ``--seconds``, at each number of ``--connections``;
2. sustained: ``POST /v1/ideas`` on intake under the same loads, each followed by the time
   until the last accepted idea is counted by reporting's ``GET /v1/kpis``: ideas/s end to
   end. Each side is taken at its best: the plain POST is CPU-bound with a few dozen
   requests in flight (more only queue), while intake's group commit needs enough of them
   to fill its groups (with too few, its loop waits for the load generator between groups).
   Phases 1 and 2 alternate for ``--rounds`` rounds: the machine's speed drifts by a tenth or
   more within minutes, so the ratio is taken within each round (best to best) and the
   median of the rounds printed, with each round's;
3. latency: an open-loop generator submitting at half the ceiling (the target's rate), then
   at half the sustained rate (each the median of the rounds' best), for ``--seconds`` or
   ``--latency-ideas`` ideas, whichever is less, ``--latency-runs`` times at each rate (the
   median printed, with each run's p99: a run of a second or so swings by a third from one
   to the next), while a poller starts a read of ``GET /v1/kpis`` every 50 ms; an idea's
   submit-to-visible latency is from its request to the end of the first poll whose
   ``submitted`` count includes it (in commit order, so each figure is within one poll
   interval and one KPI read). The generator is Python, in a process of its own (so that its
   sending and the polling never wait for each other), and opens its keep-alive connections
   before its clock starts, as a proxy in front of intake keeps its own open; it shares the
   two cores with what it measures (about 40 µs of CPU a request, see ``OpenLoop``) and
   prints what it offered. An idea's latency counts from when its request was due, so a
   generator or a connection that falls behind is measured too;
4. CPU: each process's CPU time over the closed-loop phases after the warm-up, per idea (for
   intake's phases, until every consumer has applied what it accepted, so the consumers'
   catching up is counted) and per request of the plain POST (see ``CpuMeter``).

Every phase starts on a quiet platform: each durable consumer of the ideas stream has applied
and acked all it was given (see ``drained``).

Before the first phase, each side gets a warm-up load (the ceiling ``WARM_UP_SECONDS``,
intake ``--seconds`` at 200 connections), and on PostgreSQL the databases are then analyzed,
as autovacuum does within a minute or two of a start; they are analyzed again between the
closed-loop load and the latency phases (see ``analyze`` and the warm-up in ``run``). Every
phase is bounded by time and count; the benchmark prints what it got and never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import collections
import contextlib
import dataclasses
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing
import uuid
from pathlib import Path
from typing import Any

import httpx
import nats
import uvloop
from fastapi import FastAPI, Request
from ideabank_contracts import STREAM_NAME
from ideabank_infra.auth import LocalIssuer
from ideabank_infra.messaging import stream_configs
from ideabank_infra.testing import (
    NatsServer,
    create_postgres_database,
    embedded_postgres,
    free_port,
)
from nats.js.errors import BadRequestError

YEAR = time.gmtime().tm_year
#: Pause between two reads of the KPIs while waiting for ideas to show. Each read is a real
#: KPI query, so polling much faster would load reporting more than the ideas do.
POLL_SECONDS = 0.05
#: Length of the ceiling's warm-up load (intake's lasts ``--seconds``; see ``run``).
WARM_UP_SECONDS = 2.0


def ceiling_app() -> FastAPI:
    """A plain FastAPI POST that publishes its body to JetStream (no database, no auth)."""
    app = FastAPI()
    state: dict[str, Any] = {}

    @app.on_event("startup")
    async def start() -> None:
        nc = await nats.connect(os.environ["IDEABANK_NATS_URL"])
        js = nc.jetstream()
        state["nc"], state["js"] = nc, js
        # A stream of its own, stored like the IDEAS stream: on IDEAS, reporting would
        # have to read (and set aside) every one of these bodies during the later phases.
        ideas = next(c for c in stream_configs() if c.name == STREAM_NAME)
        config = dataclasses.replace(ideas, name="BENCH_CEILING", subjects=["bench.ceiling.>"])
        with contextlib.suppress(BadRequestError):  # already there
            await js.add_stream(config)

    @app.post("/v1/ideas", status_code=201)
    async def post(request: Request) -> dict[str, str]:
        body = await request.body()
        event_id = uuid.uuid4().hex
        await state["js"].publish(
            "bench.ceiling.idea.submitted", body, headers={"Nats-Msg-Id": event_id}
        )
        return {"id": event_id}

    return app


def start_server(
    target: str, port: int, env: dict[str, str], log: Path, workers: int = 1
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            "--workers",
            str(workers),
        ],
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


async def wait_ready(url: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as c:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await c.get(url)).status_code < 500:
                    return True
            await asyncio.sleep(0.2)
    return False


WRK_SCRIPT = """
counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
request = function()
  counter = counter + 1
  local body = string.format('{"title":"Idé %%d från %%s","description":"Beskrivning %%d",' ..
    '"problem":"Problem %%d","org_unit_id":"%(unit)s","category":"Bench"}',
    counter, "%(thread)s", counter, counter)
  return wrk.format(nil, nil, nil, body)
end
"""


def body(n: int, unit: str) -> dict[str, str]:
    return {
        "title": f"Idé {n} {uuid.uuid4().hex[:6]}",
        "description": f"Beskrivning {n}",
        "problem": f"Problem {n}",
        "org_unit_id": unit,
        "category": "Bench",
    }


async def closed_loop(
    url: str, token: str, unit: str, seconds: float, connections: int, max_requests: int, tmp: Path
) -> tuple[float, int]:
    """Requests/s and number of 2xx answers under ``connections`` concurrent clients."""
    if shutil.which("wrk"):
        script = tmp / f"post-{uuid.uuid4().hex[:6]}.lua"
        script.write_text(
            WRK_SCRIPT % {"token": token, "unit": unit, "thread": uuid.uuid4().hex[:6]}
        )
        proc = await asyncio.create_subprocess_exec(
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "-s",
            str(script),
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=seconds + 30)
        text = out.decode()
        rate = next(
            (
                float(line.split()[1])
                for line in text.splitlines()
                if line.startswith("Requests/sec")
            ),
            0.0,
        )
        total = next(
            (int(line.split()[0]) for line in text.splitlines() if "requests in" in line), 0
        )
        errors = next((int(line.split()[-1]) for line in text.splitlines() if "Non-2xx" in line), 0)
        return rate, total - errors
    ok = 0
    sent = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=connections)) as c:

        async def worker() -> None:
            nonlocal ok, sent
            while time.perf_counter() < deadline and sent < max_requests:
                sent += 1
                r = await c.post(url, json=body(sent, unit), headers=headers)
                ok += r.status_code < 300

        await asyncio.gather(*(worker() for _ in range(connections)))
    return ok / (time.perf_counter() - started), ok


class _Connection(asyncio.Protocol):
    """One keep-alive connection of :class:`OpenLoop`: a request at a time, its answer
    parsed as it arrives (status line, ``Content-Length``, body) straight from the buffer."""

    def __init__(self, owner: OpenLoop) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.sent = 0.0  # when its request went out

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].lower()
        at = head.find(b"content-length:")
        length = int(head[at + 15 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
        if len(self.buffer) < end + 4 + length:
            return
        status = int(self.buffer[9:12])
        self.buffer = self.buffer[end + 4 + length :]
        self.owner.answered(self, status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.lost(self, exc)


class OpenLoop:
    """Requests sent at a fixed rate over keep-alive connections, whatever the answers do.

    The load generator shares the two cores with the platform it measures, so it is built
    to cost little: every request is encoded before the clock starts, a timer tick sends all
    that are due, and answers are parsed in the connections' ``data_received`` (no task, no
    stream reader a request). A request that finds every connection busy waits for the
    next one free, and its latency counts from when it was due to go.
    """

    def __init__(self, url: str, connections: int) -> None:
        parts = httpx.URL(url)
        self.host, self.port = parts.host, parts.port or 80
        self.size = connections
        self.free: collections.deque[_Connection] = collections.deque()
        self.waiting: collections.deque[tuple[bytes, float]] = collections.deque()
        self.sent_at: list[float] = []
        self.done_at: list[float] = []
        self.failed: collections.Counter[str] = collections.Counter()
        self.outstanding = 0
        self.alive = 0
        self.all_sent = False  # set once the last request is handed to send()
        self.finished = asyncio.Event()

    async def open(self) -> None:
        """Open every connection now, ahead of the requests."""
        loop = asyncio.get_running_loop()
        for _ in range(self.size):
            _, conn = await loop.create_connection(lambda: _Connection(self), self.host, self.port)
            self.free.append(conn)
            self.alive += 1

    def send(self, request: bytes, due: float) -> None:
        self.outstanding += 1
        if self.free:
            self._write(self.free.popleft(), request, due)
        else:
            self.waiting.append((request, due))

    def _write(self, conn: _Connection, request: bytes, due: float) -> None:
        assert conn.transport is not None
        conn.sent = due
        conn.transport.write(request)

    def answered(self, conn: _Connection, status: int) -> None:
        if status < 300:
            self.sent_at.append(conn.sent)
            self.done_at.append(time.perf_counter())
        else:
            self.failed[str(status)] += 1
        self._settled()
        if self.waiting:
            self._write(conn, *self.waiting.popleft())
        else:
            self.free.append(conn)

    def lost(self, conn: _Connection, exc: Exception | None) -> None:
        self.alive -= 1
        if conn in self.free:
            self.free.remove(conn)
        elif conn.sent:
            self.failed[type(exc).__name__ if exc else "connection closed"] += 1
            self._settled()
        if self.alive == 0 and self.waiting:  # nothing left to send them on
            self.failed["no connection left"] += len(self.waiting)
            self.outstanding -= len(self.waiting)
            self.waiting.clear()
            self._settled(0)

    def _settled(self, count: int = 1) -> None:
        self.outstanding -= count
        if self.all_sent and self.outstanding == 0:
            self.finished.set()

    def close(self) -> None:
        for conn in self.free:
            if conn.transport is not None:
                conn.transport.close()


class CpuMeter:
    """CPU time of named processes (with their children: uvicorn's workers) over measured
    phases, per item handled in them. Where the two cores go, in figures that do not move
    with this machine's speed as much as rates do."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._at: dict[str, float] | None = None
        self.reset()

    def reset(self) -> None:
        """Forget what was measured so far (the warm-up)."""
        self.used = dict.fromkeys(self.pids, 0.0)
        self.items = 0

    def start(self) -> None:
        """A measured phase begins."""
        self._at = self._read()

    def stop(self, items: int) -> None:
        """The phase ends, having handled ``items``."""
        if self._at is None:
            return
        now = self._read()
        for name in self.pids:
            self.used[name] += now[name] - self._at[name]
        self.items += items
        self._at = None

    def summary(self, unit: str) -> str:
        """Microseconds of CPU per item, by process and in all."""
        if not self.items:
            return f"no {unit} measured"
        per = {name: 1e6 * used / self.items for name, used in self.used.items()}
        parts = ", ".join(f"{name} {us:,.0f}" for name, us in per.items())
        return f"{parts}; all {sum(per.values()):,.0f} µs per {unit}"

    def _read(self) -> dict[str, float]:
        import psutil  # installed with embedded-postgres, as for bench.relay_apply

        out: dict[str, float] = {}
        for name, pid in self.pids.items():
            try:
                proc = psutil.Process(pid)
                tree = [proc, *proc.children(recursive=True)]
                out[name] = sum(sum(t.cpu_times()[:2]) for t in tree)  # user + system
            except psutil.Error:
                out[name] = 0.0
        return out


async def drained(nats_url: str, timeout: float = 60.0) -> float:
    """Wait until every durable consumer of the ideas stream has applied and acked all it
    was given (at most ``timeout`` seconds): the seconds it took. Each phase starts on a
    quiet platform, so no consumer still catching up on the last phase's ideas takes the
    cores from the next (a ceiling measured beside them would come out low)."""
    started = time.perf_counter()
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        while time.perf_counter() - started < timeout:
            busy = [
                info
                for info in await js.consumers_info(STREAM_NAME)
                if (info.num_pending or 0) + (info.num_ack_pending or 0) > 0
            ]
            if not busy:
                break
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await nc.close()
    return time.perf_counter() - started


async def kpi_count(c: httpx.AsyncClient, url: str, headers: dict[str, str]) -> int:
    try:
        r = await c.get(url, params={"year": YEAR}, headers=headers)
    except httpx.HTTPError:
        return -1
    return int(r.json().get("submitted", 0)) if r.status_code == 200 else -1


#: Keep-alive connections of the open-loop generator, opened before its clock starts.
OPEN_LOOP_CONNECTIONS = 200
#: The open-loop generator's timer: each tick sends every request that has come due.
TICK_SECONDS = 0.001


async def open_loop(
    url: str, token: str, unit: str, rate: float, n: int, connections: int
) -> dict[str, Any]:
    """Submit ``n`` ideas at ``rate`` over ``connections`` keep-alive connections, opened
    first (as a proxy in front of intake keeps its own open); each accepted idea's request
    and answer times (``time.perf_counter``, the system's monotonic clock), the rate the
    requests went out at, and what was not accepted."""
    client = OpenLoop(url, connections)
    await client.open()
    host = f"{client.host}:{client.port}"
    requests = []
    for i in range(n):
        payload = json.dumps(body(i, unit)).encode()
        requests.append(
            f"POST /v1/ideas HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
    t_start = time.perf_counter()
    sent = 0
    offered = rate
    try:
        while sent < n:
            now = time.perf_counter()
            due = min(n, int((now - t_start) * rate) + 1)
            for k in range(sent, due):
                client.send(requests[k], t_start + k / rate)
            sent = due
            await asyncio.sleep(TICK_SECONDS)
        # The rate the requests went out at (the generator may fall behind its aim).
        offered = n / max(time.perf_counter() - t_start, 1e-9) if n > 1 else rate
        client.all_sent = True
        if client.outstanding:
            await asyncio.wait_for(client.finished.wait(), timeout=120)
    except TimeoutError:
        client.failed["no answer within 120 s"] += client.outstanding
    finally:
        client.close()
    return {
        "sent_at": client.sent_at,
        "done_at": client.done_at,
        "offered": offered,
        "failed": client.failed,
    }


async def latency_at(
    rate: float, n: int, intake: str, reporting: str, unit: str, giver: str, reader: dict[str, str]
) -> tuple[float, list[float], collections.Counter[str]]:
    """Open loop at ``rate``: each idea's time from its request to visible in the KPIs.

    The generator runs in a process of its own (on uvloop), so that neither its sending
    nor this process's polling waits for the other: both would be measured as latency.
    """
    async with httpx.AsyncClient(timeout=30) as c:
        base = await kpi_count(c, f"{reporting}/v1/kpis", reader)
        visible: list[tuple[float, int]] = []
        stop = asyncio.Event()
        reads: list[float] = []

        async def poll() -> None:
            async with httpx.AsyncClient(timeout=10) as pc:
                due = time.perf_counter()
                while not stop.is_set():
                    t0 = time.perf_counter()
                    count = await kpi_count(pc, f"{reporting}/v1/kpis", reader)
                    visible.append((time.perf_counter(), count - base))
                    reads.append((visible[-1][0] - t0) * 1000)
                    # A read starts every POLL_SECONDS (or at once after one that took longer),
                    # not POLL_SECONDS after the last one ended.
                    due = max(due + POLL_SECONDS, time.perf_counter())
                    await asyncio.sleep(due - time.perf_counter())

        poller = asyncio.create_task(poll())
        spec = {"url": intake, "token": giver, "unit": unit, "rate": rate, "n": n}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.pipeline",
            "--generate",
            json.dumps({**spec, "connections": OPEN_LOOP_CONNECTIONS}),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        got = json.loads(out) if proc.returncode == 0 and out else {}
        sent_at: list[float] = got.get("sent_at", [])
        done_at: list[float] = got.get("done_at", [])
        failed = collections.Counter(got.get("failed", {"generator failed": n}))
        deadline = time.perf_counter() + 60
        while (not visible or visible[-1][1] < len(sent_at)) and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        stop.set()
        await poller
        order = sorted(range(len(sent_at)), key=lambda k: done_at[k])
        latencies = []
        counts = list(itertools.accumulate((count for _, count in visible), max))
        for rank, k in enumerate(order, start=1):
            # The poll counts only grow: the first poll that includes this idea.
            at = bisect.bisect_left(counts, rank)
            if at < len(visible):
                latencies.append((visible[at][0] - sent_at[k]) * 1000)
        latencies.sort()
        answers = sorted((d - t) * 1000 for t, d in zip(sent_at, done_at, strict=True))
        reads.sort()
        if answers and reads:
            print(
                f"    at {rate:,.0f}/s, intake answered in p50 {statistics.median(answers):.0f} ms, "
                f"p99 {answers[min(len(answers) - 1, int(0.99 * len(answers)))]:.0f} ms; "
                f"a KPI read took p50 {statistics.median(reads):.0f} ms, "
                f"p99 {reads[min(len(reads) - 1, int(0.99 * len(reads)))]:.0f} ms",
                flush=True,
            )
        return float(got.get("offered", 0.0)), latencies, failed


async def postgres_databases(tmp: Path, names: list[str]) -> tuple[Any, dict[str, str]]:
    """A PostgreSQL server (embedded-postgres) with an empty database for each name."""
    pg, admin = embedded_postgres(tmp / "pg")
    return pg, {name: await create_postgres_database(admin) for name in names}


async def analyze(urls: list[str]) -> None:
    """``ANALYZE`` each database, as autovacuum does within a minute or two of a load.

    The benchmark's tables grow from empty to tens of thousands of rows in seconds, before
    autovacuum's first pass: without this the latency phases would measure plans made
    with no statistics at all, unlike any database that has been running for a while.
    """
    from sqlalchemy.ext.asyncio import create_async_engine

    for url in urls:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.exec_driver_sql("ANALYZE")
        finally:
            await engine.dispose()


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ideabank-pipeline-"))
    nats = NatsServer(tmp / "nats").start()
    issuer = LocalIssuer(tmp / "issuer")
    tenant = f"p{uuid.uuid4().hex[:6]}"
    unit = f"{tenant}-u"
    # The services the pipeline goes through, and (by default) the rest of the platform:
    # evaluation, decision and notification consume every submission too.
    names = ["intake", "reporting"]
    if args.services == "all":
        names += ["evaluation", "decision", "notification"]
    ports = {name: free_port() for name in [*names, "portal", "ceiling"]}
    common = {
        "IDEABANK_NATS_URL": nats.url,
        "IDEABANK_JWKS_URL": issuer.jwks_url,
        "IDEABANK_LOG_LEVEL": "WARNING",
        "IDEABANK_LOG_JSON": "false",
    }
    databases: dict[str, dict[str, str]] = {name: {} for name in names}
    pg = None
    urls: dict[str, str] = {}
    if args.postgres:
        # Stopped, and its data removed, at the end (finally below).
        pg, urls = await postgres_databases(tmp, names)
        for name, url in urls.items():
            databases[name] = {"IDEABANK_DATABASE_URL": url}
    procs = [
        start_server(
            f"ideabank_{name}.bootstrap:create_app",
            ports[name],
            {
                **common,
                **databases[name],
                "IDEABANK_DATA_DIR": str(tmp / name),
                "IDEABANK_PORT": str(ports[name]),
            },
            tmp / f"{name}.log",
            workers=args.intake_workers if name == "intake" else 1,
        )
        for name in names
    ]
    ready = [f"http://127.0.0.1:{ports[name]}/readyz" for name in names]
    if args.services == "all":
        procs.append(
            start_server(
                "ideabank_portal.bootstrap:create_app",
                ports["portal"],
                {
                    **common,
                    **{f"IDEABANK_{n.upper()}_URL": f"http://127.0.0.1:{ports[n]}" for n in names},
                    "IDEABANK_ISSUER_DIR": str(tmp / "issuer"),
                    "IDEABANK_DATA_DIR": str(tmp / "portal"),
                    "IDEABANK_PORT": str(ports["portal"]),
                },
                tmp / "portal.log",
            )
        )
        ready.append(f"http://127.0.0.1:{ports['portal']}/readyz")
    ceiling_proc = start_server(
        "bench.pipeline:ceiling_app", ports["ceiling"], common, tmp / "ceiling.log"
    )
    procs.append(ceiling_proc)
    ready.append(f"http://127.0.0.1:{ports['ceiling']}/openapi.json")
    # Whose CPU is counted per idea (the portal takes no part in the load).
    assert nats.proc is not None
    pids = {name: proc.pid for name, proc in zip(names, procs[: len(names)], strict=True)}
    platform_cpu = CpuMeter({**pids, "nats-server": nats.proc.pid})
    ceiling_cpu = CpuMeter({"ceiling": ceiling_proc.pid, "nats-server": nats.proc.pid})
    intake = f"http://127.0.0.1:{ports['intake']}"
    reporting = f"http://127.0.0.1:{ports['reporting']}"
    ceiling = f"http://127.0.0.1:{ports['ceiling']}"
    try:
        for url in ready:
            if not await wait_ready(url):
                for log in sorted(tmp.glob("*.log")):
                    print(f"--- {log.name}\n{log.read_text()[-1500:]}")
                print(f"{url} did not start")
                return
        admin = issuer.mint(tenant=tenant, roles=["tenant_admin"], person=f"{tenant}-admin")
        giver = issuer.mint(
            tenant=tenant,
            roles=["employee"],
            person=f"{tenant}-p1",
            org_unit=unit,
            ttl_seconds=3600,
        )
        reader = {"Authorization": f"Bearer {issuer.mint(tenant=tenant, roles=['employee'])}"}
        async with httpx.AsyncClient(timeout=30) as c:
            r = await c.put(
                f"{intake}/v1/admin/tenancy",
                headers={"Authorization": f"Bearer {admin}"},
                json={
                    "tenant": {"name": "Benchkommun"},
                    "org_units": [
                        {"id": f"{tenant}-a", "kind": "administration", "name": "Förvaltning"},
                        {"id": unit, "kind": "unit", "name": "Enhet", "parent_id": f"{tenant}-a"},
                    ],
                    "headcounts": [{"org_unit_id": f"{tenant}-a", "year": YEAR, "headcount": 1000}],
                },
            )
            if r.status_code >= 300:
                print(f"intake refused the tenancy ({r.status_code}): {r.text[:300]}")
                return

            async def submitted_until_visible(conns: int) -> tuple[float, int, int, float]:
                """Intake under closed-loop load for ``--seconds``, then until what it
                accepted is visible in the KPIs (at most 120 s more): accepted req/s,
                ideas accepted, ideas seen, and seconds from the start to the last seen."""
                before = await kpi_count(c, f"{reporting}/v1/kpis", reader)
                started = time.perf_counter()
                platform_cpu.start()
                rate, accepted = await closed_loop(
                    intake + "/v1/ideas", giver, unit, args.seconds, conns, args.max_ideas, tmp
                )
                seen = before
                while seen < before + accepted and time.perf_counter() - started < (
                    args.seconds + 120
                ):
                    seen = await kpi_count(c, f"{reporting}/v1/kpis", reader)
                    await asyncio.sleep(POLL_SECONDS)
                took = time.perf_counter() - started
                # The CPU counts every consumer's work on these ideas, not only reporting's.
                await drained(nats.url)
                platform_cpu.stop(seen - before)
                return rate, accepted, seen - before, took

            # Warm-up: each side under load for a while, then (on PostgreSQL) ANALYZE, so that
            # what follows measures a platform that has been running, not one on empty tables.
            # PostgreSQL keeps the plan of a prepared statement once it has run a few times:
            # made on a nearly empty table, it reads the whole table for every look-up as the
            # table grows, until autovacuum's next ANALYZE has it planned again (a minute or
            # so, longer than these phases). Measured from empty, reporting's look-up of a
            # batch's facts took 13 ms instead of 0.04, and PostgreSQL used 235 µs of CPU per
            # idea instead of 147 once the tables had some thousand rows and statistics.
            await closed_loop(
                ceiling + "/v1/ideas", giver, unit, WARM_UP_SECONDS, 50, args.max_ideas, tmp
            )
            _, warmed, _, _ = await submitted_until_visible(200)
            platform_cpu.reset()
            if urls:
                await analyze(list(urls.values()))
            print(
                f"  warm-up: {warmed:,} ideas in {args.seconds:.0f} s"
                + (", then ANALYZE" if urls else "")
            )

            # Closed loop at each number of connections, the ceiling first. Each side is
            # then taken at its best: the plain POST is CPU-bound at a few dozen requests in
            # flight, while intake's group commit needs enough of them to fill its groups.
            # Rounds alternate the two sides: this machine's speed drifts by a tenth or more
            # within minutes, so a ratio is taken within each round, and their median reported.
            ceilings: dict[int, list[float]] = {n: [] for n in args.connections}
            accepted_at: dict[int, list[float]] = {n: [] for n in args.connections}
            sustained_at: dict[int, list[float]] = {n: [] for n in args.connections}
            for round_no in range(1, args.rounds + 1):
                for conns in args.connections:
                    await drained(nats.url)
                    ceiling_cpu.start()
                    rate, answered = await closed_loop(
                        ceiling + "/v1/ideas", giver, unit, args.seconds, conns, args.max_ideas, tmp
                    )
                    ceiling_cpu.stop(answered)
                    ceilings[conns].append(rate)
                for conns in args.connections:
                    rate, accepted, seen, took = await submitted_until_visible(conns)
                    accepted_at[conns].append(rate)
                    sustained_at[conns].append(seen / took)
                    print(
                        f"  round {round_no}, -c{conns}: ceiling {ceilings[conns][-1]:,.0f} req/s; "
                        f"intake accepted {rate:,.0f} req/s, {seen / took:,.0f} ideas/s "
                        f"visible ({seen:,} of {accepted:,})",
                        flush=True,
                    )
            if urls:
                await analyze(list(urls.values()))
                print("  PostgreSQL: ANALYZE after the load (autovacuum's work, done at once)")

            def bests(values: dict[int, list[float]]) -> list[float]:
                """Each round's best over the numbers of connections."""
                return [max(values[n][r] for n in args.connections) for r in range(args.rounds)]

            best_ceiling = bests(ceilings)
            best_accepted = bests(accepted_at)
            best_sustained = bests(sustained_at)
            ceiling_rate = statistics.median(best_ceiling)
            end_to_end = statistics.median(best_sustained)
            sustained_ratios = [s / c for s, c in zip(best_sustained, best_ceiling, strict=True)]
            accepted_ratios = [a / c for a, c in zip(best_accepted, best_ceiling, strict=True)]
            # Open loop: latency from request to visible in the KPIs, at half the ceiling
            # (the target's rate) and at half the sustained rate (what the platform keeps up).
            rates = [args.latency_rate] if args.latency_rate else [ceiling_rate / 2, end_to_end / 2]
            runs = []
            for rate in rates:
                rate = max(rate, 1.0)
                n = min(int(rate * args.seconds), args.latency_ideas)
                at_rate = []
                for _ in range(args.latency_runs):
                    await drained(nats.url)
                    at_rate.append(
                        await latency_at(rate, n, intake, reporting, unit, giver, reader)
                    )
                runs.append((rate, at_rate))

        load = "wrk" if shutil.which("wrk") else "httpx"
        print(
            f"\npipeline: intake ({args.intake_workers} uvicorn worker(s)) → NATS → reporting, "
            f"{'PostgreSQL' if args.postgres else 'SQLite'}, closed loop by {load}; "
            + (
                "evaluation, decision and notification consuming too, portal up"
                if args.services == "all"
                else "no other service running"
            )
        )
        columns = "".join(f"{f'-c{n}':>9}" for n in args.connections)
        print(f"  {'connections':<44}{columns}   best")

        def line(label: str, values: dict[int, list[float]], unit: str) -> None:
            # Each cell is the median of the rounds; "best" the median of each round's best.
            medians = {n: statistics.median(v) for n, v in values.items()}
            cells = "".join(f"{medians[n]:>9,.0f}" for n in args.connections)
            best = statistics.median(bests(values))
            print(f"  {label:<44}{cells}{best:>7,.0f} {unit}")

        line("raw ceiling: plain FastAPI POST → JetStream", ceilings, "req/s")
        line("POST /v1/ideas accepted", accepted_at, "req/s")
        line("sustained submit → visible in KPIs", sustained_at, "ideas/s")
        print(
            f"  ratio, best to best within a round, median of {args.rounds}: accepted "
            f"{statistics.median(accepted_ratios):.0%}, sustained "
            f"{statistics.median(sustained_ratios):.0%} of the ceiling (target ≥ 50 %)"
        )
        if args.rounds > 1:
            print(
                "  sustained / ceiling by round: " + ", ".join(f"{r:.0%}" for r in sustained_ratios)
            )
        for rate, at_rate in runs:
            measured = [(offered, lat) for offered, lat, _ in at_rate if lat]
            failed = sum((f for _, _, f in at_rate), collections.Counter[str]())
            if measured:
                p50s = [statistics.median(lat) for _, lat in measured]
                p99s = [lat[min(len(lat) - 1, int(0.99 * len(lat)))] for _, lat in measured]
                print(
                    f"  submit → visible, asked {rate:,.0f}/s, offered "
                    f"{statistics.median(o for o, _ in measured):,.0f}/s "
                    f"({len(measured)} × {len(measured[0][1])} ideas, median of the runs): "
                    f"p50 {statistics.median(p50s):.0f} ms  p99 {statistics.median(p99s):.0f} ms  "
                    "(target p99 < 250 ms at half the ceiling)"
                )
                if len(measured) > 1:
                    print("    p99 by run: " + ", ".join(f"{p:.0f} ms" for p in p99s))
            else:
                print(f"  asked {rate:,.0f}/s: no idea became visible in time")
            if failed:
                print(f"    not accepted: {dict(failed)}")
        print("  CPU, closed-loop phases (intake's until every consumer had applied them):")
        print(f"    the platform: {platform_cpu.summary('idea')}")
        print(f"    the plain POST: {ceiling_cpu.summary('request')}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        nats.stop()
        if pg is not None:
            pg.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load phase")
    parser.add_argument(
        "--connections",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[50, 200],
        help="concurrent clients of the closed-loop phases, comma-separated (each side is "
        "measured at each, and taken at its best)",
    )
    parser.add_argument("--max-ideas", type=int, default=20000, help="cap per phase")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of the closed-loop phases, the ceiling and intake in turn; the ratio is "
        "taken within each round and the median printed",
    )
    parser.add_argument(
        "--latency-rate",
        type=float,
        help="ideas/s of the latency phase (default: half the ceiling)",
    )
    parser.add_argument(
        "--postgres", action="store_true", help="intake and reporting on PostgreSQL"
    )
    parser.add_argument(
        "--intake-workers",
        type=int,
        default=1,
        help="uvicorn workers of intake (more than one wants --postgres)",
    )
    parser.add_argument(
        "--latency-ideas", type=int, default=1500, help="cap of each latency run's ideas"
    )
    parser.add_argument(
        "--latency-runs",
        type=int,
        default=3,
        help="runs at each latency rate, each on a drained platform; the median is printed",
    )
    parser.add_argument(
        "--services",
        choices=["all", "pipeline"],
        default="all",
        help="all: the whole platform runs (evaluation, decision and notification consume "
        "every submission too, and the portal is up); pipeline: intake and reporting only",
    )
    parser.add_argument("--generate", help=argparse.SUPPRESS)  # the open-loop generator's process
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    if args.generate:
        uvloop.run(_generate(json.loads(args.generate)))
    else:
        asyncio.run(run(args))


async def _generate(spec: dict[str, Any]) -> None:
    print(json.dumps(await open_loop(**spec)))


if __name__ == "__main__":
    main()
