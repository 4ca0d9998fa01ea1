"""One place that builds a service: its runtime (database, NATS, relay, consumers) and app.

Every service calls :func:`create_service_app` from its ``bootstrap.py`` with its own tables,
routers and subscriptions, so they all start, probe, trace and fail the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import MetaData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ideabank_infra import metrics, problems
from ideabank_infra.auth import CurrentPrincipal, JwksVerifier
from ideabank_infra.clock import Clock, ShiftedClock, SystemClock, set_event_clock
from ideabank_infra.consumer import EventConsumers, Subscription
from ideabank_infra.db import Database
from ideabank_infra.fastpath import FastPaths, FastRoute
from ideabank_infra.messaging import connect, ensure_streams
from ideabank_infra.outbox import OutboxRelay
from ideabank_infra.settings import ServiceSettings
from ideabank_infra.telemetry import (
    setup_logging,
    setup_tracing,
    spans_recorded,
    unrecorded_span,
)

log = logging.getLogger(__name__)

BackgroundTask = Callable[["Runtime"], Awaitable[None]]


@dataclass
class Runtime:
    """Everything a running service holds: settings, database, broker, relay, consumers."""

    settings: ServiceSettings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    nc: NATS | None = None
    js: JetStreamContext | None = None
    relay: OutboxRelay | None = None
    consumers: EventConsumers | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    async def start(
        self,
        metadata: Sequence[MetaData],
        subscriptions: Callable[[Runtime], Sequence[Subscription]] | None,
        background: Sequence[BackgroundTask] = (),
    ) -> None:
        """Connect, declare, create tables, then start relay, consumers and timers."""
        s = self.settings
        await self.db.create_all(*metadata)
        self.nc = await _connect_with_retry(s.nats_url, s.service_name)
        self.js = self.nc.jetstream()
        await ensure_streams(self.js, s.stream_replicas, s.duplicate_window_seconds)
        self.relay = OutboxRelay(
            self.db, self.js, batch_size=s.relay_batch_size, poll_seconds=s.relay_poll_seconds
        )
        self.relay.start()
        subs = list(subscriptions(self)) if subscriptions else []
        if subs and s.consumers_enabled:
            self.consumers = EventConsumers(
                self.db,
                self.js,
                batch_size=s.consumer_batch_size,
                linger=s.consumer_linger_seconds,
                max_deliveries=s.max_deliveries,
                redelivery_delay=s.redelivery_delay_seconds,
                ack_wait=s.ack_wait_seconds,
            )
            for sub in subs:
                self.consumers.add(_scoped(sub, s.consumer_suffix, s.consumer_tenants))
            await self.consumers.start()
        for task in background:
            self.tasks.append(asyncio.create_task(_guarded(task, self), name=task.__name__))

    async def stop(self) -> None:
        """Stop timers, consumers and relay, then close connections."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.consumers is not None:
            await self.consumers.stop()
        if self.relay is not None:
            await self.relay.stop()
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.drain()
        await self.db.dispose()

    async def ready(self) -> dict[str, bool]:
        """Whether the database and NATS are reachable."""
        return {
            "database": await self.db.ping(),
            "nats": bool(self.nc is not None and self.nc.is_connected),
        }


def _scoped(sub: Subscription, suffix: str, tenants: Sequence[str]) -> Subscription:
    """The subscription renamed with ``suffix`` and narrowed to ``tenants`` (if any)."""
    subjects = list(sub.subjects)
    if tenants:
        narrowed: list[str] = []
        for subject in subjects:
            parts = subject.split(".")
            if len(parts) >= 3 and parts[2] in ("*", ">"):
                for tenant in tenants:
                    rest = parts[3:] if parts[2] == "*" else [">"]
                    narrowed.append(".".join([*parts[:2], tenant, *rest]))
            else:
                narrowed.append(subject)
        subjects = narrowed
    return dataclasses.replace(sub, name=sub.name + suffix, subjects=subjects)


async def _guarded(task: BackgroundTask, runtime: Runtime) -> None:
    while True:
        try:
            await task(runtime)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task %s failed; restarting in 5 s", task.__name__)
            await asyncio.sleep(5)


async def _connect_with_retry(url: str, name: str, attempts: int = 60) -> NATS:
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return await connect(url, name)
        except Exception as exc:
            last = exc
            await asyncio.sleep(0.5)
    raise RuntimeError(f"cannot reach NATS at {url}: {last}")


#: Allocations (less deallocations) of container objects between two collections of the
#: youngest generation; CPython's default is 700. A request or a batch of events makes and
#: drops thousands of short-lived dicts, tuples and models, so at 700 the collector runs
#: several times a request and walks objects that would have been freed a moment later.
#: At 20,000 it runs every few requests, each pass well under a millisecond, and the whole
#: platform uses about 5 % less CPU per submitted idea (``bench.pipeline``).
YOUNG_GENERATION_THRESHOLD = 20_000


def freeze_startup_heap() -> None:
    """Keep what start-up built (modules, classes, routes, schemas) out of garbage collection.

    A full collection walks every object of the process; with the start-up heap it took
    about 100 ms here, a stall of every request in flight, a few times a minute under load.
    Frozen objects are never walked again (nor freed, which start-up objects never are).
    Once per process: the first service to start in it does it, and sets the youngest
    generation's threshold (:data:`YOUNG_GENERATION_THRESHOLD`); the older two keep theirs.
    """
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(YOUNG_GENERATION_THRESHOLD, older, oldest)


async def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the service's runtime (async: a sync dependency costs a thread hop)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


class MetricsMiddleware:
    """Counts and times requests per route template (pure ASGI: cheap on the hot path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The labelled children of each (method, route, status), looked up once: ``labels()``
        # checks and locks on every call, which was half of this middleware's cost.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                _name_span(scope)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            method = scope["method"]
            children = self._children.get((method, path, status))
            if children is None:
                children = self._children[(method, path, status)] = (
                    metrics.HTTP_REQUESTS.labels(method, path, str(status)),
                    metrics.HTTP_SECONDS.labels(method, path),
                )
            children[0].inc()
            children[1].observe(time.perf_counter() - started)


#: FastAPI (0.165 and later) traces requests itself once a tracer provider is set, with
#: spans for each dependency, the endpoint and the serialisation: five spans a request.
#: The middleware below gives the one server span this project wants, so FastAPI's own
#: is switched off where the installed FastAPI has it.
NO_NATIVE_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI).parameters
    else {}
)


def _name_span(scope: Scope) -> None:
    """Name the server span by its route template, now that the router has found it.

    The span was opened before routing (see ``_span_details``) and ends with the response,
    so this runs as the response starts.
    """
    route = scope.get("route")
    if route is None:
        return
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{scope['method']} {route.path}")
        span.set_attribute("http.route", route.path)


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    version: str = "1.0.0",
    metadata: Sequence[MetaData] = (),
    routers: Sequence[APIRouter] = (),
    subscriptions: Callable[[Runtime], Sequence[Subscription]] | None = None,
    background: Sequence[BackgroundTask] = (),
    clock: Clock | None = None,
    on_started: Callable[[Runtime], Awaitable[None]] | None = None,
    fast_routes: Sequence[FastRoute] = (),
) -> FastAPI:
    """Build the FastAPI app of a service with health, readiness, metrics and problems.

    ``fast_routes`` answer the plain case of a hot route ahead of FastAPI's router (see
    :mod:`ideabank_infra.fastpath`); the route itself is still declared in ``routers``.
    """
    setup_logging(settings.service_name, settings.log_level, settings.log_json)
    setup_tracing(settings.service_name, settings.traces)
    if clock is None and settings.demo_clock_file is not None:
        clock = ShiftedClock(settings.demo_clock_file)
        set_event_clock(clock)
    runtime = Runtime(
        settings=settings,
        db=Database(settings.resolved_database_url()),
        clock=clock or SystemClock(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start(metadata, subscriptions, background)
        if on_started is not None:
            await on_started(runtime)
        freeze_startup_heap()
        log.info("%s ready on %s:%s", settings.service_name, settings.host, settings.port)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, version=version, lifespan=lifespan, **NO_NATIVE_TELEMETRY)
    app.state.runtime = runtime
    app.state.verifier = JwksVerifier(
        settings.resolved_jwks_url(), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    problems.install(app)

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", tags=["operations"], summary="Database and NATS are reachable")
    async def readyz() -> JSONResponse:
        checks = await runtime.ready()
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/me", tags=["operations"], summary="The authenticated caller")
    async def me(principal: CurrentPrincipal) -> dict[str, Any]:
        return {
            "sub": principal.sub,
            "tenant": principal.tenant,
            "roles": sorted(principal.roles),
            "org_unit": principal.org_unit,
        }

    for router in routers:
        app.include_router(router)
    if fast_routes:
        app.add_middleware(FastPaths, owner=app, routes=list(fast_routes))
    app.add_middleware(MetricsMiddleware)
    # One server span a request; the ASGI receive/send spans would triple the cost of
    # tracing and say nothing a reader needs. The plain ASGI middleware rather than
    # FastAPI's instrumentor: that one matches every route again to name the span before
    # the request starts, which cost more than the rest of tracing together.
    if settings.traces == "none":
        app.add_middleware(TraceContextMiddleware)
    else:
        app.add_middleware(
            OpenTelemetryMiddleware,
            excluded_urls="healthz,readyz,metrics",
            default_span_details=_span_details,
            exclude_spans=["receive", "send"],
        )
    return app


class TraceContextMiddleware:
    """The request's trace context, when no span is exported (``traces = none``).

    The caller's ``traceparent`` is continued, or a trace is started, so that the events a
    request writes and the log lines it prints carry its trace id, as with full tracing.
    Nothing else is recorded: no span attributes, no HTTP metrics from OpenTelemetry (the
    Prometheus ones stay). The full middleware costs about a fifth of a submission.
    """

    _keys = {b"traceparent": "traceparent", b"tracestate": "tracestate"}

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.tracer = trace.get_tracer("ideabank.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {
            self._keys[name]: value.decode("latin-1")
            for name, value in scope["headers"]
            if name in self._keys
        }
        parent = propagate.extract(carrier) if carrier else None
        if spans_recorded():
            with self.tracer.start_as_current_span(
                scope["method"], context=parent, kind=trace.SpanKind.SERVER
            ):
                await self.app(scope, receive, send)
            return
        token = otel_context.attach(trace.set_span_in_context(unrecorded_span(parent), parent))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)


def _span_details(scope: Scope) -> tuple[str, dict[str, str]]:
    """The server span's first name: the method (MetricsMiddleware adds the route)."""
    return str(scope.get("method") or "HTTP"), {}
