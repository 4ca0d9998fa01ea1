"""Prometheus metrics shared by every service (served at ``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "ideabank_http_requests_total", "HTTP requests handled", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "ideabank_http_request_seconds",
    "HTTP request duration",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
RELAY_PUBLISHED = Counter("ideabank_outbox_published_total", "Outbox events published")
RELAY_BATCH_SECONDS = Histogram(
    "ideabank_outbox_batch_seconds", "Time to publish one outbox batch to JetStream"
)
EVENTS_APPLIED = Counter(
    "ideabank_events_applied_total", "Events applied by a consumer", ["consumer", "type"]
)
EVENTS_DUPLICATE = Counter(
    "ideabank_events_duplicate_total", "Redelivered events skipped by the inbox", ["consumer"]
)
EVENTS_FAILED = Counter(
    "ideabank_events_failed_total", "Handler failures (each delivery counts)", ["consumer"]
)
EVENTS_DEAD_LETTERED = Counter(
    "ideabank_events_dead_lettered_total", "Events moved to the dead-letter subject", ["consumer"]
)
CONSUMER_BATCH_EVENTS = Histogram(
    "ideabank_consumer_batch_events",
    "Events a consumer took from the stream in one batch",
    ["consumer"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
GROUP_COMMIT_ITEMS = Histogram(
    "ideabank_group_commit_items",
    "Writes committed together by one group commit",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200),
)
GROUP_COMMIT_SECONDS = Histogram(
    "ideabank_group_commit_seconds",
    "Time of one group commit, its wait for the turn to write included",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
SQLITE_CHECKPOINT_SECONDS = Histogram(
    "ideabank_sqlite_checkpoint_seconds",
    "Time writers waited for the last step of a WAL checkpoint",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
SQLITE_CHECKPOINT_PAGES = Histogram(
    "ideabank_sqlite_checkpoint_pages",
    "Pages in the SQLite WAL when a checkpoint starts",
    buckets=(16, 64, 256, 1024, 4096, 16384, 65536),
)
