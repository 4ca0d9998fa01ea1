"""The consumer's open pull request, against a real server: a restarted consumer or server, a
deleted consumer and a quiet stream neither lose events nor leave them waiting for the ack
timeout."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import nats
import pytest
from ideabank_infra.messaging import Connection
from ideabank_infra.pull import BUSY, PullFeed
from ideabank_infra.testing import NatsServer, eventually
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, StreamConfig

from tests.infra.harness import Harness
from tests.infra.test_delivery import make_event

#: The consumers here wait 30 s before the server redelivers an unacked event: every event
#: below must arrive well within that, so none of them came by a redelivery.
PROMPTLY = 5.0


async def publish(harness: Harness, n: int) -> str:
    event = make_event(harness.tenant, n)
    await harness.publish(event)
    return event.id


async def test_a_restarted_consumer_gets_what_came_while_it_was_away(harness: Harness) -> None:
    name = f"r{uuid.uuid4().hex[:8]}"
    first = await harness.start_consumer(name)
    one = await publish(harness, 1)
    await eventually(lambda: harness.applied_count(one), timeout=PROMPTLY)
    await first.stop()
    harness.brokers.remove(first)

    # The stopped consumer's pull request may still be open on the server: what is published
    # now must not vanish into it, but reach the next consumer at once.
    away = [await publish(harness, n) for n in range(2, 7)]
    started = time.monotonic()
    await harness.start_consumer(name)
    for event_id in away:
        await eventually(lambda e=event_id: harness.applied_count(e), timeout=PROMPTLY)
    assert time.monotonic() - started < PROMPTLY
    assert await harness.applied_count() == 6


async def test_a_deleted_consumer_is_declared_again_and_goes_on(harness: Harness) -> None:
    name = f"d{uuid.uuid4().hex[:8]}"
    await harness.start_consumer(name)
    one = await publish(harness, 1)
    await eventually(lambda: harness.applied_count(one), timeout=PROMPTLY)
    await harness.js.delete_consumer("IDEAS", name)
    two = await publish(harness, 2)
    await eventually(lambda: harness.applied_count(two), timeout=10)
    assert await harness.applied_count() == 2


async def test_an_expired_request_is_renewed(harness: Harness) -> None:
    """A pull request that expires on a quiet stream is followed by a new one while the
    consumer waits, so an event published after two expiries still arrives at once."""
    from ideabank_infra.consumer import EventConsumers, Subscription

    name = f"e{uuid.uuid4().hex[:8]}"
    sub = Subscription(name=name, subjects=[f"ideas.v1.{harness.tenant}.>"], handlers={})
    await harness.js.add_consumer(
        "IDEAS", EventConsumers(harness.db, harness.js).consumer_config(sub)
    )
    feed = PullFeed(harness.js, "IDEAS", name, batch=10, expires=0.5, heartbeat=0.2)
    await feed.start()
    try:
        waiting = asyncio.create_task(feed.take(10, timeout=PROMPTLY))
        await asyncio.sleep(1.2)
        assert not waiting.done()
        event_id = await publish(harness, 1)
        published = time.monotonic()
        msgs = await waiting
        assert time.monotonic() - published < 1.0
        assert [m.headers["Nats-Msg-Id"] for m in msgs if m.headers] == [event_id]
        await msgs[0].ack()
    finally:
        await feed.stop()


async def test_stopping_cancels_a_stuck_batch_whose_events_come_again(harness: Harness) -> None:
    """Stopping waits for the batch in hand, but not for ever: a batch stuck past the stop
    timeout is cancelled (rolled back, not acked) and its event reaches the next consumer."""
    name = f"s{uuid.uuid4().hex[:8]}"
    entered, cancelled = asyncio.Event(), asyncio.Event()

    async def stuck(conn: object, events: object) -> None:
        entered.set()
        try:
            await asyncio.Event().wait()  # a lock that is never released, say
        except asyncio.CancelledError:
            cancelled.set()
            raise

    consumers = await harness.start_consumer(
        name, batch_handler=stuck, ack_wait=1.0, stop_timeout=0.3
    )
    one = await publish(harness, 1)
    await asyncio.wait_for(entered.wait(), timeout=PROMPTLY)
    started = time.monotonic()
    await consumers.stop()
    assert time.monotonic() - started < 2.0
    assert cancelled.is_set()
    # Never acked: the server delivers it again (after the 1 s ack wait) to the next one.
    await harness.start_consumer(name, ack_wait=1.0)
    await eventually(lambda: harness.applied_count(one), timeout=PROMPTLY)


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "plain client"])
async def test_a_request_the_server_forgot_is_sent_again(tmp_path: Path, direct: bool) -> None:
    """A server that died and came back no longer knows the open pull request, and neither
    answers nor ends it: after three heartbeats of silence the feed sends a new one, so an
    event published after the restart arrives within seconds instead of never. The same on
    the platform's connection (direct subscriptions) and on nats-py's own client."""
    server = NatsServer(tmp_path / "nats").start()
    options: dict[str, Any] = {"reconnect_time_wait": 0.1, "max_reconnect_attempts": -1}
    nc = Connection() if direct else nats.NATS()
    await nc.connect(server.url, **options)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="QUIET", subjects=["quiet.>"]))
        await js.add_consumer("QUIET", ConsumerConfig(durable_name="q", ack_policy="explicit"))
        feed = PullFeed(js, "QUIET", "q", batch=10, expires=30.0, heartbeat=0.2)
        await feed.start()
        try:
            assert await feed.take(10, timeout=0.3) == []  # a request is open on the server
            # Killed, not stopped: a server shutting down ends its pull requests (409), one
            # that dies, or a connection that is cut, says nothing.
            assert server.proc is not None
            server.proc.kill()
            server.proc.wait()
            server.start()  # same port and store: the stream and the consumer, not the request
            await eventually(lambda: nc.is_connected, timeout=PROMPTLY)

            async def published_once() -> bool:
                try:  # JetStream answers once it has recovered the stream
                    await js.publish("quiet.one", b"1", timeout=0.5, headers={"Nats-Msg-Id": "1"})
                except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError):
                    return False
                return True

            await eventually(published_once, timeout=PROMPTLY)
            published = time.monotonic()
            got: list[Msg] = []
            while not got and time.monotonic() - published < PROMPTLY:
                got = await feed.take(10, timeout=0.5)
            assert [m.data for m in got] == [b"1"]
            await got[0].ack()
        finally:
            await feed.stop()
    finally:
        await nc.close()
        server.stop()


async def lingering_feed(harness: Harness, waiting: int) -> tuple[PullFeed, str]:
    """A feed on a stream of its own with ``waiting`` messages arrived and not yet taken."""
    name = f"l{uuid.uuid4().hex[:8]}"
    await harness.js.add_stream(StreamConfig(name=name.upper(), subjects=[f"{name}.>"]))
    await harness.js.add_consumer(
        name.upper(), ConsumerConfig(durable_name=name, ack_policy="explicit")
    )
    feed = PullFeed(harness.js, name.upper(), name, batch=100)
    await feed.start()
    await publish_raw(harness, name, waiting + 1)
    first = await feed.take(1, timeout=PROMPTLY)  # opens the pull request
    await first[0].ack()
    await eventually(lambda: feed.waiting == waiting, timeout=PROMPTLY)
    return feed, name


async def publish_raw(harness: Harness, subject: str, n: int) -> None:
    for _ in range(n):
        await harness.js.publish(f"{subject}.x", b"x", headers={"Nats-Msg-Id": uuid.uuid4().hex})


async def test_a_busy_consumer_lingers_until_its_batch_is_full(harness: Harness) -> None:
    """With enough waiting to count as busy, a take waits for the batch to fill, and returns
    as soon as it has, well before the linger is over."""
    feed, subject = await lingering_feed(harness, BUSY)
    try:
        taking = asyncio.create_task(feed.take(BUSY + 30, timeout=PROMPTLY, linger=PROMPTLY))
        await asyncio.sleep(0.2)
        assert not taking.done()  # lingering, though 16 were there to take
        started = time.monotonic()
        await publish_raw(harness, subject, 30)
        msgs = await taking
        assert len(msgs) == BUSY + 30
        assert time.monotonic() - started < PROMPTLY / 2
    finally:
        await feed.stop()


async def test_a_busy_batch_that_does_not_fill_goes_after_the_linger(harness: Harness) -> None:
    feed, _ = await lingering_feed(harness, BUSY)
    try:
        started = time.monotonic()
        msgs = await feed.take(100, timeout=PROMPTLY, linger=0.3)
        took = time.monotonic() - started
        assert len(msgs) == BUSY
        assert 0.3 <= took < 0.3 + PROMPTLY / 2
    finally:
        await feed.stop()


async def test_a_quiet_consumer_takes_what_it_has_at_once(harness: Harness) -> None:
    """Fewer than ``BUSY`` waiting: no lingering, however long the linger."""
    feed, _ = await lingering_feed(harness, BUSY - 1)
    try:
        started = time.monotonic()
        msgs = await feed.take(100, timeout=PROMPTLY, linger=PROMPTLY)
        assert len(msgs) == BUSY - 1
        assert time.monotonic() - started < 0.2
    finally:
        await feed.stop()
