"""Intake's tables (its own database) and the queries on them. Every query names the tenant."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

metadata = MetaData()

tenants = Table(
    "tenants",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("country", String(2), nullable=False),
    Column("default_language", String(2), nullable=False),
    Column("currency", String(3), nullable=False),
)

org_units = Table(
    "org_units",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(100), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("name", String(300), nullable=False),
    Column("parent_id", String(100), nullable=True),
    Column("administration_id", String(100), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

headcounts = Table(
    "headcounts",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("org_unit_id", String(100), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("headcount", Integer, nullable=False),
)

targets = Table(
    "targets",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("year", Integer, primary_key=True),
    # "" stands for the whole tenant, so the key has no NULL in it.
    Column("administration_id", String(100), primary_key=True, default=""),
    Column("ideas_per_employee", Numeric(10, 3), nullable=False),
)

people = Table(
    "people",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(100), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("email", String(320), nullable=False),
    Column("language", String(2), nullable=False),
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

network_members = Table(
    "network_members",
    metadata,
    Column("network", String(63), primary_key=True),
    Column("tenant", String(63), primary_key=True),
    Column("joined_at", DateTime(timezone=True), nullable=False),
    Column("left_at", DateTime(timezone=True), nullable=True),
)
Index("ix_network_members_tenant", network_members.c.tenant)

# --- ideas -----------------------------------------------------------------------------

ideas = Table(
    "ideas",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(100), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("description", Text, nullable=False),
    Column("problem", Text, nullable=False),
    Column("proposed_solution", Text, nullable=True),
    Column("expected_benefit", Text, nullable=True),
    Column("org_unit_id", String(100), nullable=False),
    Column("administration_id", String(100), nullable=False),
    Column("category", String(300), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("language", String(2), nullable=True),
    # The idea giver; NULL for residents and external systems.
    Column("giver_id", String(100), nullable=True),
    Column("anonymous", Boolean, nullable=False, default=False),
    Column("co_author_ids", JSON, nullable=False),
    Column("status", String(30), nullable=False),
    # A screening was completed once: the idea giver may no longer edit.
    Column("screened", Boolean, nullable=False, default=False),
    Column("ambassador_id", String(100), nullable=True),
    Column("source_system", String(300), nullable=True),
    Column("source_id", String(100), nullable=True),
    Column("source_ref", String(300), nullable=True),
    Column("source_url", Text, nullable=True),
    Column("origin_tenant", String(63), nullable=True),
    Column("origin_idea_id", String(100), nullable=True),
    Column("network", String(63), nullable=True),
    Column("merged_into_id", String(100), nullable=True),
    Column("possible_duplicate_ids", JSON, nullable=False),
    Column("token_count", Integer, nullable=False, default=0),
    Column("comments_count", Integer, nullable=False, default=0),
    Column("supports_count", Integer, nullable=False, default=0),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # One idea per deviation, however often the deviation system sends it.
    UniqueConstraint("tenant", "source_system", "source_id", name="uq_ideas_source"),
)
Index("ix_ideas_tenant_status", ideas.c.tenant, ideas.c.status)
Index("ix_ideas_tenant_admin", ideas.c.tenant, ideas.c.administration_id, ideas.c.status)
Index("ix_ideas_tenant_submitted", ideas.c.tenant, ideas.c.submitted_at)

# Who wrote an idea (giver and co-authors), for "mine", export and erasure.
idea_people = Table(
    "idea_people",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("idea_id", String(100), primary_key=True),
    Column("person_id", String(100), primary_key=True),
    Column("role", String(20), nullable=False),
)
Index("ix_idea_people_person", idea_people.c.tenant, idea_people.c.person_id)

# Each idea's normalised word set (domain.similarity), for likely-duplicate hints.
idea_tokens = Table(
    "idea_tokens",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("token", String(100), primary_key=True),
    Column("idea_id", String(100), primary_key=True),
)

comments = Table(
    "comments",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(100), primary_key=True),
    Column("idea_id", String(100), nullable=False),
    Column("author_id", String(100), nullable=False),
    Column("body", Text, nullable=False),
    Column("reply_to_comment_id", String(100), nullable=True),
    Column("redacted", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_comments_idea", comments.c.tenant, comments.c.idea_id, comments.c.created_at)
Index("ix_comments_author", comments.c.tenant, comments.c.author_id)

supports = Table(
    "supports",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("idea_id", String(100), primary_key=True),
    Column("person_id", String(100), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_supports_person", supports.c.tenant, supports.c.person_id)

# A resident's optional contact address: kept here only, never put into an event.
public_contacts = Table(
    "public_contacts",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("idea_id", String(100), primary_key=True),
    Column("email", String(320), nullable=False),
)


def dialect_insert(conn: AsyncConnection, table: Table) -> Any:
    """An INSERT of the connection's dialect (supports ON CONFLICT)."""
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    return postgresql.insert(table)


async def insert_ignore(
    conn: AsyncConnection, table: Table, row: dict[str, Any], keys: list[str]
) -> bool:
    """Insert ``row`` unless its key exists; True when it was inserted."""
    stmt = dialect_insert(conn, table).values(**row).on_conflict_do_nothing(index_elements=keys)
    result = await conn.execute(stmt)
    return bool(result.rowcount)


def for_update(conn: AsyncConnection, stmt: Select[Any]) -> Select[Any]:
    """Lock the selected rows on PostgreSQL (SQLite serialises writers anyway)."""
    return stmt if conn.dialect.name == "sqlite" else stmt.with_for_update()


async def load_idea(
    conn: AsyncConnection, tenant: str, idea_id: str, *, lock: bool = False
) -> Row[Any] | None:
    """One idea of ``tenant``, optionally locked for the rest of the transaction."""
    stmt = select(ideas).where(ideas.c.tenant == tenant, ideas.c.id == idea_id)
    if lock:
        stmt = for_update(conn, stmt)
    return (await conn.execute(stmt)).first()


async def replace_tokens(
    conn: AsyncConnection, tenant: str, idea_id: str, words: frozenset[str]
) -> None:
    """Store an idea's word set, replacing any earlier one."""
    await conn.execute(
        idea_tokens.delete().where(idea_tokens.c.tenant == tenant, idea_tokens.c.idea_id == idea_id)
    )
    if words:
        await conn.execute(idea_tokens.insert(), idea_token_rows(tenant, idea_id, words))


def idea_token_rows(tenant: str, idea_id: str, words: frozenset[str]) -> list[dict[str, str]]:
    """The ``idea_tokens`` rows of an idea's word set (words cut to the column's length)."""
    return [{"tenant": tenant, "token": w[:100], "idea_id": idea_id} for w in sorted(words)]


async def org_subtree(conn: AsyncConnection, tenant: str, root: str) -> set[str]:
    """``root`` and every org unit below it."""
    children: dict[str | None, list[str]] = {}
    for r in await conn.execute(
        select(org_units.c.id, org_units.c.parent_id).where(org_units.c.tenant == tenant)
    ):
        children.setdefault(r.parent_id, []).append(r.id)
    found = {root}
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


async def search_ideas(
    conn: AsyncConnection,
    *,
    tenant: str,
    statuses: list[str] | None = None,
    org_unit_ids: set[str] | None = None,
    person_id: str | None = None,
    text: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[Row[Any]], int]:
    """A page of the tenant's ideas, newest first, and how many match in all."""
    conditions: list[Any] = [ideas.c.tenant == tenant]
    if statuses:
        conditions.append(ideas.c.status.in_(statuses))
    if org_unit_ids is not None:
        conditions.append(ideas.c.org_unit_id.in_(sorted(org_unit_ids)))
    if person_id is not None:
        conditions.append(
            ideas.c.id.in_(
                select(idea_people.c.idea_id).where(
                    idea_people.c.tenant == tenant, idea_people.c.person_id == person_id
                )
            )
        )
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            ideas.c.title.ilike(pattern, escape="\\")
            | ideas.c.description.ilike(pattern, escape="\\")
        )
    total = (
        await conn.execute(select(func.count()).select_from(ideas).where(*conditions))
    ).scalar()
    rows = (
        await conn.execute(
            select(ideas)
            .where(*conditions)
            .order_by(ideas.c.submitted_at.desc(), ideas.c.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return list(rows), int(total or 0)
