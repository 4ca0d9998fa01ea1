"""Ids sort by the time they were made, and are valid UUIDs of version 7."""

from __future__ import annotations

import itertools
import os
import time
import uuid
from datetime import UTC, datetime

from ideabank_contracts import new_event, new_id
from ideabank_contracts.events.idea import IdeaWithdrawn


def test_an_id_is_a_version_7_uuid_carrying_its_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000
    parsed = uuid.UUID(value)
    assert str(parsed) == value  # canonical: lower case, 8-4-4-4-12
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert before <= parsed.int >> 80 <= after


def test_ids_made_in_later_milliseconds_sort_after_earlier_ones() -> None:
    made = []
    deadline = time.monotonic() + 2
    while len({m >> 80 for m in made}) < 5 and time.monotonic() < deadline:
        made.append(uuid.UUID(new_id()).int)
    by_ms: dict[int, list[str]] = {}
    for m in made:
        by_ms.setdefault(m >> 80, []).append(str(uuid.UUID(int=m)))
    stamps = sorted(by_ms)
    assert len(stamps) >= 5
    for earlier, later in itertools.pairwise(stamps):
        assert max(by_ms[earlier]) < min(by_ms[later])  # string order = time order


def test_ids_are_unique_and_events_get_them() -> None:
    ids = {new_id() for _ in range(20_000)}
    assert len(ids) == 20_000
    data = IdeaWithdrawn(
        idea_id="i-1", actor_id="p-1", previous_status="submitted", withdrawn_at=datetime.now(UTC)
    )
    event = new_event(data, tenant="t", subject="i-1", source="/test")
    assert uuid.UUID(event.id).version == 7


def test_a_forked_process_does_not_repeat_its_parents_ids() -> None:
    """Random bytes are read ahead in a pool; a forked child must not reuse the parent's."""
    new_id()  # the pool holds unread bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then out without pytest's clean-up
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    parent = new_id()
    assert uuid.UUID(child).version == 7
    assert child[-17:] != parent[-17:]  # the random tail (the leading part is the time)
