"""Notification's tables (its own database) and the queries on them. Every query names the tenant.

Projections (tenants, people, org units, ambassadors, ideas, followers) are fed by events
only; people's contact details come solely from the tenancy person events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

metadata = MetaData()

_Seq = BigInteger().with_variant(Integer(), "sqlite")

tenants = Table(
    "tenants",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("default_language", String(2), nullable=False),
)

org_units = Table(
    "org_units",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(100), primary_key=True),
    Column("administration_id", String(100), nullable=False),
    Column("name", String(300), nullable=False),
)
Index("ix_org_units_admin", org_units.c.tenant, org_units.c.administration_id)

people = Table(
    "people",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(100), primary_key=True),
    Column("name", String(300), nullable=True),
    Column("email", String(320), nullable=True),
    Column("language", String(2), nullable=False),
    Column("org_unit_id", String(100), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("active", Boolean, nullable=False),
)
Index("ix_people_org_unit", people.c.tenant, people.c.org_unit_id)

ambassadors = Table(
    "ambassadors",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("administration_id", String(100), primary_key=True),
    Column("person_id", String(100), nullable=False),
)

ideas = Table(
    "ideas",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("id", String(100), primary_key=True),
    Column("giver_id", String(100), nullable=True),
    Column("title", String(300), nullable=False),
    Column("org_unit_id", String(100), nullable=True),
    Column("administration_id", String(100), nullable=True),
    Column("status", String(30), nullable=False),
    Column("status_since", DateTime(timezone=True), nullable=False),
    Column("ambassador_id", String(100), nullable=True),
    Column("routed_org_unit_id", String(100), nullable=True),
    Column("routed_person_id", String(100), nullable=True),
)
Index("ix_ideas_waiting", ideas.c.status, ideas.c.status_since)

followers = Table(
    "followers",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("idea_id", String(100), primary_key=True),
    Column("person_id", String(100), primary_key=True),
    Column("relation", String(20), nullable=False),  # giver | co_author | supporter
)

preferences = Table(
    "preferences",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("person_id", String(100), primary_key=True),
    Column("inbox", String(10), nullable=False),
    Column("email", String(10), nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("id", _Seq, primary_key=True, autoincrement=True),
    Column("tenant", String(63), nullable=False),
    Column("person_id", String(100), nullable=False),
    Column("dedup_key", String(200), nullable=False),
    Column("idea_id", String(100), nullable=True),
    Column("kind", String(40), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("language", String(2), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=True),
)
Index("ux_messages_dedup", messages.c.dedup_key, messages.c.person_id, unique=True)
Index("ix_messages_person", messages.c.tenant, messages.c.person_id, messages.c.read_at)

# The outbox of deliveries that leave the transaction: email (immediate or digest) and inbox
# digests. A row is written with the state change and sent by a worker after commit; its
# dedup key (event id + recipient + channel) makes a redelivered event send nothing twice.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", _Seq, primary_key=True, autoincrement=True),
    Column("dedup_key", String(300), nullable=False, unique=True),
    Column("tenant", String(63), nullable=False),
    Column("person_id", String(100), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("mode", String(10), nullable=False),
    Column("idea_id", String(100), nullable=True),
    Column("kind", String(40), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("language", String(2), nullable=False),
    Column("status", String(10), nullable=False),  # pending | sent | failed
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
)
Index("ix_deliveries_due", deliveries.c.status, deliveries.c.due_at)

reminders = Table(
    "reminders",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("key", String(300), primary_key=True),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)

announcements = Table(
    "announcements",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("idea_id", String(100), nullable=False),
    Column("administration_id", String(100), nullable=False),
    Column("status", String(10), nullable=False),
    Column("headline", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("language", String(2), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("approved_by", String(100), nullable=True),
    Column("approved_at", DateTime(timezone=True), nullable=True),
    Column("event_id", String(64), nullable=True),
    Column("recipients", Integer, nullable=True),
    Column("delivered", Integer, nullable=False, default=0),
    # Keyset cursor of the fan-out: the last person id done, committed with each chunk.
    Column("cursor", String(100), nullable=True),
    Column("completed_at", DateTime(timezone=True), nullable=True),
)
Index("ix_announcements_tenant", announcements.c.tenant, announcements.c.administration_id)
Index("ux_announcements_idea", announcements.c.tenant, announcements.c.idea_id, unique=True)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("secret", String(100), nullable=False),
    Column("previous_secret", String(100), nullable=True),
    Column("previous_secret_expires_at", DateTime(timezone=True), nullable=True),
    Column("enabled", Boolean, nullable=False),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("webhook_id", String(36), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("status", String(10), nullable=False),  # pending | succeeded | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)
Index(
    "ux_webhook_deliveries",
    webhook_deliveries.c.webhook_id,
    webhook_deliveries.c.event_id,
    unique=True,
)
Index(
    "ix_webhook_deliveries_due", webhook_deliveries.c.status, webhook_deliveries.c.next_attempt_at
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", _Seq, primary_key=True, autoincrement=True),
    Column("delivery_id", String(36), nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
)


async def get_idea(conn: AsyncConnection, tenant: str, idea_id: str) -> Any | None:
    """One idea of the projection, or None."""
    row = await conn.execute(select(ideas).where(ideas.c.tenant == tenant, ideas.c.id == idea_id))
    return row.first()


async def follower_ids(conn: AsyncConnection, tenant: str, idea_id: str) -> list[str]:
    """Idea giver, co-authors and supporters of an idea."""
    rows = await conn.execute(
        select(followers.c.person_id)
        .where(followers.c.tenant == tenant, followers.c.idea_id == idea_id)
        .order_by(followers.c.person_id)
    )
    return [r[0] for r in rows]


async def idea_titles(conn: AsyncConnection, tenant: str, idea_ids: Sequence[str]) -> list[Any]:
    """Id and title of those of the given ideas that the projection knows."""
    rows = await conn.execute(
        select(ideas.c.id, ideas.c.title).where(ideas.c.tenant == tenant, ideas.c.id.in_(idea_ids))
    )
    return list(rows)


async def followers_of(
    conn: AsyncConnection, tenant: str, idea_ids: Sequence[str]
) -> dict[str, list[str]]:
    """:func:`follower_ids` of each of the given ideas that has any."""
    rows = await conn.execute(
        select(followers.c.idea_id, followers.c.person_id)
        .where(followers.c.tenant == tenant, followers.c.idea_id.in_(idea_ids))
        .order_by(followers.c.idea_id, followers.c.person_id)
    )
    out: dict[str, list[str]] = {}
    for idea_id, person_id in rows:
        out.setdefault(idea_id, []).append(person_id)
    return out


async def tenant_language(conn: AsyncConnection, tenant: str) -> str | None:
    """The tenant's default language, if known."""
    row = await conn.execute(select(tenants.c.default_language).where(tenants.c.tenant == tenant))
    return row.scalar_one_or_none()


async def recipients(conn: AsyncConnection, tenant: str, person_ids: Iterable[str]) -> list[Any]:
    """Active people with their language, email and channel preferences."""
    ids = sorted(set(person_ids))
    if not ids:
        return []
    rows = await conn.execute(
        select(
            people.c.id,
            people.c.email,
            people.c.language,
            preferences.c.inbox,
            preferences.c.email.label("email_mode"),
        )
        .select_from(
            people.outerjoin(
                preferences,
                and_(
                    preferences.c.tenant == people.c.tenant, preferences.c.person_id == people.c.id
                ),
            )
        )
        .where(people.c.tenant == tenant, people.c.id.in_(ids), people.c.active.is_(True))
    )
    return list(rows)


async def administration_recipients(
    conn: AsyncConnection, tenant: str, administration_id: str, after: str | None, limit: int
) -> list[Any]:
    """The next ``limit`` active people of an administration after person id ``after``."""
    stmt = (
        select(
            people.c.id,
            people.c.email,
            people.c.language,
            preferences.c.inbox,
            preferences.c.email.label("email_mode"),
        )
        .select_from(
            people.join(
                org_units,
                and_(org_units.c.tenant == people.c.tenant, org_units.c.id == people.c.org_unit_id),
            ).outerjoin(
                preferences,
                and_(
                    preferences.c.tenant == people.c.tenant, preferences.c.person_id == people.c.id
                ),
            )
        )
        .where(
            people.c.tenant == tenant,
            org_units.c.administration_id == administration_id,
            people.c.active.is_(True),
        )
        .order_by(people.c.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(people.c.id > after)
    return list(await conn.execute(stmt))


async def people_with_roles(
    conn: AsyncConnection,
    tenant: str,
    roles: Sequence[str],
    *,
    administration_id: str | None = None,
    org_unit_id: str | None = None,
) -> list[str]:
    """Ids of active people holding any of ``roles``, optionally within one org scope."""
    stmt = (
        select(people.c.id, people.c.roles)
        .select_from(
            people.outerjoin(
                org_units,
                and_(org_units.c.tenant == people.c.tenant, org_units.c.id == people.c.org_unit_id),
            )
        )
        .where(people.c.tenant == tenant, people.c.active.is_(True))
    )
    if administration_id is not None:
        stmt = stmt.where(
            or_(
                org_units.c.administration_id == administration_id,
                people.c.org_unit_id == administration_id,
            )
        )
    if org_unit_id is not None:
        stmt = stmt.where(people.c.org_unit_id == org_unit_id)
    wanted = set(roles)
    # Roles are a JSON list: filtered here, as JSON containment differs between dialects
    # and the candidate set (one tenant, one org scope) is small.
    return sorted(r.id for r in await conn.execute(stmt) if wanted.intersection(r.roles or ()))


async def administration_of(
    conn: AsyncConnection, tenant: str, org_unit_id: str | None
) -> str | None:
    """The administration an org unit belongs to."""
    if org_unit_id is None:
        return None
    row = await conn.execute(
        select(org_units.c.administration_id).where(
            org_units.c.tenant == tenant, org_units.c.id == org_unit_id
        )
    )
    return row.scalar_one_or_none()


def as_dict(row: Any, *, drop: Sequence[str] = ("tenant",)) -> dict[str, Any]:
    """A row as a JSON-friendly dict without internal columns."""
    out: dict[str, Any] = {}
    for key, value in dict(row._mapping).items():
        if key in drop:
            continue
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out
