"""A trace id survives the trip HTTP request → outbox → JetStream → consumer."""

from __future__ import annotations

import uuid

import pytest
from ideabank_contracts import CloudEvent
from ideabank_infra.telemetry import memory_exporter, setup_tracing
from ideabank_infra.testing import eventually
from opentelemetry import trace

from tests.infra.harness import Harness
from tests.infra.test_delivery import make_event


async def publish_in_a_trace(harness: Harness) -> tuple[CloudEvent, int]:
    """An event written to the outbox inside a request's span, then published; the event
    and that span's trace id."""
    event = make_event(harness.tenant)
    with trace.get_tracer("test").start_as_current_span("POST /v1/ideas") as span:
        trace_id = span.get_span_context().trace_id
        await harness.publish(event)
    return event, trace_id


async def test_trace_id_survives_nats(harness: Harness) -> None:
    setup_tracing("test", "memory")
    exporter = memory_exporter()
    if exporter is None:
        import pytest

        pytest.skip("another tracer provider was installed first in this process")
    name = f"c{uuid.uuid4().hex[:8]}"
    await harness.start_consumer(name)
    event, trace_id = await publish_in_a_trace(harness)
    await eventually(lambda: harness.applied_count(event.id))
    consumed = [s for s in exporter.get_finished_spans() if s.name == f"consume {event.type}"]
    assert consumed, "the consumer recorded no span"
    assert consumed[-1].context.trace_id == trace_id
    assert consumed[-1].parent is not None


@pytest.mark.parametrize("recorded", [False, True], ids=["unrecorded", "recorded"])
async def test_requests_carry_a_trace_when_no_span_is_exported(
    monkeypatch: pytest.MonkeyPatch, recorded: bool
) -> None:
    """With ``traces = none`` the lean middleware still continues or starts a trace: through
    the SDK while something records spans, and with a span of its own making otherwise."""
    import httpx
    from ideabank_infra import app as app_module
    from ideabank_infra.app import TraceContextMiddleware
    from ideabank_infra.telemetry import current_trace_id
    from opentelemetry import propagate, trace

    monkeypatch.setattr(app_module, "spans_recorded", lambda: recorded)
    seen: list[tuple[str | None, dict[str, str]]] = []

    async def endpoint(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        headers: dict[str, str] = {}
        propagate.inject(headers)  # what the outbox stores with each event
        seen.append((current_trace_id(), headers))
        if not recorded:
            assert not trace.get_current_span().is_recording()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = TraceContextMiddleware(endpoint)
    caller = "0af7651916cd43dd8448eb211c80319c"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        await c.get("/", headers={"traceparent": f"00-{caller}-b7ad6b7169203331-01"})
        await c.get("/")
        await c.get("/")
    (first, first_headers), (second, _), (third, _) = seen
    assert first == caller and caller in first_headers["traceparent"]
    # A span of its own in the caller's trace, not the caller's span passed on.
    assert "b7ad6b7169203331" not in first_headers["traceparent"]
    assert second and third and len({second, third, caller}) == 3


async def test_a_batch_consumes_each_event_in_its_own_trace_when_spans_are_recorded(
    harness: Harness, monkeypatch
) -> None:
    """Under a batch handler each event still gets a ``consume <type>`` span in the trace it
    was published in, linked both ways with the batch's span; while nothing records spans,
    those (and parsing each message's trace headers for them) are skipped."""
    import pytest
    from ideabank_infra import telemetry

    setup_tracing("test", "memory")
    exporter = memory_exporter()
    if exporter is None or not telemetry.spans_recorded():
        pytest.skip("another tracer provider was installed first in this process")
    monkeypatch.setattr(telemetry._sampler, "recording", False)
    assert not telemetry.spans_recorded()
    monkeypatch.setattr(telemetry._sampler, "recording", True)
    assert telemetry.spans_recorded()

    seen: list[str] = []

    async def on_batch(conn, events) -> None:  # type: ignore[no-untyped-def]
        seen.extend(e.id for e in events)

    name = f"b{uuid.uuid4().hex[:8]}"
    await harness.start_consumer(name, batch_handler=on_batch)
    event, trace_id = await publish_in_a_trace(harness)
    await eventually(lambda: event.id in seen)
    spans = exporter.get_finished_spans()
    batches = [s for s in spans if s.name == f"consume batch {name}"]
    assert batches and any(link.context.trace_id == trace_id for link in batches[-1].links)
    consumed = [
        s
        for s in spans
        if s.name == f"consume {event.type}"
        and s.attributes
        and s.attributes.get("messaging.consumer.group.name") == name
    ]
    assert len(consumed) == 1
    assert consumed[0].context.trace_id == trace_id and consumed[0].parent is not None
    assert consumed[0].attributes["messaging.message.id"] == event.id
    assert [link.context for link in consumed[0].links] == [batches[-1].context]
