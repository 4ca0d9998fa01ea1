"""Reporting's tables (its own database) and the queries on them. Every query names the tenant.

* ``idea_facts``: one row per idea with the first time of each stage (from which every
  aggregate is computed), ``idea_timeline``: every event of an idea in order;
* ``kpi_cells``: counts and sums per tenant, year, month, org unit, channel and category,
  recomputed from the facts of each month a batch touched;
* the tenancy projections reporting needs: tenants, org units, headcounts, targets and
  network memberships (people are not needed: reporting shows no names).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from ideabank_infra.db import Database, dialect_insert, insert_ignore_statement, insert_rows
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ideabank_reporting.domain.figures import median
from ideabank_reporting.domain.projection import IdeaFact

metadata = MetaData()

_ID = String(100)
_SLUG = String(63)

tenants = Table(
    "rp_tenants",
    metadata,
    Column("tenant", _SLUG, primary_key=True),
    Column("name", String(300), nullable=False),
    Column("currency", String(3), nullable=False),
)

org_units = Table(
    "rp_org_units",
    metadata,
    Column("tenant", _SLUG, primary_key=True),
    Column("org_unit_id", _ID, primary_key=True),
    Column("parent_id", _ID, nullable=True),
    Column("administration_id", _ID, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("name", String(300), nullable=False),
    Column("active", Boolean, nullable=False),
)

headcounts = Table(
    "rp_headcounts",
    metadata,
    Column("tenant", _SLUG, primary_key=True),
    Column("org_unit_id", _ID, primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("headcount", Integer, nullable=False),
)

targets = Table(
    "rp_targets",
    metadata,
    Column("tenant", _SLUG, primary_key=True),
    Column("year", Integer, primary_key=True),
    # "" for the whole tenant, else the administration the target is for.
    Column("scope", _ID, primary_key=True),
    Column("ideas_per_employee", Numeric(12, 4), nullable=False),
)

network_members = Table(
    "rp_network_members",
    metadata,
    Column("network", _SLUG, primary_key=True),
    Column("tenant", _SLUG, primary_key=True),
    Column("active", Boolean, nullable=False),
    Column("changed_at", DateTime, nullable=False),
)

_TIME_COLUMNS = (
    "submitted_at",
    "status_at",
    "assigned_at",
    "screened_at",
    "feedback_at",
    "development_at",
    "decision_basis_at",
    "awaiting_decision_at",
    "decided_at",
    "approved_at",
    "plan_anchored_at",
    "implemented_at",
    "evaluated_at",
    "offered_at",
    "withdrawn_at",
    "merged_at",
)
_DAY_COLUMNS = (
    "feedback_days",
    "stage_submitted",
    "stage_in_screening",
    "stage_in_development",
    "stage_awaiting_decision",
    "stage_approved",
    "stage_in_implementation",
    "stage_approved_to_implemented",
    "stage_implemented_to_evaluated",
    "stage_submitted_to_implemented",
)
_COUNT_COLUMNS = (
    "times_paused",
    "times_deferred",
    "trials",
    "comments",
    "supports",
    "times_adopted",
    "events_seen",
)

idea_facts = Table(
    "idea_facts",
    metadata,
    Column("tenant", _SLUG, primary_key=True),
    Column("idea_id", _ID, primary_key=True),
    Column("title", String(300)),
    Column("org_unit_id", _ID),
    Column("administration_id", _ID),
    Column("category", String(300)),
    Column("channel", String(30)),
    Column("giver_id", _ID),
    Column("anonymous", Boolean, nullable=False),
    Column("year", Integer),
    Column("month", Integer),
    Column("status", String(30)),
    Column("screening_outcome", String(30)),
    Column("motivated", Boolean, nullable=False),
    Column("decision_outcome", String(30)),
    Column("benefit_money", BigInteger),
    Column("benefit_currency", String(3)),
    Column("benefit_hours", BigInteger),
    Column("benefit_description", Text),
    Column("lessons_learned", Text),
    Column("implementation_summary", Text),
    Column("origin_tenant", _SLUG),
    Column("origin_idea_id", _ID),
    *(Column(name, DateTime) for name in _TIME_COLUMNS),
    *(Column(name, Float) for name in _DAY_COLUMNS),
    *(Column(name, Integer, nullable=False) for name in _COUNT_COLUMNS),
)
# The period index carries what the KPI and comparison medians read, so they scan one
# tenant-year's run of index entries (an index-only scan) instead of fetching the row of
# every idea: at 24,000 ideas a tenant that is the difference between a few and a few
# hundred milliseconds when the tenant is not in memory (PostgreSQL), and a fourth of the
# time of a KPI query on SQLite. PostgreSQL keeps the extra columns out of the key.
_PERIOD = (idea_facts.c.tenant, idea_facts.c.year, idea_facts.c.month)
_COVERED = ("org_unit_id", "channel", "category", *_DAY_COLUMNS)
Index("ix_facts_period", *_PERIOD, postgresql_include=list(_COVERED)).ddl_if(dialect="postgresql")
Index("ix_facts_period_covering", *_PERIOD, *(idea_facts.c[n] for n in _COVERED)).ddl_if(
    dialect="sqlite"
)
Index("ix_facts_implemented", idea_facts.c.tenant, idea_facts.c.implemented_at)
Index("ix_facts_evaluated", idea_facts.c.tenant, idea_facts.c.evaluated_at)

idea_timeline = Table(
    "idea_timeline",
    metadata,
    Column("tenant", _SLUG, primary_key=True),
    Column("idea_id", _ID, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("event_type", String(60), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("status", String(30)),
    Column("actor_id", _ID),
    Column("outcome", String(30)),
    Column("motivation", Text),
)

#: Additive measures of a cell: name → SQL over the facts of the cell.
_F = idea_facts.c


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


CELL_MEASURES: dict[str, Any] = {
    "submitted": func.count(),
    "screened": _count(_F.screened_at.is_not(None)),
    "responded": _count(_F.feedback_at.is_not(None)),
    "motivated": _count(_F.motivated.is_(True)),
    "implemented": _count(_F.implemented_at.is_not(None)),
    "evaluated": _count(_F.evaluated_at.is_not(None)),
    "rejected": _count(_F.status == "rejected"),
    "withdrawn": _count(_F.withdrawn_at.is_not(None)),
    "paused": _count(_F.status == "paused"),
    "deferred": _count(_F.status == "deferred"),
    "adopted_in": _count(_F.origin_tenant.is_not(None)),
    "adopted_out": func.sum(_F.times_adopted),
    "benefit_money": func.sum(func.coalesce(_F.benefit_money, 0)),
    "benefit_hours": func.sum(func.coalesce(_F.benefit_hours, 0)),
}
CELL_DIMENSIONS = ("org_unit_id", "administration_id", "channel", "category")

CellKey = tuple[str, int, int, str, str, str]
_CELL_KEY = ("tenant", "year", "month", "org_unit_id", "channel", "category")


def cell_share(fact: IdeaFact) -> tuple[CellKey, str, dict[str, int]] | None:
    """What one fact adds to its KPI cell: the cell's key, administration and measures.

    The same measures as ``CELL_MEASURES`` (which computes them in SQL over many facts);
    a test holds the two to each other.
    """
    if (
        fact.year is None
        or fact.month is None
        or fact.org_unit_id is None
        or fact.channel is None
        or fact.category is None
    ):
        return None
    key = (fact.tenant, fact.year, fact.month, fact.org_unit_id, fact.channel, fact.category)
    return (
        key,
        fact.administration_id or "",
        {
            "submitted": 1,
            "screened": int(fact.screened_at is not None),
            "responded": int(fact.feedback_at is not None),
            "motivated": int(fact.motivated is True),
            "implemented": int(fact.implemented_at is not None),
            "evaluated": int(fact.evaluated_at is not None),
            "rejected": int(fact.status == "rejected"),
            "withdrawn": int(fact.withdrawn_at is not None),
            "paused": int(fact.status == "paused"),
            "deferred": int(fact.status == "deferred"),
            "adopted_in": int(fact.origin_tenant is not None),
            "adopted_out": fact.times_adopted,
            "benefit_money": fact.benefit_money or 0,
            "benefit_hours": fact.benefit_hours or 0,
        },
    )


kpi_cells = Table(
    "kpi_cells",
    metadata,
    Column("tenant", _SLUG, primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("month", Integer, primary_key=True),
    Column("org_unit_id", _ID, primary_key=True),
    Column("administration_id", _ID, nullable=False),
    Column("channel", String(30), primary_key=True),
    Column("category", String(300), primary_key=True),
    *(Column(name, BigInteger, nullable=False) for name in CELL_MEASURES),
)

#: A counter per tenant and year, raised by every batch that changes a fact of that year.
year_versions = Table(
    "rp_year_versions",
    metadata,
    Column("tenant", _SLUG, primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
)

#: A cache of each tenant-year's medians, valid while its version is the current one.
year_medians = Table(
    "rp_year_medians",
    metadata,
    Column("tenant", _SLUG, primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
    *(Column(name, Float) for name in _DAY_COLUMNS),
)

#: Tables that make up the read model (what a replay must reproduce exactly). The year
#: versions and medians are not in it: they are bookkeeping and a cache of the facts.
READ_MODEL = (
    tenants,
    org_units,
    headcounts,
    targets,
    network_members,
    idea_facts,
    idea_timeline,
    kpi_cells,
)


# The ON CONFLICT statements are built once per dialect and table and then reused: building
# one (its ``excluded`` alias proxies every column) and deriving its cache key cost more
# than running it for a small batch of events.


@functools.cache
def _upsert_statement(dialect: str, table: Table, keys: tuple[str, ...]) -> Any:
    stmt = dialect_insert(dialect, table)
    others = [c.name for c in table.columns if c.name not in keys]
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={name: stmt.excluded[name] for name in others}
    )


async def upsert(
    conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert ``rows``, replacing the non-key columns of rows whose key exists (one statement)."""
    # Rows of distinct keys (as they nearly always are) can go in one execution.
    distinct = len({tuple(r[k] for k in keys) for r in rows}) == len(rows)
    stmt = _upsert_statement(conn.dialect.name, table, tuple(keys))
    await insert_rows(conn, stmt, rows, distinct=distinct)


async def insert_new(
    conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert ``rows`` whose key does not exist yet (one statement)."""
    await insert_rows(conn, insert_ignore_statement(conn.dialect.name, table, tuple(keys)), rows)


# Built once: building the select of a fact's fifty columns and deriving its cache key took
# more than half of a small batch's look-up.
_LOAD_FACTS = select(idea_facts).where(
    idea_facts.c.tenant == bindparam("tenant"),
    idea_facts.c.idea_id.in_(bindparam("ids", expanding=True)),
)


async def load_facts(
    conn: AsyncConnection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], IdeaFact]:
    """The stored facts of ``(tenant, idea_id)`` keys, in a few bulk look-ups."""
    by_tenant: dict[str, list[str]] = {}
    for tenant, idea_id in keys:
        by_tenant.setdefault(tenant, []).append(idea_id)
    out: dict[tuple[str, str], IdeaFact] = {}
    for tenant, ids in by_tenant.items():
        for start in range(0, len(ids), 500):
            rows = await conn.execute(
                _LOAD_FACTS, {"tenant": tenant, "ids": ids[start : start + 500]}
            )
            for row in rows.mappings():
                out[(tenant, row["idea_id"])] = IdeaFact.from_row(dict(row))
    return out


async def save_facts(conn: AsyncConnection, facts: Iterable[IdeaFact]) -> None:
    """Write facts (insert or replace), in bulk.

    A fact has some fifty columns and most are empty until its idea gets far: each row
    binds only its filled ones, and the upsert sets the rest from the row it would have
    inserted, so they become NULL as if bound. Rows are written in groups of the same
    filled columns (ideas at the same stage): binding every column took half of
    reporting's work on a submitted idea.
    """
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for fact in facts:
        row = {name: value for name, value in fact.as_row().items() if value is not None}
        by_columns.setdefault(tuple(row), []).append(row)
    for rows in by_columns.values():
        for start in range(0, len(rows), 1000):
            await upsert(conn, idea_facts, rows[start : start + 1000], ["tenant", "idea_id"])


async def recompute_cells(
    conn: AsyncConnection, months: Iterable[tuple[str, int, int]] | None = None
) -> None:
    """Rebuild the KPI cells of the given (tenant, year, month)s — all when None — from facts."""
    dims = [
        idea_facts.c[name]
        for name in ("tenant", "year", "month", "org_unit_id", "channel", "category")
    ]
    grouped = select(
        *dims[:4],
        func.max(func.coalesce(_F.administration_id, "")).label("administration_id"),
        *dims[4:],
        *(expr.label(name) for name, expr in CELL_MEASURES.items()),
    ).where(
        _F.year.is_not(None),
        _F.org_unit_id.is_not(None),
        _F.channel.is_not(None),
        _F.category.is_not(None),
    )
    group_by = dims
    columns = [
        "tenant",
        "year",
        "month",
        "org_unit_id",
        "administration_id",
        "channel",
        "category",
        *CELL_MEASURES,
    ]
    if months is None:
        await conn.execute(delete(kpi_cells))
        await conn.execute(insert(kpi_cells).from_select(columns, grouped.group_by(*group_by)))
        return
    wanted = sorted(set(months))
    for start in range(0, len(wanted), 200):
        chunk = wanted[start : start + 200]
        await conn.execute(
            delete(kpi_cells).where(
                tuple_(kpi_cells.c.tenant, kpi_cells.c.year, kpi_cells.c.month).in_(chunk)
            )
        )
        await conn.execute(
            insert(kpi_cells).from_select(
                columns,
                grouped.where(tuple_(_F.tenant, _F.year, _F.month).in_(chunk)).group_by(*group_by),
            )
        )


Share = tuple[CellKey, str, dict[str, int]]


@functools.cache
def _add_to_cells_statement(dialect: str) -> Any:
    """The upsert that adds a row's measures to its cell (built once per dialect)."""
    stmt = dialect_insert(dialect, kpi_cells)
    current = kpi_cells.c
    return stmt.on_conflict_do_update(
        index_elements=list(_CELL_KEY),
        set_={
            "administration_id": case(
                (
                    stmt.excluded.administration_id > current.administration_id,
                    stmt.excluded.administration_id,
                ),
                else_=current.administration_id,
            ),
            **{name: current[name] + stmt.excluded[name] for name in CELL_MEASURES},
        },
    )


async def add_to_cells(
    conn: AsyncConnection, changes: Iterable[tuple[Share | None, Share | None]]
) -> None:
    """Move the KPI cells by facts' changes, each (share before, share after), in bulk.

    Each cell a batch touches is changed by the difference (one upsert that adds), instead
    of being recomputed from all the facts of its month; a cell left with no idea goes, and
    a cell that a fact of another administration left takes its administration from the
    facts again. The result equals ``recompute_cells`` over the same facts.
    """
    rows: dict[CellKey, dict[str, Any]] = {}
    recheck: set[CellKey] = set()
    for before, after in changes:
        if before is not None and (after is None or after[:2] != before[:2]):
            recheck.add(before[0])
        for sign, share in ((-1, before), (1, after)):
            if share is None:
                continue
            key, administration, measures = share
            row = rows.get(key)
            if row is None:
                row = rows[key] = {
                    **dict(zip(_CELL_KEY, key, strict=True)),
                    "administration_id": "",
                    **dict.fromkeys(CELL_MEASURES, 0),
                }
            if sign > 0:
                row["administration_id"] = max(row["administration_id"], administration)
            for name, value in measures.items():
                row[name] += sign * value
    changed = [r for r in rows.values() if any(r[name] for name in CELL_MEASURES)]
    stmt = _add_to_cells_statement(conn.dialect.name)
    current = kpi_cells.c
    for start in range(0, len(changed), 500):
        await insert_rows(conn, stmt, changed[start : start + 500])
    key_columns = tuple_(*(current[name] for name in _CELL_KEY))
    emptied = [key for key, r in rows.items() if r["submitted"] < 0]
    for start in range(0, len(emptied), 200):
        await conn.execute(
            delete(kpi_cells).where(
                key_columns.in_(emptied[start : start + 200]), current.submitted == 0
            )
        )
    if recheck:
        # Rare (an org unit moved to another administration): the cell's administration is
        # the greatest among the facts still in it, as in ``recompute_cells``.
        greatest = (
            select(func.max(func.coalesce(_F.administration_id, "")))
            .where(*(_F[name] == current[name] for name in _CELL_KEY))
            .scalar_subquery()
        )
        keys = sorted(recheck)
        for start in range(0, len(keys), 200):
            await conn.execute(
                update(kpi_cells)
                .where(key_columns.in_(keys[start : start + 200]))
                .values(administration_id=greatest)
            )


def cell_filters(
    tenant: str,
    year: int,
    *,
    org_units_in: set[str] | None = None,
    channel: str | None = None,
    category: str | None = None,
    table: Table = kpi_cells,
) -> list[Any]:
    """WHERE conditions of a KPI request on ``table`` (the cells' sums bind the same ones in
    :func:`summed_cells`)."""
    out: list[Any] = [table.c.tenant == tenant, table.c.year == year]
    if org_units_in is not None:
        out.append(table.c.org_unit_id.in_(sorted(org_units_in)))
    if channel is not None:
        out.append(table.c.channel == channel)
    if category is not None:
        out.append(table.c.category == category)
    return out


def summed(*names: str) -> list[Any]:
    """SUM of each named cell measure, labelled by its name."""
    return [func.coalesce(func.sum(kpi_cells.c[name]), 0).label(name) for name in names]


#: The columns the KPIs are broken down by, besides the totals.
BREAKDOWNS = ("month", "administration_id", "channel", "category")


async def summed_cells(
    conn: AsyncConnection,
    measures: Sequence[str],
    *,
    tenant: str,
    year: int,
    org_units_in: set[str] | None = None,
    channel: str | None = None,
    category: str | None = None,
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The measures summed over a tenant-year's cells (those of ``org_units_in``, ``channel``
    and ``category`` when given), and summed per value of each of ``BREAKDOWNS`` (in the
    value's order): one statement, one round trip to the database instead of one for the
    totals and one for each breakdown."""
    stmt = _summed_cells_statement(
        tuple(measures), org_units_in is not None, channel is not None, category is not None
    )
    params: dict[str, Any] = {"tenant": tenant, "year": year}
    if org_units_in is not None:
        params["org_units"] = sorted(org_units_in)
    if channel is not None:
        params["channel"] = channel
    if category is not None:
        params["category"] = category
    totals: dict[str, Any] = {}
    by: dict[str, list[dict[str, Any]]] = {dim: [] for dim in BREAKDOWNS}
    for row in (await conn.execute(stmt, params)).mappings():
        sums = {name: row[name] for name in measures}
        if row["dim"] == 0:
            totals = sums
        else:
            dim = BREAKDOWNS[row["dim"] - 1]
            by[dim].append({dim: row["month"] if dim == "month" else row["value"], **sums})
    return totals, by


@functools.cache
def _summed_cells_statement(
    measures: tuple[str, ...], org_units: bool, channel: bool, category: bool
) -> Any:
    """The statement of :func:`summed_cells` for one set of measures and of filters, built
    once: building its five SELECTs of a dozen sums each took half of a KPI read."""
    c = kpi_cells.c
    conditions = [c.tenant == bindparam("tenant"), c.year == bindparam("year")]
    if org_units:
        conditions.append(c.org_unit_id.in_(bindparam("org_units", expanding=True)))
    if channel:
        conditions.append(c.channel == bindparam("channel"))
    if category:
        conditions.append(c.category == bindparam("category"))
    branches = [
        select(literal_column("0").label("dim"), null().label("month"), null().label("value"))
        .add_columns(*summed(*measures))
        .where(*conditions)
    ]
    for n, dim in enumerate(BREAKDOWNS, start=1):
        month, value = (c.month, null()) if dim == "month" else (null(), c[dim])
        branches.append(
            select(literal_column(str(n)), month, value)
            .add_columns(*summed(*measures))
            .where(*conditions)
            .group_by(c[dim])
        )
    return union_all(*branches).order_by(text("1, 2, 3"))


#: Lead-time stage name → its column of days in ``idea_facts``.
STAGE_COLUMNS = {
    name.removeprefix("stage_"): name for name in _DAY_COLUMNS if name != "feedback_days"
}
DAY_COLUMNS = _DAY_COLUMNS


async def day_medians(
    conn: AsyncConnection,
    conditions: Sequence[Any],
    *,
    by_tenant: bool = False,
    columns: Sequence[str] = _DAY_COLUMNS,
) -> dict[str, dict[str, float | None]]:
    """Median of every day column over the facts matching ``conditions``, per tenant or ``""``.

    PostgreSQL computes exact medians itself (``percentile_cont(0.5)``); SQLite has no such
    aggregate, so there the durations are fetched and the domain's median is taken. Both give
    the mean of the two middle values for an even count.
    """
    key = idea_facts.c.tenant if by_tenant else literal("").label("tenant")
    if conn.dialect.name == "postgresql":
        stmt = select(
            key,
            *(
                func.percentile_cont(0.5).within_group(idea_facts.c[name]).label(name)
                for name in columns
            ),
        ).where(*conditions)
        if by_tenant:
            stmt = stmt.group_by(idea_facts.c.tenant)
        out: dict[str, dict[str, float | None]] = {}
        for row in (await conn.execute(stmt)).mappings():
            out[row["tenant"]] = {
                name: None if row[name] is None else round(float(row[name]), 4) for name in columns
            }
        return out

    stmt = select(key, *(idea_facts.c[name] for name in columns)).where(
        *conditions, or_(*(idea_facts.c[name].is_not(None) for name in columns))
    )
    rows_of: dict[str, list[tuple[Any, ...]]] = {}
    for fetched in (await conn.execute(stmt)).all():
        rows_of.setdefault(fetched[0], []).append(tuple(fetched))
    # Column by column (a transpose), so the per-value work stays in C.
    return {
        t: {
            name: median([v for v in values if v is not None])
            for name, values in zip(columns, list(zip(*rows, strict=True))[1:], strict=True)
        }
        for t, rows in rows_of.items()
    }


def day_share(fact: IdeaFact) -> tuple[str, int, tuple[float | None, ...]] | None:
    """What one fact adds to its tenant-year's medians: (tenant, year, its days), or None
    when it adds nothing (no year, or no day counted yet, as for an idea just submitted:
    the medians are over the values there are)."""
    days = tuple(getattr(fact, name) for name in _DAY_COLUMNS)
    if fact.year is None or all(d is None for d in days):
        return None
    return (fact.tenant, fact.year, days)


async def bump_years(conn: AsyncConnection, years: Iterable[tuple[str, int]]) -> None:
    """Raise the version of each (tenant, year) whose medians a batch changed."""
    rows = [{"tenant": t, "year": y, "version": 1} for t, y in sorted(set(years))]
    if not rows:
        return
    await conn.execute(_bump_years_statement(conn.dialect.name), rows)


@functools.cache
def _bump_years_statement(dialect: str) -> Any:
    return dialect_insert(dialect, year_versions).on_conflict_do_update(
        index_elements=["tenant", "year"], set_={"version": year_versions.c.version + 1}
    )


async def year_day_medians(
    conn: AsyncConnection,
    tenants: Sequence[str],
    year: int,
    columns: Sequence[str] = _DAY_COLUMNS,
    *,
    scan: AsyncEngine | None = None,
) -> dict[str, dict[str, float | None]]:
    """Each tenant's medians over a whole year: from the cache where it holds the current
    version, computed from the facts for the others (the same figures either way), through
    a connection of ``scan`` when given (one off the event loop), else through ``conn``.

    A tenant-year without a version has no idea with a day counted (``day_share`` raises
    it with the first), so it has no medians either: absent, as ``day_medians`` leaves it.
    """
    v, m = year_versions.c, year_medians.c
    rows = await conn.execute(
        select(v.tenant, m.version.is_not(None), *(m[name] for name in columns))
        .select_from(
            year_versions.outerjoin(
                year_medians,
                (m.tenant == v.tenant) & (m.year == v.year) & (m.version == v.version),
            )
        )
        .where(v.tenant.in_(sorted(set(tenants))), v.year == year)
    )
    out: dict[str, dict[str, float | None]] = {}
    stale = []
    for tenant, current, *values in rows:
        if current:
            out[tenant] = dict(zip(columns, values, strict=True))
        else:
            stale.append(tenant)
    if stale:
        f = idea_facts.c
        where = [f.tenant.in_(stale), f.year == year]
        if scan is None:
            out |= await day_medians(conn, where, by_tenant=True, columns=columns)
        else:
            async with scan.connect() as scanning:
                out |= await day_medians(scanning, where, by_tenant=True, columns=columns)
    return out


async def refresh_year_medians(db: Database, *, limit: int = 50) -> int:
    """Compute the medians of up to ``limit`` tenant-years whose cache is out of date.

    Each version is read before its facts: should a batch land meanwhile, the row is stored
    under the older version and is simply out of date again. The rows of a round are
    written in one transaction. The number refreshed.
    """
    v, m, f = year_versions.c, year_medians.c, idea_facts.c
    async with db.read_engine.connect() as conn:
        due = (
            await conn.execute(
                select(v.tenant, v.year, v.version)
                .select_from(
                    year_versions.outerjoin(
                        year_medians, (m.tenant == v.tenant) & (m.year == v.year)
                    )
                )
                .where(or_(m.version.is_(None), m.version != v.version))
                .limit(limit)
            )
        ).all()
        rows = []
        for tenant, year, version in due:
            found = await day_medians(conn, [f.tenant == tenant, f.year == year])
            values = found.get("", dict.fromkeys(_DAY_COLUMNS))
            rows.append({"tenant": tenant, "year": year, "version": version, **values})
    if rows:
        async with db.transaction() as conn:
            await upsert(conn, year_medians, rows, ["tenant", "year"])
    return len(rows)
