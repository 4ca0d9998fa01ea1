"""Evaluation's tables (its own database) and the queries on them. Every query names the tenant.

``ideas``, ``org_units``, ``people`` and ``ambassadors`` are projections of intake's events;
templates, screenings and decision bases are evaluation's own state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from ideabank_infra.db import insert_ignore_statement, insert_rows
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
    bindparam,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

metadata = MetaData()

ideas = Table(
    "ideas",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(100), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("org_unit_id", String(100), nullable=False),
    Column("administration_id", String(100), nullable=False),
    Column("idea_giver_id", String(100), nullable=True),
    Column("status", String(32), nullable=False),
    Column("ambassador_id", String(100), nullable=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    # When the idea last entered the queue: the waiting time counts from here.
    Column("in_screening_since", DateTime(timezone=True), nullable=True),
    Column("revisit_date", Date, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_ideas_queue", ideas.c.tenant, ideas.c.status, ideas.c.administration_id)
# The revisit timer scans every tenant for due pauses.
Index("ix_ideas_revisit", ideas.c.status, ideas.c.revisit_date)

tenants = Table(
    "tenants",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("currency", String(3), nullable=False),
)

org_units = Table(
    "org_units",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(100), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("parent_id", String(100), nullable=True),
    Column("administration_id", String(100), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

# Only what evaluation's rules need: no names or email addresses are kept here.
people = Table(
    "people",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(100), primary_key=True),
    Column("org_unit_id", String(100), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

ambassadors = Table(
    "ambassadors",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("administration_id", String(100), primary_key=True),
    Column("person_id", String(100), nullable=False),
)

screening_templates = Table(
    "screening_templates",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("criteria", JSON, nullable=False),
    Column("created_by", String(100), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

screenings = Table(
    "screenings",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("idea_id", String(100), nullable=False),
    Column("template_version", Integer, nullable=False),
    Column("scores", JSON, nullable=False),
    Column("weighted_total", Numeric(12, 3), nullable=False),
    Column("weighted_max", Numeric(12, 3), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("motivation", Text, nullable=True),
    Column("revisit_date", Date, nullable=True),
    Column("routed_to_org_unit_id", String(100), nullable=True),
    Column("routed_to_person_id", String(100), nullable=True),
    Column("actor_id", String(100), nullable=True),
    Column("completed_at", DateTime(timezone=True), nullable=False),
)
Index("ix_screenings_idea", screenings.c.tenant, screenings.c.idea_id)

decision_bases = Table(
    "decision_bases",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("idea_id", String(100), primary_key=True),
    Column("id", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # draft | submitted
    Column("content", JSON, nullable=False),
    Column("updated_by", String(100), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=True),
)


async def insert_new_ideas(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ideas not known yet; an idea already known keeps its row as it is."""
    # Every submission on the platform comes through here: the statement is made once.
    stmt = insert_ignore_statement(conn.dialect.name, ideas, ("tenant", "id"))
    await insert_rows(conn, stmt, rows)


#: One idea by its key, its status alone, and an UPDATE of one idea whose SET clause is the
#: parameters given besides the key: made once, since the consumer looks up and updates an
#: idea for nearly every event, and building each statement anew cost more than running it.
_BY_KEY = and_(ideas.c.tenant == bindparam("key_tenant"), ideas.c.id == bindparam("key_id"))
_IDEA = select(ideas).where(_BY_KEY)
_IDEA_STATUS = select(ideas.c.status).where(_BY_KEY)
_IDEA_UPDATE = update(ideas).where(_BY_KEY)


async def get_idea(conn: AsyncConnection, *, tenant: str, idea_id: str) -> Any | None:
    """One idea of the tenant, or None."""
    return (await conn.execute(_IDEA, {"key_tenant": tenant, "key_id": idea_id})).first()


async def idea_status(conn: AsyncConnection, *, tenant: str, idea_id: str) -> str | None:
    """The status of one idea of the tenant, or None when the idea is not known."""
    params = {"key_tenant": tenant, "key_id": idea_id}
    return (await conn.execute(_IDEA_STATUS, params)).scalar_one_or_none()


async def update_idea(conn: AsyncConnection, *, tenant: str, idea_id: str, **values: Any) -> None:
    """Set ``values`` (column names) on one idea of the tenant."""
    # The SET clause is made of whatever parameters come; a name that is no column would be
    # left out silently, where ``.values()`` would have refused it.
    unknown = set(values) - set(ideas.c.keys())
    if unknown:
        raise ValueError(f"no such column of ideas: {sorted(unknown)}")
    await conn.execute(_IDEA_UPDATE, {"key_tenant": tenant, "key_id": idea_id, **values})


async def get_person(conn: AsyncConnection, *, tenant: str, person_id: str) -> Any | None:
    """One person of the tenant, or None."""
    return (
        await conn.execute(
            select(people).where(people.c.tenant == tenant, people.c.id == person_id)
        )
    ).first()


async def get_org_unit(conn: AsyncConnection, *, tenant: str, org_unit_id: str) -> Any | None:
    """One org unit of the tenant, or None."""
    return (
        await conn.execute(
            select(org_units).where(org_units.c.tenant == tenant, org_units.c.id == org_unit_id)
        )
    ).first()


async def served_administrations(
    conn: AsyncConnection,
    *,
    tenant: str,
    person_id: str,
    token_roles: frozenset[str],
    token_org_unit: str | None,
) -> set[str]:
    """Administrations a person serves: as appointed ambassador, or as a member working there.

    Roles and org unit come from the tenancy projection when the person is known, else from
    the token, so a freshly appointed person is not locked out while events catch up.
    """
    served = set(
        (
            await conn.execute(
                select(ambassadors.c.administration_id).where(
                    ambassadors.c.tenant == tenant, ambassadors.c.person_id == person_id
                )
            )
        ).scalars()
    )
    person = await get_person(conn, tenant=tenant, person_id=person_id)
    roles = set(person.roles) if person is not None else set(token_roles)
    unit_id = person.org_unit_id if person is not None else token_org_unit
    if person is not None and not person.active:
        return served
    if {"ambassador", "innovation_group"} & roles and unit_id:
        unit = await get_org_unit(conn, tenant=tenant, org_unit_id=unit_id)
        if unit is not None:
            served.add(unit.administration_id)
    return served


async def manager_of(conn: AsyncConnection, *, tenant: str, org_unit_id: str) -> str | None:
    """The unit manager of a unit, else the department manager above it (for a quick win)."""
    unit = await get_org_unit(conn, tenant=tenant, org_unit_id=org_unit_id)
    seen: set[str] = set()
    while unit is not None and unit.id not in seen:
        seen.add(unit.id)
        role = {"unit": "unit_manager", "department": "department_manager"}.get(unit.kind)
        if role is None:
            return None
        rows = await conn.execute(
            select(people.c.id, people.c.roles)
            .where(
                people.c.tenant == tenant,
                people.c.org_unit_id == unit.id,
                people.c.active.is_(True),
            )
            .order_by(people.c.id)
        )
        for row in rows:
            if role in row.roles:
                return str(row.id)
        if unit.parent_id is None:
            return None
        unit = await get_org_unit(conn, tenant=tenant, org_unit_id=unit.parent_id)
    return None


async def claim_due_pauses(
    conn: AsyncConnection, *, today: date, now: datetime, limit: int, skip_locked: bool
) -> Sequence[Any]:
    """Move paused ideas whose revisit date has come back to ``in_screening``; return them.

    Exactly once across replicas: on PostgreSQL the candidates are locked with ``FOR UPDATE
    SKIP LOCKED`` so another replica passes over them, and the UPDATE re-checks
    ``status = 'paused'``, so a row another transaction already moved is never returned twice.
    """
    stmt = (
        select(ideas.c.tenant, ideas.c.id)
        .where(ideas.c.status == "paused", ideas.c.revisit_date <= today)
        .order_by(ideas.c.revisit_date, ideas.c.tenant, ideas.c.id)
        .limit(limit)
    )
    if skip_locked:
        stmt = stmt.with_for_update(skip_locked=True)
    keys = [(r.tenant, r.id) for r in await conn.execute(stmt)]
    if not keys:
        return []
    result = await conn.execute(
        update(ideas)
        .where(
            and_(
                tuple_(ideas.c.tenant, ideas.c.id).in_(keys),
                ideas.c.status == "paused",
                ideas.c.revisit_date <= today,
            )
        )
        .values(status="in_screening", revisit_date=None, in_screening_since=now, updated_at=now)
        .returning(ideas.c.tenant, ideas.c.id, ideas.c.ambassador_id)
    )
    return result.all()


async def upsert(
    conn: AsyncConnection, table: Table, row: dict[str, Any], keys: Sequence[str]
) -> None:
    """Insert ``row`` or overwrite the row with the same key (tenancy projections: latest wins)."""
    dialect_insert: Any = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
    stmt = dialect_insert(table).values(**row)
    changes = {k: v for k, v in row.items() if k not in keys}
    await conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=changes))


async def insert_new(
    conn: AsyncConnection, table: Table, row: dict[str, Any], keys: Sequence[str]
) -> bool:
    """Insert ``row`` unless its key exists; True when it was inserted."""
    dialect_insert: Any = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
    stmt = dialect_insert(table).values(**row).on_conflict_do_nothing(index_elements=list(keys))
    result = await conn.execute(stmt)
    return bool(result.rowcount)
