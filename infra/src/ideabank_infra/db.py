"""Database access: one async engine per service, SQLite by default, PostgreSQL in production."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ideabank_infra.tables import infra_metadata


class Database:
    """An async engine plus the few helpers every store needs."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if not self.is_sqlite:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self.after_commit: list[Callable[[], None]] = []
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    async def create_all(self, *metadatas: MetaData) -> None:
        """Create the infrastructure tables and the given service tables if missing."""
        async with self.engine.begin() as conn:
            for md in (infra_metadata, *metadatas):
                await conn.run_sync(md.create_all)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed on success, rolled back on any error."""
        async with self.engine.begin() as conn:
            yield conn
        for callback in self.after_commit:
            callback()

    async def ping(self) -> bool:
        """True when the database answers."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def insert(self, table: Any) -> Any:
        """A dialect-specific INSERT (``on_conflict_do_nothing`` / ``on_conflict_do_update``)."""
        if self.is_sqlite:
            return sqlite.insert(table)
        return postgresql.insert(table)

    def insert_ignore(self, table: Any, index_elements: Sequence[str] | None = None) -> Any:
        """An INSERT that silently skips rows whose key already exists."""
        if self.is_sqlite:
            return sqlite.insert(table).on_conflict_do_nothing(index_elements=index_elements)
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=index_elements)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; busy_timeout waits for the write lock
    # instead of failing with "database is locked" when two tasks write at once.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
