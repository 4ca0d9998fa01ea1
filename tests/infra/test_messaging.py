"""The connection's direct subscriptions, lazy headers and acks in one write, on a real server."""

from __future__ import annotations

import asyncio
import uuid

import nats
import pytest
from ideabank_infra.messaging import (
    Connection,
    LazyHeadersMsg,
    ack_all,
    connect,
    ensure_streams,
    header_lines,
    inline_status,
    subscribe_direct,
)
from ideabank_infra.testing import eventually
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import MsgAlreadyAckdError
from nats.js.api import AckPolicy, ConsumerConfig

HEADER_BLOCKS = [
    b"Nats-Msg-Id: abc\r\nce-type: se.ideabank.idea.submitted.v1\r\n\r\n",
    b"A:1\r\nB:\tspaced \r\n\r\n",  # no space after the colon, a tab, trailing blanks
    b"Empty:\r\n\r\n",
    b"Bad Name: skipped\r\nGood: kept\r\n\r\n",  # whitespace inside a name
    b"caf\xc3\xa9: non-ascii name\r\nX: caf\xc3\xa9 \xff\r\n\r\n",  # bad UTF-8 is replaced
    b"no colon here\r\nY: z: with colon\r\n\r\n",
    b"Twice: 1\r\nTwice: 2\r\n\r\n",
    b"\r\n",
    b"",
]


@pytest.mark.parametrize("raw", HEADER_BLOCKS)
def test_header_lines_parse_as_nats_py_does(raw: bytes) -> None:
    expected = Client._parse_header_lines(raw) or None
    assert header_lines(raw) == expected


def test_lazy_headers_are_parsed_when_first_read() -> None:
    msg = LazyHeadersMsg(_client=None, subject="s", reply="", data=b"")  # type: ignore[arg-type]
    msg.raw_headers = b"Nats-Msg-Id: m1\r\n\r\n"
    assert inline_status(msg) is None  # answered without parsing
    assert msg.raw_headers
    assert msg.headers == {"Nats-Msg-Id": "m1"}
    assert msg.raw_headers == b"" and msg.header == {"Nats-Msg-Id": "m1"}
    msg.headers = {"other": "x"}
    assert msg.headers == {"other": "x"}


def test_inline_status_of_a_parsed_message() -> None:
    status = Msg(_client=None, headers={"Status": "408", "Description": "Request Timeout"})  # type: ignore[arg-type]
    assert inline_status(status) == "408"
    assert inline_status(Msg(_client=None)) is None  # type: ignore[arg-type]


async def test_a_direct_subscription_gets_headers_statuses_and_bodies(nats_url: str) -> None:
    nc = await connect(nats_url, "test")
    try:
        assert isinstance(nc, Connection)
        got: list[Msg] = []
        sub = await subscribe_direct(nc, "direct.test", got.append)
        await nc.publish("direct.test", b"one", headers={"ce-type": "t", "Nats-Msg-Id": "1"})
        await nc.publish("direct.test", b"two")
        # A request nobody answers: the server's inline status 503 comes to the reply inbox.
        inbox = nc.new_inbox()
        await subscribe_direct(nc, inbox, got.append)
        await nc.publish("nobody.listens", b"", reply=inbox)
        await nc.flush()
        await eventually(lambda: len(got) == 3)
        one, two, no_responders = got
        assert isinstance(one, LazyHeadersMsg) and one.data == b"one"
        assert one.headers == {"ce-type": "t", "Nats-Msg-Id": "1"}
        assert two.data == b"two" and two.headers is None and inline_status(two) is None
        assert inline_status(no_responders) == "503"
        # Unsubscribed: nothing more arrives, and the function is forgotten.
        await sub.unsubscribe()
        await nc.publish("direct.test", b"three")
        await nc.flush()
        await asyncio.sleep(0.1)
        assert len(got) == 3 and sub._id not in nc._direct
    finally:
        await nc.close()


async def test_a_failing_receive_does_not_stop_the_connection(nats_url: str) -> None:
    nc = await connect(nats_url, "test")
    try:
        got: list[bytes] = []

        def receive(msg: Msg) -> None:
            if msg.data == b"boom":
                raise RuntimeError("boom")
            got.append(msg.data)

        await subscribe_direct(nc, "direct.fail", receive)
        for body in (b"a", b"boom", b"b"):
            await nc.publish("direct.fail", body)
        await nc.flush()
        await eventually(lambda: got == [b"a", b"b"])
        assert nc.is_connected
    finally:
        await nc.close()


async def test_a_plain_client_gets_a_callback_subscription(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        got: list[Msg] = []
        await subscribe_direct(nc, "direct.plain", got.append)
        await nc.publish("direct.plain", b"x", headers={"k": "v"})
        await nc.flush()
        await eventually(lambda: len(got) == 1)
        assert got[0].headers == {"k": "v"}
    finally:
        await nc.close()


@pytest.mark.parametrize("direct", [True, False], ids=["connection", "plain client"])
async def test_ack_all_acks_every_message(nats_url: str, direct: bool) -> None:
    nc = await connect(nats_url, "test") if direct else await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        subject = f"ideas.v1.t-{uuid.uuid4().hex[:8]}.idea.commented"
        for i in range(20):
            await js.publish(subject, str(i).encode(), headers={"Nats-Msg-Id": uuid.uuid4().hex})
        durable = f"acks-{uuid.uuid4().hex[:8]}"
        config = ConsumerConfig(
            durable_name=durable, filter_subject=subject, ack_policy=AckPolicy.EXPLICIT, ack_wait=1
        )
        sub = await js.pull_subscribe(subject, durable=durable, stream="IDEAS", config=config)
        msgs = await sub.fetch(20, timeout=2)
        assert len(msgs) == 20
        await ack_all(msgs)
        with pytest.raises(MsgAlreadyAckdError):
            await ack_all(msgs[:1])
        await nc.flush()
        # Past the ack wait: an unacked message would have come again.
        await asyncio.sleep(1.5)
        info = await js.consumer_info("IDEAS", durable)
        assert info.num_ack_pending == 0 and info.num_redelivered == 0
        with pytest.raises(nats.errors.TimeoutError):
            await sub.fetch(1, timeout=0.5)
    finally:
        await nc.close()
