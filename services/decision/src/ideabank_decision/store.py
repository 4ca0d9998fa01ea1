"""Decision's tables (its own database) and the queries on them. Every query names the tenant.

Projections of what other services did (ideas, org units, people, networks, the network's
offers and adoptions) are kept from their events; decisions, plans, trials, indicators,
measurements and evaluations are this service's own records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ideabank_infra.db import Database
from ideabank_infra.tables import audit_log
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    and_,
    case,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from ideabank_decision.domain import lifecycle as lc

metadata = MetaData()

ideas = Table(
    "ideas",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(100), primary_key=True),
    Column("title", String(300), nullable=True),
    Column("summary", Text, nullable=True),
    Column("category", String(300), nullable=True),
    Column("channel", String(32), nullable=True),
    Column("org_unit_id", String(100), nullable=True),
    Column("administration_id", String(100), nullable=True),
    Column("idea_giver_id", String(100), nullable=True),
    Column("co_author_ids", JSON, nullable=False, default=list),
    Column("status", String(32), nullable=False),
    Column("routed_org_unit_id", String(100), nullable=True),
    Column("routed_person_id", String(100), nullable=True),
    Column("decision_basis", JSON, nullable=True),
    Column("escalated", Boolean, nullable=False, default=False),
    Column("implementer_id", String(100), nullable=True),
    Column("decision_kind", String(20), nullable=True),
    # The queue a deferred idea returns to, and when.
    Column("decided_from", String(32), nullable=True),
    Column("revisit_date", Date, nullable=True),
    Column("origin_tenant", String(63), nullable=True),
    Column("origin_idea_id", String(100), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=True),
)
Index("ix_ideas_status", ideas.c.tenant, ideas.c.status)
Index("ix_ideas_revisit", ideas.c.status, ideas.c.revisit_date)

org_units = Table(
    "org_units",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(100), primary_key=True),
    Column("parent_id", String(100), nullable=True),
    Column("kind", String(20), nullable=False),
    Column("administration_id", String(100), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

# Only what deciding needs: no names or email addresses are kept here.
people = Table(
    "people",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(100), primary_key=True),
    Column("org_unit_id", String(100), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

network_members = Table(
    "network_members",
    metadata,
    Column("network", String(63), primary_key=True),
    Column("tenant", String(63), primary_key=True),
    Column("active", Boolean, nullable=False),
)
Index("ix_network_members_tenant", network_members.c.tenant)

decisions = Table(
    "decisions",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("idea_id", String(100), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("decided_by", String(32), nullable=False),
    Column("actor_id", String(100), nullable=False),
    Column("kind", String(20), nullable=True),
    Column("implementer_id", String(100), nullable=True),
    Column("resources", Text, nullable=True),
    Column("budget", JSON, nullable=True),
    Column("motivation", Text, nullable=True),
    Column("revisit_date", Date, nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)
Index("ix_decisions_idea", decisions.c.tenant, decisions.c.idea_id)

plans = Table(
    "plans",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("idea_id", String(100), primary_key=True),
    Column("plan_id", String(64), nullable=False),
    Column("actor_id", String(100), nullable=False),
    Column("milestones", JSON, nullable=False),
    Column("anchored_with_ids", JSON, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=True),
    Column("notes", Text, nullable=True),
    Column("anchored_at", DateTime(timezone=True), nullable=False),
)

trials = Table(
    "trials",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("idea_id", String(100), nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("actor_id", String(100), nullable=False),
    Column("hypothesis", Text, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("result", Text, nullable=False),
    Column("verdict", String(20), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
Index("ix_trials_idea", trials.c.tenant, trials.c.idea_id)

indicators = Table(
    "indicators",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("idea_id", String(100), nullable=False),
    Column("name", String(300), nullable=False),
    Column("unit", String(300), nullable=False),
    Column("baseline", Numeric(20, 4), nullable=False),
    Column("target", Numeric(20, 4), nullable=False),
    Column("direction", String(10), nullable=False),
    Column("cadence", String(20), nullable=False),
    Column("tolerance_percent", Numeric(8, 3), nullable=False),
    Column("description", Text, nullable=True),
    Column("defined_at", DateTime(timezone=True), nullable=False),
)
Index("ix_indicators_idea", indicators.c.tenant, indicators.c.idea_id)

measurements = Table(
    "measurements",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("idea_id", String(100), nullable=False),
    Column("indicator_id", String(64), nullable=False),
    Column("actor_id", String(100), nullable=False),
    Column("value", Numeric(20, 4), nullable=False),
    Column("measured_at", Date, nullable=False),
    Column("off_target", Boolean, nullable=False),
    Column("corrective_action", Text, nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
Index("ix_measurements_idea", measurements.c.tenant, measurements.c.idea_id)

evaluations = Table(
    "evaluations",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("idea_id", String(100), primary_key=True),
    Column("actor_id", String(100), nullable=False),
    Column("realised_amount", Numeric(20, 2), nullable=True),
    Column("realised_currency", String(3), nullable=True),
    Column("realised_hours", Numeric(20, 2), nullable=True),
    Column("benefit_description", Text, nullable=True),
    Column("lessons_learned", Text, nullable=False),
    Column("evaluated_at", DateTime(timezone=True), nullable=False),
)

# The names of the municipalities, from `tenant.registered`, to show where an offer is from.
tenants = Table(
    "tenants",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("name", String(300), nullable=False),
)

# The network catalogue: every tenant's offers, own and others', from `idea.offered`.
offers = Table(
    "offers",
    metadata,
    Column("origin_tenant", String(63), primary_key=True),
    Column("idea_id", String(100), primary_key=True),
    Column("network", String(63), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("summary", Text, nullable=False),
    Column("category", String(300), nullable=False),
    Column("realised_benefit", JSON, nullable=True),
    Column("realised_hours", String(40), nullable=True),
    Column("lessons_learned", Text, nullable=True),
    Column("offered_at", DateTime(timezone=True), nullable=False),
)
Index("ix_offers_network", offers.c.network)

# Adoptions seen from both sides: the adopting tenant writes its own row when it adopts;
# the origin learns of it from `idea.adopted` on the adopting tenant's subject.
adoptions = Table(
    "adoptions",
    metadata,
    Column("adopting_tenant", String(63), primary_key=True),
    Column("origin_tenant", String(63), primary_key=True),
    Column("origin_idea_id", String(100), primary_key=True),
    Column("idea_id", String(100), nullable=False),
    Column("network", String(63), nullable=False),
    Column("adopted_at", DateTime(timezone=True), nullable=False),
)
Index("ix_adoptions_origin", adoptions.c.origin_tenant, adoptions.c.origin_idea_id)


def _key(tenant: str, idea_id: str) -> Any:
    return and_(ideas.c.tenant == tenant, ideas.c.id == idea_id)


async def get_idea(conn: AsyncConnection, tenant: str, idea_id: str) -> dict[str, Any] | None:
    """One idea of the tenant, or None."""
    row = (await conn.execute(select(ideas).where(_key(tenant, idea_id)))).first()
    return dict(row._mapping) if row else None


async def upsert_idea(
    db: Database, conn: AsyncConnection, tenant: str, idea_id: str, values: Mapping[str, Any]
) -> None:
    """Create the idea's row or update the given columns."""
    stmt = db.insert(ideas).values(tenant=tenant, id=idea_id, **values)
    stmt = stmt.on_conflict_do_update(index_elements=["tenant", "id"], set_=dict(values))
    await conn.execute(stmt)


async def move(
    conn: AsyncConnection,
    tenant: str,
    idea_id: str,
    *,
    from_statuses: frozenset[str] | set[str],
    to_status: str,
    at: datetime,
    **values: Any,
) -> bool:
    """Move an idea from one of ``from_statuses`` to ``to_status``; False if another got there first.

    The status is part of the WHERE clause, so of two concurrent requests (or two replicas'
    timers) exactly one moves the idea.
    """
    result = await conn.execute(
        update(ideas)
        .where(_key(tenant, idea_id), ideas.c.status.in_(sorted(from_statuses)))
        .values(status=to_status, updated_at=at, **values)
    )
    return bool(result.rowcount == 1)


async def resume(conn: AsyncConnection, tenant: str, idea_id: str, *, at: datetime) -> str | None:
    """Return a deferred idea to the queue it was decided from; None if it is not deferred.

    A single conditional UPDATE, the first statement of its transaction: of two replicas
    that try at once, exactly one moves the idea (the other's WHERE no longer matches).
    """
    back_to = case(
        (ideas.c.decided_from.in_(sorted(lc.DECIDABLE)), ideas.c.decided_from),
        else_=lc.resume_status(None),
    )
    result = await conn.execute(
        update(ideas)
        .where(_key(tenant, idea_id), ideas.c.status == lc.DEFERRED)
        .values(status=back_to, revisit_date=None, updated_at=at)
    )
    if result.rowcount != 1:
        return None
    row = (await conn.execute(select(ideas.c.status).where(_key(tenant, idea_id)))).first()
    return str(row.status) if row else None


async def set_status_if(
    conn: AsyncConnection,
    tenant: str,
    idea_id: str,
    *,
    allowed_from: frozenset[str],
    to_status: str,
    **values: Any,
) -> None:
    """Apply another service's status change unless this service has moved the idea on."""
    await conn.execute(
        update(ideas)
        .where(_key(tenant, idea_id), ideas.c.status.in_(sorted(allowed_from)))
        .values(status=to_status, **values)
    )


async def org_tree(conn: AsyncConnection, tenant: str) -> dict[str, dict[str, Any]]:
    """Every org unit of the tenant by id."""
    rows = await conn.execute(select(org_units).where(org_units.c.tenant == tenant))
    return {r.id: dict(r._mapping) for r in rows}


async def person(conn: AsyncConnection, tenant: str, person_id: str) -> dict[str, Any] | None:
    """An active person of the tenant, or None."""
    row = (
        await conn.execute(
            select(people).where(
                people.c.tenant == tenant, people.c.id == person_id, people.c.active.is_(True)
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def active_networks(conn: AsyncConnection, tenant: str) -> list[str]:
    """Networks the tenant is an active member of."""
    rows = await conn.execute(
        select(network_members.c.network)
        .where(network_members.c.tenant == tenant, network_members.c.active.is_(True))
        .order_by(network_members.c.network)
    )
    return [r.network for r in rows]


async def audit(
    conn: AsyncConnection,
    *,
    tenant: str,
    actor_id: str | None,
    action: str,
    subject: str,
    event_id: str | None,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """One audit row for a state change, written in the change's own transaction."""
    await conn.execute(
        audit_log.insert().values(
            tenant=tenant,
            actor_id=actor_id,
            action=action,
            subject=subject,
            event_id=event_id,
            detail=json.dumps(detail, default=str, sort_keys=True) if detail else None,
            at=at,
        )
    )


def as_date(value: Any) -> date | None:
    """A date column's value (SQLite may hand back a string)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
