"""Evaluation's copies of what intake owns, kept from intake's events.

Each handler runs inside the consumer's transaction, after the inbox has dropped
duplicates, so applying an event twice changes nothing. Tenancy events are state events:
the latest one wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

from ideabank_contracts import CloudEvent, parse_data
from ideabank_contracts.envelope import EventData
from ideabank_contracts.events import idea as idea_ev
from ideabank_contracts.events import tenancy as tenancy_ev
from ideabank_infra.consumer import DeadLetter
from pydantic import ValidationError
from sqlalchemy import and_, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Update

from ideabank_evaluation.domain import lifecycle
from ideabank_evaluation.store import (
    ambassadors,
    decision_bases,
    idea_status,
    ideas,
    insert_new_ideas,
    org_units,
    people,
    screenings,
    tenants,
    update_idea,
    upsert,
)

D = TypeVar("D", bound=EventData)


class IdeaNotYetKnown(Exception):
    """An event about an idea whose ``idea.submitted`` has not been applied yet: retry later."""


def _data(event: CloudEvent, model: type[D]) -> D:
    # A payload that does not validate never will: dead-letter it at once with the reason.
    try:
        data = parse_data(event)
    except (KeyError, ValidationError) as exc:
        raise DeadLetter(f"{event.type}: {exc}") from exc
    if not isinstance(data, model):
        raise DeadLetter(f"{event.type} is not a {model.__name__}")
    return data


async def on_idea_submitted(conn: AsyncConnection, event: CloudEvent) -> None:
    """A new idea: remember what screening needs (title, org unit, idea giver)."""
    await on_ideas_submitted(conn, [event])


async def on_ideas_submitted(conn: AsyncConnection, events: Sequence[CloudEvent]) -> None:
    """A run of new ideas, as one statement (under load nearly every event is one)."""
    now = _now()
    rows = []
    for event in events:
        data = _data(event, idea_ev.IdeaSubmitted)
        rows.append(
            {
                "tenant": event.tenant,
                "id": data.idea_id,
                "title": data.title,
                "org_unit_id": data.org_unit_id,
                "administration_id": data.administration_id,
                "idea_giver_id": data.actor_id,
                "status": "submitted",
                "ambassador_id": None,
                "submitted_at": data.submitted_at,
                "in_screening_since": None,
                "revisit_date": None,
                "updated_at": now,
            }
        )
    await insert_new_ideas(conn, rows)


async def on_idea_assigned(conn: AsyncConnection, event: CloudEvent) -> None:
    """The idea has an ambassador: a waiting idea enters the screening queue."""
    data = _data(event, idea_ev.IdeaAssigned)
    t, idea_id = event.tenant, data.idea_id
    current = await idea_status(conn, tenant=t, idea_id=idea_id)
    if current is None:
        raise IdeaNotYetKnown(idea_id)
    status = lifecycle.after_assigned(current)
    values: dict[str, object] = {"ambassador_id": data.ambassador_id, "updated_at": _now()}
    if status != current:
        values.update(status=status, in_screening_since=data.assigned_at)
    await update_idea(conn, tenant=t, idea_id=idea_id, **values)


async def on_idea_revised(conn: AsyncConnection, event: CloudEvent) -> None:
    """The idea giver edited the idea before screening."""
    data = _data(event, idea_ev.IdeaRevised)
    t, idea_id = event.tenant, data.idea_id
    if await idea_status(conn, tenant=t, idea_id=idea_id) is None:
        raise IdeaNotYetKnown(idea_id)
    await update_idea(
        conn,
        tenant=t,
        idea_id=idea_id,
        title=data.title,
        org_unit_id=data.org_unit_id,
        administration_id=data.administration_id,
        updated_at=_now(),
    )


async def on_idea_withdrawn(conn: AsyncConnection, event: CloudEvent) -> None:
    """Withdrawn by the idea giver: it leaves the queue and its timer stops."""
    data = _data(event, idea_ev.IdeaWithdrawn)
    await _end(conn, event.tenant, data.idea_id, "withdrawn")


async def on_idea_merged(conn: AsyncConnection, event: CloudEvent) -> None:
    """Merged into another idea as a duplicate: it leaves the queue."""
    data = _data(event, idea_ev.IdeaMerged)
    await _end(conn, event.tenant, data.idea_id, "merged")


async def _end(conn: AsyncConnection, tenant: str, idea_id: str, status: str) -> None:
    current = await idea_status(conn, tenant=tenant, idea_id=idea_id)
    if current is None:
        raise IdeaNotYetKnown(idea_id)
    new = lifecycle.after_withdrawn_or_merged(current, status)
    await update_idea(
        conn, tenant=tenant, idea_id=idea_id, status=new, revisit_date=None, updated_at=_now()
    )


async def on_idea_redacted(conn: AsyncConnection, event: CloudEvent) -> None:
    """Erase a person from what evaluation holds about this idea; scores and outcomes stay."""
    data = _data(event, idea_ev.IdeaRedacted)
    t, idea_id, person = event.tenant, data.idea_id, data.person_id
    await conn.execute(
        _idea_update(t, idea_id).where(ideas.c.idea_giver_id == person).values(idea_giver_id=None)
    )
    await conn.execute(
        _idea_update(t, idea_id).where(ideas.c.ambassador_id == person).values(ambassador_id=None)
    )
    await conn.execute(
        update(screenings)
        .where(
            screenings.c.tenant == t,
            screenings.c.idea_id == idea_id,
            screenings.c.actor_id == person,
        )
        .values(actor_id=None)
    )
    await conn.execute(
        update(decision_bases)
        .where(
            decision_bases.c.tenant == t,
            decision_bases.c.idea_id == idea_id,
            decision_bases.c.updated_by == person,
        )
        .values(updated_by=None)
    )


def _idea_update(tenant: str, idea_id: str) -> Update:
    return update(ideas).where(and_(ideas.c.tenant == tenant, ideas.c.id == idea_id))


async def on_tenant_registered(conn: AsyncConnection, event: CloudEvent) -> None:
    """The tenant's currency is the default of a decision basis's estimated cost."""
    data = _data(event, tenancy_ev.TenantRegistered)
    row = {"tenant": event.tenant, "currency": data.currency.value}
    await upsert(conn, tenants, row, ["tenant"])


async def on_org_unit_defined(conn: AsyncConnection, event: CloudEvent) -> None:
    """The org-unit tree: which administration a unit belongs to, and who manages it."""
    data = _data(event, tenancy_ev.OrgUnitDefined)
    row = {
        "tenant": event.tenant,
        "id": data.org_unit_id,
        "kind": data.kind.value,
        "parent_id": data.parent_id,
        "administration_id": data.administration_id,
        "active": data.active,
    }
    await upsert(conn, org_units, row, ["tenant", "id"])


async def on_person_registered(conn: AsyncConnection, event: CloudEvent) -> None:
    """A new person: their org unit and roles (never the name or email address)."""
    await _person(conn, event.tenant, _data(event, tenancy_ev.PersonRegistered))


async def on_person_updated(conn: AsyncConnection, event: CloudEvent) -> None:
    """A person's org unit, roles or activity changed."""
    await _person(conn, event.tenant, _data(event, tenancy_ev.PersonUpdated))


async def _person(
    conn: AsyncConnection,
    tenant: str,
    data: tenancy_ev.PersonRegistered | tenancy_ev.PersonUpdated,
) -> None:
    row = {
        "tenant": tenant,
        "id": data.person_id,
        "org_unit_id": data.org_unit_id,
        "roles": sorted(r.value for r in data.roles),
        "active": data.active,
    }
    await upsert(conn, people, row, ["tenant", "id"])


async def on_ambassador_assigned(conn: AsyncConnection, event: CloudEvent) -> None:
    """Which person is the appointed ambassador of an administration."""
    data = _data(event, tenancy_ev.AmbassadorAssigned)
    row = {
        "tenant": event.tenant,
        "administration_id": data.administration_id,
        "person_id": data.person_id,
    }
    await upsert(conn, ambassadors, row, ["tenant", "administration_id"])


def _now() -> datetime:
    return datetime.now(UTC)
