"""Every subscription of evaluation, in one place."""

from __future__ import annotations

from collections.abc import Sequence

from ideabank_contracts import CloudEvent
from ideabank_infra.app import Runtime
from ideabank_infra.consumer import Subscription, apply_in_runs, subjects_for
from sqlalchemy.ext.asyncio import AsyncConnection

from ideabank_evaluation import projections as p

#: One durable consumer for all of them, so an idea's events apply in stream order
#: (an assignment never overtakes its submission).
HANDLERS = {
    "idea.submitted": p.on_idea_submitted,
    "idea.assigned": p.on_idea_assigned,
    "idea.revised": p.on_idea_revised,
    "idea.withdrawn": p.on_idea_withdrawn,
    "idea.merged": p.on_idea_merged,
    "idea.redacted": p.on_idea_redacted,
    "tenant.registered": p.on_tenant_registered,
    "org_unit.defined": p.on_org_unit_defined,
    "person.registered": p.on_person_registered,
    "person.updated": p.on_person_updated,
    "ambassador.assigned": p.on_ambassador_assigned,
}


async def apply(conn: AsyncConnection, events: list[CloudEvent]) -> None:
    """A fetched batch of new events, in stream order, each as its handler applies it; a run
    of consecutive submissions is inserted as one statement of many rows."""
    await apply_in_runs(conn, events, HANDLERS, {"idea.submitted": p.on_ideas_submitted})


def subscriptions(runtime: Runtime) -> Sequence[Subscription]:
    """Evaluation's durable consumers."""
    return [
        Subscription(
            name="evaluation-intake",
            subjects=subjects_for("*", HANDLERS),
            handlers=dict(HANDLERS),
            batch_handler=apply,
        )
    ]
