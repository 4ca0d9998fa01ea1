"""Tables the infrastructure keeps in every service's own database."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

infra_metadata = MetaData()

# BigInteger on PostgreSQL, INTEGER (rowid alias, so autoincrement works) on SQLite.
_Seq = BigInteger().with_variant(Integer(), "sqlite")

outbox = Table(
    "outbox",
    infra_metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("subject", String(255), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
)
Index(
    "ix_outbox_unpublished",
    outbox.c.seq,
    postgresql_where=outbox.c.published_at.is_(None),
    sqlite_where=outbox.c.published_at.is_(None),
)

inbox = Table(
    "inbox",
    infra_metadata,
    Column("consumer", String(64), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("handled_at", DateTime(timezone=True), nullable=False),
)

audit_log = Table(
    "audit_log",
    infra_metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("actor_id", String(64), nullable=True),
    Column("action", String(128), nullable=False),
    Column("subject", String(64), nullable=True),
    Column("event_id", String(64), nullable=True),
    Column("detail", Text, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
)
