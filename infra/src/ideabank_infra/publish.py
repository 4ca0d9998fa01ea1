"""JetStream publishes kept in flight, each answered by its acknowledgement.

nats-py's ``publish_async`` takes a semaphore, draws a random token from the operating system
and registers a done-callback for every message, then builds a ``PubAck`` from the answer:
about 22 µs of CPU a message here, acknowledgement included. The outbox relay bounds what it
has in flight itself (two batches) and gives up on a batch as a whole after a timeout, so
:class:`Publisher` keeps only what it needs: one subscription to the connection's reply
subjects, a counter for each message's token, and a future resolved from the answer's JSON:
about 16 µs. A message is published exactly as ``publish_async`` publishes it (subject,
payload, headers, a reply subject of its own), so the server sees no difference.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import nats.errors
import pydantic_core
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import APIError, NoStreamResponseError

from ideabank_infra.messaging import inline_status, subscribe_direct

#: Futures never answered (a batch given up on) are dropped once this many are waiting.
FORGET_AT = 20_000


class Publisher:
    """Publishes to JetStream over ``nc``; each publish gives a future of the server's answer.

    The future's result is the acknowledgement (``{"stream": …, "seq": …}``, with
    ``"duplicate": true`` when the stream had the message id already); it fails with
    :class:`~nats.js.errors.NoStreamResponseError` when no stream takes the subject, or with
    the server's :class:`~nats.js.errors.APIError`.
    """

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._prefix = ""
        self._sub: Subscription | None = None
        self._count = 0
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._forget_at = FORGET_AT

    async def publish(
        self, subject: str, payload: bytes, headers: dict[str, str]
    ) -> asyncio.Future[dict[str, Any]]:
        """Send one message; the future of its acknowledgement."""
        if self._sub is None:
            self._prefix = self._nc.new_inbox() + "."
            self._sub = await subscribe_direct(self._nc, self._prefix + "*", self._answered)
        if len(self._waiting) >= self._forget_at:
            self._forget_settled()
        self._count += 1
        token = str(self._count)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[token] = future
        await self._nc.publish(subject, payload, reply=self._prefix + token, headers=headers)
        return future

    async def close(self) -> None:
        """Stop listening for answers; futures still waiting are cancelled."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            with contextlib.suppress(nats.errors.Error):  # the connection is closed already
                await sub.unsubscribe()
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()

    def _forget_settled(self) -> None:
        # A future given up on (cancelled by its caller's timeout) is never answered: drop
        # those, and look again when the ones still waiting have doubled.
        self._waiting = {t: f for t, f in self._waiting.items() if not f.done()}
        self._forget_at = max(FORGET_AT, 2 * len(self._waiting))

    def _answered(self, msg: Msg) -> None:
        future = self._waiting.pop(msg.subject[len(self._prefix) :], None)
        if future is None or future.done():
            return
        if inline_status(msg) == "503":
            future.set_exception(NoStreamResponseError())  # no stream takes the subject
            return
        try:
            answer = pydantic_core.from_json(msg.data)
        except ValueError as exc:
            future.set_exception(exc)
            return
        error = answer.get("error") if isinstance(answer, dict) else None
        if error is None:
            future.set_result(answer)
            return
        try:
            APIError.from_error(error)  # raises the error's class (BadRequestError, …)
        except Exception as exc:  # whatever it is, the publish failed with it
            future.set_exception(exc)
        else:
            future.set_exception(APIError(description=str(error)))
