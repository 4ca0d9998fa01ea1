"""NATS connection and the streams, declared once with a duplicate window."""

from __future__ import annotations

import logging

import nats
from ideabank_contracts.subjects import (
    DEAD_LETTER_STREAM_NAME,
    DEAD_LETTER_SUBJECTS,
    DEVIATIONS_STREAM_NAME,
    DEVIATIONS_STREAM_SUBJECTS,
    STREAM_NAME,
    STREAM_SUBJECTS,
)
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)


async def connect(url: str, name: str) -> NATS:
    """Connect to NATS, retrying while the server starts."""
    return await nats.connect(
        url,
        name=name,
        connect_timeout=2,
        reconnect_time_wait=0.5,
        max_reconnect_attempts=-1,
        allow_reconnect=True,
    )


def stream_configs(replicas: int = 1, duplicate_window: float = 600.0) -> list[StreamConfig]:
    """The platform's streams: idea events, deviations from outside, dead letters."""
    common = {
        "retention": RetentionPolicy.LIMITS,
        "storage": StorageType.FILE,
        "num_replicas": replicas,
        "discard": DiscardPolicy.OLD,
        "duplicate_window": duplicate_window,
    }
    return [
        # Idea events are kept indefinitely: read models are rebuilt by replaying them.
        StreamConfig(name=STREAM_NAME, subjects=STREAM_SUBJECTS, **common),  # type: ignore[arg-type]
        StreamConfig(
            name=DEVIATIONS_STREAM_NAME,
            subjects=DEVIATIONS_STREAM_SUBJECTS,
            max_age=90 * 86400,
            **common,  # type: ignore[arg-type]
        ),
        StreamConfig(name=DEAD_LETTER_STREAM_NAME, subjects=DEAD_LETTER_SUBJECTS, **common),  # type: ignore[arg-type]
    ]


async def ensure_streams(
    js: JetStreamContext, replicas: int = 1, duplicate_window: float = 600.0
) -> None:
    """Create the streams that do not exist yet; never change an existing one."""
    for config in stream_configs(replicas, duplicate_window):
        assert config.name is not None
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            try:
                await js.add_stream(config)
                log.info("declared stream %s", config.name)
            except Exception:
                # Another replica declared it between our look-up and our create.
                await js.stream_info(config.name)
