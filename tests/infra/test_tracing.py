"""A trace id survives the trip HTTP request → outbox → JetStream → consumer."""

from __future__ import annotations

import uuid

from ideabank_infra.outbox import enqueue
from ideabank_infra.telemetry import memory_exporter, setup_tracing
from ideabank_infra.testing import eventually
from opentelemetry import trace

from tests.infra.harness import Harness
from tests.infra.test_delivery import make_event


async def test_trace_id_survives_nats(harness: Harness) -> None:
    setup_tracing("test", "memory")
    exporter = memory_exporter()
    if exporter is None:
        import pytest

        pytest.skip("another tracer provider was installed first in this process")
    name = f"c{uuid.uuid4().hex[:8]}"
    await harness.start_consumer(name)
    tracer = trace.get_tracer("test")
    event = make_event(harness.tenant)
    with tracer.start_as_current_span("POST /v1/ideas") as span:
        trace_id = span.get_span_context().trace_id
        async with harness.db.transaction() as conn:
            await enqueue(conn, [event])
    await harness.relay().publish_pending()
    await eventually(lambda: harness.applied_count(event.id))
    consumed = [s for s in exporter.get_finished_spans() if s.name == f"consume {event.type}"]
    assert consumed, "the consumer recorded no span"
    assert consumed[-1].context.trace_id == trace_id
    assert consumed[-1].parent is not None
