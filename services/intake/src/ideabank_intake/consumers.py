"""Every subscription of intake, in one place."""

from __future__ import annotations

from collections.abc import Sequence

from ideabank_contracts import CloudEvent
from ideabank_contracts.subjects import DEVIATIONS_STREAM_NAME
from ideabank_infra.app import Runtime
from ideabank_infra.consumer import Handler, Subscription
from sqlalchemy.ext.asyncio import AsyncConnection

from ideabank_intake import handlers
from ideabank_intake.domain.ideas import STATUS_EVENTS
from ideabank_intake.settings import IntakeSettings


def subscriptions(runtime: Runtime) -> Sequence[Subscription]:
    """Intake's durable consumers: deviations from outside, adoptions and status changes."""
    settings = runtime.settings
    assert isinstance(settings, IntakeSettings)
    policy = handlers.DuplicatePolicy(
        threshold=settings.duplicate_threshold, limit=settings.duplicate_limit
    )

    async def deviation_registered(conn: AsyncConnection, event: CloudEvent) -> None:
        await handlers.on_deviation_registered(conn, event, now=runtime.clock.now(), policy=policy)

    async def idea_adopted(conn: AsyncConnection, event: CloudEvent) -> None:
        await handlers.on_idea_adopted(conn, event, now=runtime.clock.now(), policy=policy)

    async def status_changed(conn: AsyncConnection, event: CloudEvent) -> None:
        await handlers.on_status_event(conn, event, now=runtime.clock.now())

    # One consumer for adoptions and status events keeps them in stream order per idea.
    lifecycle: dict[str, Handler] = {name: status_changed for name in STATUS_EVENTS}
    lifecycle["idea.adopted"] = idea_adopted
    return [
        Subscription(
            name="intake-deviations",
            subjects=["deviations.v1.*.deviation.registered"],
            handlers={"deviation.registered": deviation_registered},
            stream=DEVIATIONS_STREAM_NAME,
        ),
        Subscription(
            name="intake-lifecycle",
            subjects=[f"ideas.v1.*.{name}" for name in lifecycle],
            handlers=lifecycle,
        ),
    ]
