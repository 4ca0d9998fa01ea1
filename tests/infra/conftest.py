"""Fixtures for the infrastructure tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ideabank_infra.db import Database
from ideabank_infra.messaging import connect, ensure_streams

from tests.infra.harness import Harness, metadata


@pytest.fixture
async def harness(db_url: str, nats_url: str) -> AsyncIterator[Harness]:
    db = Database(db_url)
    await db.create_all(metadata)
    nc = await connect(nats_url, "test")
    js = nc.jetstream()
    await ensure_streams(js)
    h = Harness(db=db, nc=nc, js=js, nats_url=nats_url)
    try:
        yield h
    finally:
        for b in h.brokers:
            await b.stop()
        await nc.close()
        await db.dispose()
