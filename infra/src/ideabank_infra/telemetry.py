"""Tracing and structured logs.

Spans follow one idea across processes: the HTTP request's context is stored with each outbox
row, travels as ``traceparent`` in the NATS headers, and the consumer continues it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)

_memory_exporter: InMemorySpanExporter | None = None


class _RecordWhenExported(Sampler):
    """Records spans only once something exports them; until then every span is a
    non-recording one that still carries a trace id, so ``traceparent`` headers and the
    trace ids in logs work the same, without the cost of building spans nobody reads."""

    def __init__(self) -> None:
        self.recording = False
        self._on = ParentBased(ALWAYS_ON)

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        if self.recording:
            return self._on.should_sample(*args, **kwargs)
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return "RecordWhenExported"


_sampler = _RecordWhenExported()


def spans_recorded() -> bool:
    """Whether this process records its spans: with no SDK provider, or with this module's
    sampler before anything exports, every span is a non-recording one, and work that only
    feeds a recorded span (links, attributes) can be skipped."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        return False
    return provider.sampler is not _sampler or _sampler.recording


_ids = RandomIdGenerator()


def unrecorded_span(parent: Context | None = None) -> trace.Span:
    """The span the SDK starts when its sampler drops it, made directly: a non-recording
    span with a fresh span id in ``parent``'s trace (the current one when None), or in a
    new trace. Half of what going through the SDK costs, for a request whose span only
    carries its trace id to the events and log lines it writes."""
    above = trace.get_current_span(parent).get_span_context()
    trace_id = above.trace_id if above.is_valid else _ids.generate_trace_id()
    return trace.NonRecordingSpan(
        trace.SpanContext(trace_id, _ids.generate_span_id(), is_remote=False)
    )


def setup_tracing(service_name: str, mode: str = "none") -> TracerProvider:
    """Install a tracer provider for this process (``none``, ``console`` or ``memory``)."""
    global _memory_exporter
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        # A provider is set once per process; a later request for in-memory spans (tests)
        # adds its exporter to the existing provider.
        if mode == "memory" and _memory_exporter is None:
            _memory_exporter = InMemorySpanExporter()
            current.add_span_processor(SimpleSpanProcessor(_memory_exporter))
            _sampler.recording = True
        return current
    _sampler.recording = mode in ("console", "memory")
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}), sampler=_sampler
    )
    if mode == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif mode == "memory":
        _memory_exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(_memory_exporter))
    trace.set_tracer_provider(provider)
    return provider


def memory_exporter() -> InMemorySpanExporter | None:
    """The in-memory exporter, when tracing was set up in ``memory`` mode (tests)."""
    return _memory_exporter


def extract_context(headers: Mapping[str, str] | None) -> Context:
    """The trace context carried in message headers."""
    return propagate.extract(dict(headers or {}))


def current_trace_id() -> str | None:
    """Hex id of the active trace, if any."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the trace id when a span is active."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Render a record as JSON."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        trace_id = current_trace_id()
        if trace_id:
            entry["trace_id"] = trace_id
        for key in ("event_id", "event_type", "tenant", "consumer"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(service: str, level: str = "INFO", as_json: bool = True) -> None:
    """Configure the root logger once for this process."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Per-message INFO lines from the broker client halve consumer throughput.
    for noisy in ("nats", "uvicorn.access", "aiosqlite", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
