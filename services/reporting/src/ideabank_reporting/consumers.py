"""Every subscription of reporting, in one place."""

from __future__ import annotations

from collections.abc import Sequence

from ideabank_contracts import CloudEvent
from ideabank_infra.app import Runtime
from ideabank_infra.consumer import Subscription, subjects_for
from sqlalchemy.ext.asyncio import AsyncConnection

from ideabank_reporting.handlers import apply_events

#: Durable consumer name; a replay writes its inbox under the same name.
CONSUMER = "reporting"


async def on_batch(conn: AsyncConnection, events: list[CloudEvent]) -> None:
    """A fetched batch of new events: one transaction, bulk writes."""
    await apply_events(conn, events)


def subscriptions(runtime: Runtime) -> Sequence[Subscription]:
    """Reporting reads every idea and tenancy event of every tenant."""
    return [
        Subscription(name=CONSUMER, subjects=subjects_for("*"), handlers={}, batch_handler=on_batch)
    ]
