"""Database access: one async engine per service, SQLite by default, PostgreSQL in production."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from operator import itemgetter
from typing import Any, Generic, TypeVar

import aiosqlite
import pydantic_core
from sqlalchemy import (
    DateTime,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    func,
    insert,
    make_url,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.dml import Insert

from ideabank_infra import metrics
from ideabank_infra.tables import infra_metadata

#: In a connection's ``info`` while :meth:`Database.transaction` has it: the outbox rows its
#: transaction wrote (``outbox.enqueue`` adds them), or None once some were written where
#: they cannot be listed (inside a savepoint, which may yet roll back without the rest).
EVENTS_WRITTEN = "ideabank.events_written"

#: Outbox rows, as ``outbox.enqueue`` writes them.
OutboxRows = list[dict[str, Any]]

log = logging.getLogger(__name__)
ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class SqliteDateTime(sqlite.DATETIME):
    """SQLite's DATETIME, with a faster way to the same stored text.

    SQLAlchemy formats each date bound for SQLite through a dictionary of its seven fields,
    about a microsecond a value; a service binds several for every event it handles. The
    text is the same (``2026-01-31 09:15:00.000250``, the offset left out as SQLAlchemy
    leaves it out), so stored dates compare and read back as before.
    """

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        general = super().bind_processor(dialect)
        if self._storage_format != sqlite.DATETIME._storage_format or general is None:
            return general  # a format of its own: SQLAlchemy's way

        def process(value: Any) -> Any:
            if isinstance(value, datetime):
                return _SQLITE_DATETIME % (
                    value.year,
                    value.month,
                    value.day,
                    value.hour,
                    value.minute,
                    value.second,
                    value.microsecond,
                )
            return general(value)

        return process


_SQLITE_DATETIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def _json_text(value: Any) -> str:
    """``value`` as JSON text, for a JSON column."""
    return pydantic_core.to_json(value).decode()


class Database:
    """An async engine plus the few helpers every store needs."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # JSON columns (an outbox row's headers, an idea's lists of ids) through pydantic's
        # serializer: a fifth of the standard library's time for these small values.
        codecs = {"json_serializer": _json_text, "json_deserializer": pydantic_core.from_json}
        kwargs: dict[str, Any] = {"echo": echo, **codecs}
        if not self.is_sqlite:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        path = make_url(url).database if self.is_sqlite else None
        self.inline = bool(
            path and path != ":memory:" and os.environ.get("IDEABANK_SQLITE_THREAD") != "1"
        )
        self.checkpointer: Checkpointer | None = None
        if self.inline:
            self.checkpointer = Checkpointer(str(path))
            kwargs["async_creator"] = partial(_inline_sqlite, str(path), self.checkpointer)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        # Reads that scan many rows (reports, figures over a year) are better off the loop
        # when statements run inline: in aiosqlite's worker thread, where sqlite3 lets go
        # of the GIL while it steps, the loop serves requests and consumers meanwhile.
        self.read_engine: AsyncEngine = (
            create_async_engine(url, echo=echo, **codecs) if self.inline else self.engine
        )
        if self.is_sqlite:
            for engine in {self.engine, self.read_engine}:
                dialect = engine.sync_engine.dialect
                dialect.colspecs = {**dialect.colspecs, DateTime: SqliteDateTime}
        self.after_commit: list[Callable[[], None]] = []
        #: Called after a transaction that wrote events to the outbox has committed, with
        #: the rows it wrote (None: the outbox itself has them). Most of a consumer's
        #: transactions write none, and the relay need not look for them.
        self.after_events: list[Callable[[OutboxRows | None], None]] = []
        # SQLite has one writer per file. Writers of this process take turns here instead of
        # in SQLite's busy handler, which sleeps up to 100 ms between tries.
        self.write_gate = asyncio.Lock()
        if self.checkpointer is not None:
            self.checkpointer.gate = self.write_gate
        if self.is_sqlite:
            # SQLite's busy handler sleeps in the calling thread: on the event loop's own it
            # would stop everything else (including the writer it waits for). Inline,
            # statements give up after a moment and ``transaction`` waits asynchronously.
            pragmas = partial(_sqlite_pragmas, checkpointer=self.checkpointer)
            busy_ms = 20 if self.inline else 10_000
            event.listen(self.engine.sync_engine, "connect", partial(pragmas, busy_ms=busy_ms))
            if self.read_engine is not self.engine:
                listener = partial(pragmas, busy_ms=10_000)
                event.listen(self.read_engine.sync_engine, "connect", listener)

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
        written: OutboxRows | None = []
        async with self.write_turn(), self.engine.connect() as conn:
            async with conn.begin():
                # ``info`` stays with the pooled connection: the list goes with the transaction.
                conn.info[EVENTS_WRITTEN] = written
                try:
                    await self.begin_write(conn)
                    yield conn
                finally:
                    written = conn.info.pop(EVENTS_WRITTEN, None)
            # Committed. The callbacks run before the connection's close, which lets other
            # tasks run (SQLAlchemy closes it in a task of its own): a relay that reads the
            # outbox meanwhile knows already which of its rows are on their way.
            for callback in self.after_commit:
                callback()
            if written is None or written:
                for handover in self.after_events:
                    handover(written)

    async def begin_write(self, conn: AsyncConnection) -> None:
        """Make ``conn``'s open transaction a write transaction from its first statement.

        On SQLite the driver begins a transaction only at the first INSERT or UPDATE, so
        reads before it would see no snapshot and a SAVEPOINT would commit on release:
        BEGIN IMMEDIATE takes the write lock at once. While another connection (another
        process, or a checkpoint that resets the log) holds it, this waits without blocking
        the loop. PostgreSQL needs nothing here.
        """
        if not self.is_sqlite:
            return
        deadline = asyncio.get_running_loop().time() + _LOCK_WAIT_SECONDS
        pause = 0.001
        while True:
            try:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc) or asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    @asynccontextmanager
    async def write_turn(self) -> AsyncIterator[None]:
        """Hold this process's turn to write: SQLite has one writer per file; on
        PostgreSQL writers run side by side and this holds nothing."""
        if not self.is_sqlite:
            yield
            return
        async with self.write_gate:
            yield

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
        return dialect_insert(self.dialect, table)

    def insert_ignore(self, table: Any, index_elements: Sequence[str] | None = None) -> Any:
        """An INSERT that silently skips rows whose key already exists."""
        keys = None if index_elements is None else tuple(index_elements)
        return insert_ignore_statement(self.dialect, table, keys)

    async def dispose(self) -> None:
        """Close every pooled connection (and stop the checkpointer)."""
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
        if self.checkpointer is not None:
            await self.checkpointer.close()


def dialect_insert(dialect: str, table: Any) -> Any:
    """The INSERT of ``dialect`` (``sqlite`` or ``postgresql``), which has ON CONFLICT."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


@cache
def insert_ignore_statement(dialect: str, table: Any, keys: tuple[str, ...] | None) -> Any:
    """INSERT … ON CONFLICT (``keys``) DO NOTHING of ``dialect``, made once per table and
    keys: building one and deriving its cache key cost more than running it for a few rows,
    and ``insert_rows`` keeps a statement's compiled form by its identity, so each row of a
    hot path then only binds its values. (Statements are immutable: ``.values()`` and
    ``.returning()`` make new ones.)"""
    return dialect_insert(dialect, table).on_conflict_do_nothing(
        index_elements=None if keys is None else list(keys)
    )


async def insert_new_keys(
    conn: AsyncConnection,
    table: Table,
    key: str,
    values: Sequence[str],
    fixed: Mapping[str, Any],
) -> set[str]:
    """Insert a row for each of ``values`` in column ``key`` (its other columns ``fixed``),
    skipping keys already there; the values that were inserted.

    One statement whatever the number of values, and atomic: of two transactions inserting
    the same key at once, only one gets it back. The values travel as one parameter (a JSON
    array that SQLite's ``json_each`` unpacks, an array that PostgreSQL's ``unnest`` does),
    so a batch of a few hundred costs about what one row does to bind, where an INSERT of
    many VALUES rows bound each of their values through SQLAlchemy.
    """
    if not values:
        return set()
    statement = _new_keys_statement(conn.dialect.name, table, key, tuple(fixed))
    result = await conn.execute(
        statement, {**fixed, "new_keys": value_list(conn.dialect.name, values)}
    )
    return set(result.scalars())


def value_list(dialect: str, values: Sequence[str]) -> Any:
    """``values`` as one bound parameter: an array on PostgreSQL (for ``unnest`` or
    ``= ANY``), a JSON array on SQLite (for ``json_each``). One statement text serves any
    number of values, where an expanding IN list is rendered and prepared anew for each."""
    return list(values) if dialect == "postgresql" else _json_text(list(values))


@cache
def _new_keys_statement(dialect: str, table: Table, key: str, fixed: tuple[str, ...]) -> Any:
    binds = [bindparam(name, type_=table.c[name].type) for name in fixed]
    if dialect == "postgresql":
        source = select(*binds, func.unnest(bindparam("new_keys", type_=ARRAY(table.c[key].type))))
    else:
        keys = func.json_each(bindparam("new_keys", type_=String())).table_valued("value")
        # A WHERE clause, or SQLite would read the ON CONFLICT below as the join's ON.
        source = select(*binds, keys.c.value).where(true())
    return (
        dialect_insert(dialect, table)
        .from_select([*fixed, key], source)
        .on_conflict_do_nothing()
        .returning(table.c[key])
    )


@dataclass(frozen=True)
class _CompiledInsert:
    """An INSERT's text, and how rows (mappings) become its parameters."""

    sql: str
    #: The row's values in the statement's order, as a tuple.
    values: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    #: Positions whose value goes through a bind processor (dates, JSON), and the processor.
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]
    #: True: the statement takes one array per column (``unnest``), not a tuple per row.
    columnar: bool = False

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """The parameters of ``rows``, bound as SQLAlchemy would bind them: a tuple per
        row, or for a columnar statement one tuple of a list per column."""
        values = self.values
        out: list[tuple[Any, ...]] = [values(r) for r in rows]
        if self.processed:
            processed = []
            for row in out:
                bound = list(row)
                for i, process in self.processed:
                    bound[i] = process(bound[i])
                processed.append(tuple(bound))
            out = processed
        if self.columnar:
            return [tuple(list(column) for column in zip(*out, strict=True))]
        return out


#: Per statement, dialect, key set and ``distinct``: the compiled INSERT (None: that INSERT
#: is left to SQLAlchemy, see ``insert_rows``).
_Compiled = _CompiledInsert | None
_INSERTS: dict[tuple[Any, str, tuple[str, ...], bool], _Compiled] = {}
_INSERTS_KEPT = 1024


async def insert_rows(
    conn: AsyncConnection,
    into: Table | Insert,
    rows: Sequence[Mapping[str, Any]],
    *,
    distinct: bool = False,
) -> None:
    """``conn.execute(insert(table), rows)`` (or of an INSERT … ON CONFLICT), for the many
    rows of a hot path.

    SQLAlchemy binds an executemany row by row through the compiled statement's generic
    machinery (``construct_params``, then each type's processor): a few microseconds a
    value, and a group commit of fifty ideas binds thousands of values. Here the statement
    is compiled once per statement, dialect and key set, and each row becomes a tuple in
    the statement's order, through the same bind processors (dates and JSON as SQLAlchemy
    stores them). ``into`` is a table or a statement made once (kept by identity). Rows
    with differing keys, a column left to its default, and dialects with named parameters
    take SQLAlchemy's own path.

    On PostgreSQL the rows travel as one array per column, in one execution (see
    ``_unnest_form``); an upsert does so only when the caller says no two rows share the
    conflict's key (``distinct``), for one statement may not update a row twice.
    """
    if not rows:
        return
    keys = tuple(rows[0])
    first = rows[0].keys()
    compiled = None
    if all(r.keys() == first for r in rows):
        cache_key = (into, conn.dialect.name, keys, distinct)
        if cache_key not in _INSERTS:
            if len(_INSERTS) >= _INSERTS_KEPT:
                _INSERTS.clear()
            _INSERTS[cache_key] = _compile_insert(into, conn.dialect, keys, distinct)
        compiled = _INSERTS[cache_key]
    if compiled is None:
        await conn.execute(insert(into) if isinstance(into, Table) else into, list(rows))
        return
    await conn.exec_driver_sql(compiled.sql, compiled.parameters(rows))


def _compile_insert(
    into: Table | Insert, dialect: Dialect, keys: tuple[str, ...], distinct: bool
) -> _Compiled:
    stmt = insert(into) if isinstance(into, Table) else into
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    names = compiled.positiontup
    # Positional parameters only, and exactly the given keys (no column default to fill).
    if names is None or sorted(names) != sorted(keys):
        return None
    binds = compiled.binds
    processors = [binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    # itemgetter of one key gives the value itself, of several a tuple.
    get = itemgetter(*names)
    values = get if len(names) > 1 else lambda row: (get(row),)
    processed = tuple((i, p) for i, p in enumerate(processors) if p is not None)
    if dialect.name == "postgresql":
        columnar = _unnest_form(compiled.string, len(names), updates=distinct)
        if columnar is not None:
            return _CompiledInsert(columnar, values, processed, columnar=True)
    return _CompiledInsert(compiled.string, values, processed)


def _unnest_form(sql: str, count: int, *, updates: bool) -> str | None:
    """``INSERT … VALUES ($1::T1, …)`` as ``INSERT … SELECT * FROM unnest($1::T1[], …)``.

    PostgreSQL executes an executemany's statement once a row: planning aside, each row
    pays the executor's start and end, about as much as inserting it. With one array per
    column the whole batch is one execution. Each array is cast to the type its values were
    cast to (so a string too long for its column is refused, as before, not cut), and the
    rest of the statement (``ON CONFLICT``) stays as it is. None for an upsert unless
    ``updates`` (its rows' keys are distinct), or a text not of that shape: the rows go one
    by one.
    """
    head, sep, rest = sql.partition(" VALUES (")
    ends = [rest.find(tail) for tail in (") ON CONFLICT", ") RETURNING")]
    end = min([e for e in ends if e != -1], default=len(rest) - 1)
    if not sep or rest[end] != ")":
        return None
    # "$1::VARCHAR, $2::NUMERIC(12, 2), …": a "$" starts each placeholder and nothing else.
    casts = ["$" + p for p in rest[:end].split("$")[1:]]
    casts = [c.removesuffix(", ") for c in casts]
    if [c.split("::", 1)[0] for c in casts] != [f"${i}" for i in range(1, count + 1)]:
        return None
    if " DO UPDATE " in rest[end:] and not updates:
        # One statement may not update a row twice, where one execution a row may: a
        # batch that upserts a key twice would fail. Upserts stay row by row.
        return None
    arrays = ", ".join(f"{c}[]" for c in casts)
    # Every piece is SQLAlchemy's compiled text of the statement.
    return f"{head} SELECT * FROM unnest({arrays}){rest[end + 1 :]}"  # noqa: S608


class GroupCommit(Generic[ItemT, ResultT]):
    """Items from concurrent callers applied together: one transaction, one commit a group.

    ``apply(conn, items)`` gives, for each item in order, its result or the exception its
    caller gets (a refused item must write nothing). While one group commits the next one
    gathers, so a burst of requests costs a few commits instead of one each. Should
    ``apply`` itself fail, or the commit, each item of the group is applied again alone,
    so that one bad item fails only its own caller.
    """

    def __init__(
        self,
        db: Database,
        apply: Callable[[AsyncConnection, list[ItemT]], Awaitable[Sequence[ResultT | Exception]]],
        *,
        max_group: int = 200,
    ) -> None:
        self.db = db
        self.apply = apply
        self.max_group = max_group
        self._queue: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self._task: asyncio.Task[None] | None = None
        self.groups = 0

    async def __call__(self, item: ItemT) -> ResultT:
        """Apply ``item`` with whatever else is waiting; its result once committed."""
        future: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-commit")
        # Shielded: a caller that goes away does not cancel the others' commit.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while self._queue:
            group, self._queue = self._queue[: self.max_group], self._queue[self.max_group :]
            started = time.perf_counter()
            try:
                await self._commit([item for item, _ in group], [f for _, f in group])
            except BaseException:
                # Only cancellation gets here (_commit settles every error it meets).
                for _, future in [*group, *self._queue]:
                    future.cancel()
                self._queue.clear()
                raise
            metrics.GROUP_COMMIT_ITEMS.observe(len(group))
            metrics.GROUP_COMMIT_SECONDS.observe(time.perf_counter() - started)

    async def _commit(self, items: list[ItemT], futures: list[asyncio.Future[ResultT]]) -> None:
        self.groups += 1
        try:
            async with self.db.transaction() as conn:
                results = list(await self.apply(conn, items))
                if len(results) != len(items):
                    raise RuntimeError("apply gave a result count unlike the item count")
        except Exception as exc:
            if len(items) == 1:
                _settle(futures[0], False, exc)
                return
            for item, future in zip(items, futures, strict=True):
                await self._commit([item], [future])
            return
        for future, result in zip(futures, results, strict=True):
            _settle(future, not isinstance(result, Exception), result)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class _RunNow:
    """Stands in for aiosqlite's queue to its worker thread: runs each call at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class _InlineSqlite(aiosqlite.Connection):
    """aiosqlite's connection with every call made on the event loop's own thread.

    SQLite answers a statement in microseconds from its page cache, far less than a round
    trip to aiosqlite's worker thread (a queue, a wake-up, two GIL hand-overs and a loop
    wake-up), and under load the two threads convoy on the GIL. A write waits for no one
    here: the writers of this process take turns in ``Database.write_turn``, and readers
    never wait in WAL mode. A commit appends to the WAL without waiting for the disk
    (``synchronous=NORMAL``); the one step that does wait, the checkpoint, is the
    ``Checkpointer``'s, in a thread of its own.
    """

    def __init__(
        self, connector: Callable[[], sqlite3.Connection], checkpointer: Checkpointer
    ) -> None:
        super().__init__(connector, 64)
        self._tx = _RunNow()  # type: ignore[assignment]
        self._checkpointer = checkpointer

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        return self._connect().__await__()  # no worker thread to start

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def commit(self) -> None:
        self._conn.commit()
        self._checkpointer.committed()


async def _inline_sqlite(path: str, checkpointer: Checkpointer) -> aiosqlite.Connection:
    connector = partial(sqlite3.connect, path, check_same_thread=False)
    return await _InlineSqlite(connector, checkpointer)


class Checkpointer:
    """Copies a SQLite file's write-ahead log into the database, between two writes.

    SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000
    pages and waits for the disk (fsync); on the event loop that would stall every request
    of the process, by tens to hundreds of milliseconds on a busy disk. The inline
    connections turn it off. Instead, once a commit finds the WAL past ``threshold`` bytes,
    a thread of its own (``sqlite3`` lets go of the GIL) checkpoints twice: a PASSIVE
    checkpoint beside the writers copies the bulk of the log, then a second one copies what
    they added meanwhile while it holds ``gate``, the writers' turn of this process. That
    takes a few milliseconds (mostly the file's sync), a few times a second at full load;
    requests meanwhile gather into the next group commit.

    That second, short step is what keeps the WAL small. SQLite starts the WAL over only when
    a writer finds every frame of it copied; a checkpoint running beside back-to-back
    commits never gets there (each commit adds frames behind it), and under steady load the
    WAL grew to the 16 × ``threshold`` limit below, then stopped all writers for a TRUNCATE.
    Should readers keep checkpoints from finishing and the WAL reach that limit anyway, a
    TRUNCATE checkpoint waits for them (up to a second) and empties it.
    """

    #: Commits closer together than this share one look at the WAL's size.
    LOOK_EVERY_SECONDS = 0.01

    def __init__(self, path: str, *, threshold: int = 4 * 1024 * 1024) -> None:
        self.path = path
        self.threshold = threshold
        self.checkpoints = 0
        #: The writers' turn (``Database.write_gate``); None: checkpoint beside writers.
        self.gate: asyncio.Lock | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # used in the executor's thread only
        self._task: asyncio.Task[None] | None = None
        self._next_look = 0.0
        self._stopping = False

    def committed(self) -> None:
        """A commit went to the WAL (on the event loop): checkpoint if it has grown enough."""
        if self._stopping or (self._task is not None and not self._task.done()):
            return
        now = time.monotonic()
        if now < self._next_look:
            return
        self._next_look = now + self.LOOK_EVERY_SECONDS
        try:
            if os.path.getsize(self.path + "-wal") < self.threshold:
                return
        except FileNotFoundError:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite-checkpointer")
        self._task = asyncio.get_running_loop().create_task(
            self._between_writes(), name="sqlite-checkpoint"
        )

    async def _between_writes(self) -> None:
        loop, executor = asyncio.get_running_loop(), self._executor
        if executor is None or self._stopping:
            return
        # The bulk beside the writers, then the rest while they wait their turn.
        await loop.run_in_executor(executor, self._in_thread, self.check)
        async with self.gate if self.gate is not None else contextlib.nullcontext():
            if not self._stopping:
                started = time.perf_counter()
                await loop.run_in_executor(executor, self._in_thread, _copy_rest)
                metrics.SQLITE_CHECKPOINT_SECONDS.observe(time.perf_counter() - started)

    def _in_thread(self, work: Callable[[sqlite3.Connection], None]) -> None:
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(self.path, check_same_thread=False)
                self._conn.execute("PRAGMA busy_timeout=1000")
            work(self._conn)
        except (OSError, sqlite3.Error) as exc:
            log.warning("checkpoint of %s failed: %r", self.path, exc)

    async def close(self) -> None:
        """Stop checkpointing. A checkpoint under way in the thread finishes first; then the
        thread's connection closes (the last connection to the file to close checkpoints
        what is left)."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.submit(self._close)
            await asyncio.to_thread(executor.shutdown, wait=True)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def check(self, conn: sqlite3.Connection) -> None:
        """Checkpoint through ``conn`` if the WAL has grown past the threshold."""
        try:
            size = os.path.getsize(self.path + "-wal")
        except FileNotFoundError:
            return
        if size >= self.threshold:
            mode = "TRUNCATE" if size >= 16 * self.threshold else "PASSIVE"
            _busy, pages, _copied = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            self.checkpoints += 1
            if pages >= 0:  # -1: the log could not be read (not in WAL mode)
                metrics.SQLITE_CHECKPOINT_PAGES.observe(pages)


def _copy_rest(conn: sqlite3.Connection) -> None:
    """A PASSIVE checkpoint whatever the WAL's size: what the writers added meanwhile."""
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


#: How long a writer waits for SQLite's write lock held by another process.
_LOCK_WAIT_SECONDS = 10.0


def _sqlite_pragmas(
    dbapi_conn: Any, _record: Any, *, busy_ms: int, checkpointer: Checkpointer | None
) -> None:
    """Pragmas of every SQLite connection, and when ``checkpointer`` checkpoints, its limits.

    A PASSIVE checkpoint lets the next writer start the WAL over, but the file keeps its
    largest size; with ``journal_size_limit`` that writer cuts it back to a quarter of the
    checkpointer's threshold (read at connect time). Below the threshold, then, the file's
    size is what the log holds: the checkpointer looks at nothing else, and a file left at
    the threshold would have it checkpoint after every commit.
    """
    # WAL lets readers run beside the single writer; busy_timeout waits for the write lock
    # instead of failing at once with "database is locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cur.execute("PRAGMA foreign_keys=ON")
    if checkpointer is not None:
        cur.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer's work
        cur.execute(f"PRAGMA journal_size_limit={int(checkpointer.threshold) // 4}")
    cur.close()
