"""Every subscription of notification, in one place.

One durable consumer reads the whole ideas stream in order, so a person or org unit is known
before the idea events that mention them. Every event is also queued to the webhooks of its
tenant that want it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from ideabank_contracts import CloudEvent
from ideabank_infra.app import Runtime
from ideabank_infra.consumer import Handler, Subscription, apply_in_runs
from sqlalchemy.ext.asyncio import AsyncConnection

from ideabank_notification import handlers as h
from ideabank_notification.settings import NotificationSettings

UseCase = Callable[..., Awaitable[None]]

#: Events that update the idea projection and may tell people something.
IDEA_EVENTS = (
    "idea.submitted",
    "idea.revised",
    "idea.withdrawn",
    "idea.assigned",
    "idea.commented",
    "idea.supported",
    "idea.merged",
    "screening.completed",
    "idea.resumed",
    "decision_basis.submitted",
    "decision.made",
    "plan.anchored",
    "idea.implemented",
    "idea.evaluated",
    "idea.offered",
    "idea.adopted",
)


def context(runtime: Runtime) -> h.Context:
    """The use cases' context of a running service."""
    settings = runtime.settings
    assert isinstance(settings, NotificationSettings)
    return h.Context(db=runtime.db, settings=settings, clock=runtime.clock)


def subscriptions(runtime: Runtime) -> Sequence[Subscription]:
    """Notification's durable consumers."""
    ctx = context(runtime)

    def handle(use_case: UseCase | None) -> Handler:
        async def handler(conn: AsyncConnection, event: CloudEvent) -> None:
            if use_case is not None:
                await use_case(conn, ctx, event=event)
            await h.queue_webhooks(conn, ctx, event=event)

        return handler

    handlers: dict[str, Handler] = {
        "tenant.registered": handle(h.record_tenant),
        "org_unit.defined": handle(h.record_org_unit),
        "person.registered": handle(h.record_person),
        "person.updated": handle(h.record_person),
        "ambassador.assigned": handle(h.record_ambassador),
        "idea.redacted": handle(h.redact_person),
        **{key: handle(h.apply_idea_event) for key in IDEA_EVENTS},
        # Everything else (trials, indicators, announcements, …) only goes to webhooks.
        "*": handle(None),
    }

    async def apply(conn: AsyncConnection, events: list[CloudEvent]) -> None:
        """A fetched batch of new events in stream order, each applied as its handler would;
        a run of consecutive submissions (nearly all of a busy platform's events) together,
        see ``apply_submissions``."""
        await apply_in_runs(conn, events, handlers, {h.SUBMITTED: submissions})

    async def submissions(conn: AsyncConnection, events: list[CloudEvent]) -> None:
        await h.apply_submissions(conn, ctx, events=events)
        await h.queue_webhooks_of(conn, ctx, events=events)

    return [
        Subscription(
            name="notification",
            subjects=["ideas.v1.*.>"],
            handlers=handlers,
            batch_handler=apply,
        )
    ]
