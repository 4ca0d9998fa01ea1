"""Reporting's use cases: apply a batch of events to the read model, and read the figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ideabank_contracts import CloudEvent
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ideabank_reporting import store
from ideabank_reporting.domain.figures import (
    OrgUnitNode,
    cell,
    from_hundredths,
    headcount_of,
    ratio,
    subtree,
    target_for,
)
from ideabank_reporting.domain.projection import (
    IdeaFact,
    TimelineEntry,
    apply_adoption_to_origin,
    apply_idea_event,
    event_time,
    parse_time,
)

Month = tuple[str, int, int]


class UnknownField(Exception):
    """A query parameter names something the tenant does not have."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


class NotVisible(Exception):
    """The thing does not exist for this caller (another tenant's, or not a member)."""


@dataclass
class _Batch:
    facts: dict[tuple[str, str], IdeaFact]
    dirty: dict[tuple[str, str], IdeaFact] = field(default_factory=dict)
    timeline: list[TimelineEntry] = field(default_factory=list)
    months: set[Month] = field(default_factory=set)
    tenancy: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = field(default_factory=dict)
    redactions: list[tuple[str, str, str]] = field(default_factory=list)

    def fact(self, tenant: str, idea_id: str) -> IdeaFact:
        key = (tenant, idea_id)
        found = self.facts.get(key)
        if found is None:
            found = self.facts[key] = IdeaFact(tenant=tenant, idea_id=idea_id)
        return found

    def touch(self, fact: IdeaFact, before: Month | None) -> None:
        self.dirty[(fact.tenant, fact.idea_id)] = fact
        for month in (before, fact.cell):
            if month is not None:
                self.months.add(month)

    def put(self, table: str, key: tuple[Any, ...], row: dict[str, Any]) -> None:
        self.tenancy.setdefault(table, {})[key] = row


def _kind(event: CloudEvent) -> str:
    return f"{event.aggregate}.{event.event}"


async def apply_events(
    conn: AsyncConnection, events: Sequence[CloudEvent], *, update_cells: bool = True
) -> set[Month]:
    """Apply a batch of events, in stream order, to the read model in bulk; the months touched.

    One look-up loads every fact the batch needs, the facts change in memory, and each table
    gets one bulk write; the KPI cells change by what the batch's facts added or took away.
    ``update_cells=False`` leaves the KPI cells to the caller (a replay computes them all
    once at the end).
    """
    keys: set[tuple[str, str]] = set()
    for ev in events:
        idea_id = ev.data.get("idea_id")
        if isinstance(idea_id, str):
            keys.add((ev.tenant, idea_id))
            if _kind(ev) == "idea.adopted":
                keys.add((str(ev.data["origin_tenant"]), str(ev.data["origin_idea_id"])))
    batch = _Batch(facts=await store.load_facts(conn, keys) if keys else {})
    # What each stored fact counted for before this batch changes it in memory.
    shares = {key: store.cell_share(fact) for key, fact in batch.facts.items()}
    days = {key: store.day_share(fact) for key, fact in batch.facts.items()}
    for ev in events:
        kind = _kind(ev)
        if kind in _TENANCY:
            _TENANCY[kind](batch, ev)
            continue
        idea_id = ev.data.get("idea_id")
        if not isinstance(idea_id, str):
            continue
        if kind == "idea.redacted":
            _redact(batch, ev.tenant, idea_id, str(ev.data["person_id"]))
            continue
        fact = batch.fact(ev.tenant, idea_id)
        before = fact.cell
        entry = apply_idea_event(
            fact, kind, ev.data, event_time(kind, ev.data, ev.time), ev.id, derive=False
        )
        if entry is None:
            continue
        batch.timeline.append(entry)
        batch.touch(fact, before)
        if kind == "idea.adopted":
            origin = batch.fact(str(ev.data["origin_tenant"]), str(ev.data["origin_idea_id"]))
            apply_adoption_to_origin(origin)
            batch.touch(origin, origin.cell)
    for fact in batch.dirty.values():
        fact.derive()
    await store.save_facts(conn, batch.dirty.values())
    rows = [e.as_row() for e in batch.timeline]
    for start in range(0, len(rows), 1000):
        await store.insert_new(
            conn, store.idea_timeline, rows[start : start + 1000], ["tenant", "idea_id", "position"]
        )
    for name, by_key in batch.tenancy.items():
        table = store.metadata.tables[name]
        pk = [c.name for c in table.primary_key.columns]
        await store.upsert(conn, table, list(by_key.values()), pk)
    for tenant, idea_id, person in batch.redactions:
        await conn.execute(
            update(store.idea_timeline)
            .where(
                store.idea_timeline.c.tenant == tenant,
                store.idea_timeline.c.idea_id == idea_id,
                store.idea_timeline.c.actor_id == person,
            )
            .values(actor_id=None)
        )
    # Only a change of some idea's days changes a year's medians (and makes their cached row
    # out of date): a stream of new ideas, whose days are all still to come, leaves them be.
    await store.bump_years(
        conn,
        {
            (share[0], share[1])
            for key, fact in batch.dirty.items()
            if (now := store.day_share(fact)) != (was := days.get(key))
            for share in (was, now)
            if share is not None
        },
    )
    if update_cells and batch.dirty:
        await store.add_to_cells(
            conn,
            ((shares.get(key), store.cell_share(fact)) for key, fact in batch.dirty.items()),
        )
    return batch.months


def _redact(batch: _Batch, tenant: str, idea_id: str, person: str) -> None:
    fact = batch.fact(tenant, idea_id)
    if fact.giver_id == person:
        fact.giver_id = None
        batch.dirty[(tenant, idea_id)] = fact
    # Timeline entries of this batch are not written yet: mask them in memory too.
    batch.timeline = [
        TimelineEntry(**{**e.as_row(), "actor_id": None})
        if e.tenant == tenant and e.idea_id == idea_id and e.actor_id == person
        else e
        for e in batch.timeline
    ]
    batch.redactions.append((tenant, idea_id, person))


def _tenant_registered(batch: _Batch, ev: CloudEvent) -> None:
    d = ev.data
    batch.put(
        "rp_tenants",
        (ev.tenant,),
        {"tenant": ev.tenant, "name": d["name"], "currency": d.get("currency", "SEK")},
    )


def _org_unit_defined(batch: _Batch, ev: CloudEvent) -> None:
    d = ev.data
    batch.put(
        "rp_org_units",
        (ev.tenant, d["org_unit_id"]),
        {
            "tenant": ev.tenant,
            "org_unit_id": d["org_unit_id"],
            "parent_id": d.get("parent_id"),
            "administration_id": d["administration_id"],
            "kind": d["kind"],
            "name": d["name"],
            "active": bool(d.get("active", True)),
        },
    )


def _headcount_set(batch: _Batch, ev: CloudEvent) -> None:
    d = ev.data
    key = (ev.tenant, d["org_unit_id"], int(d["year"]))
    batch.put(
        "rp_headcounts",
        key,
        {"tenant": ev.tenant, "org_unit_id": key[1], "year": key[2], "headcount": d["headcount"]},
    )


def _target_set(batch: _Batch, ev: CloudEvent) -> None:
    d = ev.data
    key = (ev.tenant, int(d["year"]), d.get("administration_id") or "")
    batch.put(
        "rp_targets",
        key,
        {
            "tenant": ev.tenant,
            "year": key[1],
            "scope": key[2],
            "ideas_per_employee": Decimal(str(d["ideas_per_employee"])),
        },
    )


def _membership(active: bool) -> Any:
    def handle(batch: _Batch, ev: CloudEvent) -> None:
        d = ev.data
        tenant = d.get("tenant") or ev.tenant
        if tenant != ev.tenant:
            return  # only a tenant itself can join or leave; anything else is ignored
        batch.put(
            "rp_network_members",
            (d["network"], tenant),
            {
                "network": d["network"],
                "tenant": tenant,
                "active": active,
                "changed_at": parse_time(ev.time),
            },
        )

    return handle


_TENANCY = {
    "tenant.registered": _tenant_registered,
    "org_unit.defined": _org_unit_defined,
    "headcount.set": _headcount_set,
    "target.set": _target_set,
    "network.joined": _membership(True),
    "network.left": _membership(False),
}

# ---------------------------------------------------------------------------------- reading

#: Measures summed from the cells for every KPI view.
TOTALS = tuple(store.CELL_MEASURES)
#: The network comparison's totals per member, built once (its dozen sums cost more to
#: build than to run).
_MEMBER_TOTALS = (
    select(store.kpi_cells.c.tenant, *store.summed(*TOTALS))
    .where(
        store.kpi_cells.c.tenant.in_(bindparam("members", expanding=True)),
        store.kpi_cells.c.year == bindparam("year"),
    )
    .group_by(store.kpi_cells.c.tenant)
)


async def _org_tree(conn: AsyncConnection, tenants: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = await conn.execute(select(store.org_units).where(store.org_units.c.tenant.in_(tenants)))
    out: dict[str, dict[str, Any]] = {t: {} for t in tenants}
    for r in rows.mappings():
        out[r["tenant"]][r["org_unit_id"]] = dict(r)
    return out


async def _headcounts(
    conn: AsyncConnection, tenants: Sequence[str], year: int
) -> dict[str, dict[str, int]]:
    rows = await conn.execute(
        select(store.headcounts).where(
            store.headcounts.c.tenant.in_(tenants), store.headcounts.c.year == year
        )
    )
    out: dict[str, dict[str, int]] = {t: {} for t in tenants}
    for r in rows.mappings():
        out[r["tenant"]][r["org_unit_id"]] = int(r["headcount"])
    return out


async def _targets(
    conn: AsyncConnection, tenants: Sequence[str], year: int
) -> dict[str, dict[str, Decimal]]:
    rows = await conn.execute(
        select(store.targets).where(
            store.targets.c.tenant.in_(tenants), store.targets.c.year == year
        )
    )
    out: dict[str, dict[str, Decimal]] = {t: {} for t in tenants}
    for r in rows.mappings():
        out[r["tenant"]][r["scope"]] = Decimal(str(r["ideas_per_employee"]))
    return out


async def _tenant_info(conn: AsyncConnection, tenants: Sequence[str]) -> dict[str, dict[str, str]]:
    rows = await conn.execute(select(store.tenants).where(store.tenants.c.tenant.in_(tenants)))
    return {r["tenant"]: dict(r) for r in rows.mappings()}


def _nodes(tree: dict[str, dict[str, Any]]) -> dict[str, OrgUnitNode]:
    return {
        k: OrgUnitNode(k, v["parent_id"], v["administration_id"], v["kind"])
        for k, v in tree.items()
    }


def _figures(
    t: dict[str, int], headcount: int, target: Decimal | None, medians: dict[str, float | None]
) -> dict[str, Any]:
    """Every KPI of one scope, from its summed cells, headcount, target and medians."""
    per_employee = ratio(t["submitted"], headcount)
    return {
        "headcount": headcount,
        "target_ideas_per_employee": None if target is None else format(target, "f"),
        "submitted": t["submitted"],
        "ideas_per_employee": per_employee,
        "target_attainment": ratio(per_employee, float(target)) if target else None,
        "screened": t["screened"],
        "share_screened": ratio(t["screened"], t["submitted"]),
        "responded": t["responded"],
        "median_days_to_first_feedback": medians.get("feedback_days"),
        "with_motivation": t["motivated"],
        "share_with_motivation": ratio(t["motivated"], t["responded"]),
        "implemented": t["implemented"],
        "implemented_per_employee": ratio(t["implemented"], headcount),
        "implementation_rate": ratio(t["implemented"], t["submitted"]),
        "evaluated": t["evaluated"],
        "rejected": t["rejected"],
        "withdrawn": t["withdrawn"],
        "lead_time_days": {
            stage: medians.get(column) for stage, column in store.STAGE_COLUMNS.items()
        },
        "backlog": {"paused": t["paused"], "deferred": t["deferred"]},
        "benefit": {
            "money": from_hundredths(t["benefit_money"]),
            "hours": from_hundredths(t["benefit_hours"]),
        },
        "adoptions": {"given": t["adopted_out"], "taken": t["adopted_in"]},
    }


def _ints(row: Any) -> dict[str, int]:
    return {name: int(row[name] or 0) for name in TOTALS}


async def kpis(
    conn: AsyncConnection,
    *,
    tenant: str,
    year: int,
    org_unit: str | None = None,
    channel: str | None = None,
    category: str | None = None,
    scan: AsyncEngine | None = None,
) -> dict[str, Any]:
    """The tenant's KPIs for a year, optionally for one org unit's subtree, channel, category.

    ``scan`` is where the year's medians are computed should their cache be out of date
    (see ``store.year_day_medians``)."""
    tree = (await _org_tree(conn, [tenant]))[tenant]
    nodes = _nodes(tree)
    scope: set[str] | None = None
    administration: str | None = None
    if org_unit is not None:
        if org_unit not in nodes:
            raise UnknownField("org_unit", f"no org unit {org_unit!r} in this tenant")
        scope = subtree(nodes, org_unit)
        administration = nodes[org_unit].administration_id
    total_row, breakdowns = await store.summed_cells(
        conn,
        TOTALS,
        tenant=tenant,
        year=year,
        org_units_in=scope,
        channel=channel,
        category=category,
    )
    if scope is None and channel is None and category is None:
        found = await store.year_day_medians(conn, [tenant], year, scan=scan)
        medians = found.get(tenant, {})
    else:
        fact_conditions = store.cell_filters(
            tenant,
            year,
            org_units_in=scope,
            channel=channel,
            category=category,
            table=store.idea_facts,
        )
        medians = (await store.day_medians(conn, fact_conditions)).get("", {})
    headcount = headcount_of(nodes, (await _headcounts(conn, [tenant], year))[tenant], org_unit)
    target = target_for((await _targets(conn, [tenant], year))[tenant], administration)
    info = (await _tenant_info(conn, [tenant])).get(tenant, {})
    out: dict[str, Any] = {
        "tenant": tenant,
        "year": year,
        "filters": {"org_unit": org_unit, "channel": channel, "category": category},
        "currency": info.get("currency"),
        **_figures(_ints(total_row), headcount, target, medians),
    }
    for dim, rows in breakdowns.items():
        key = "administration" if dim == "administration_id" else dim
        out[f"by_{key}"] = [
            {
                key: r[dim],
                **({"name": tree.get(r[dim], {}).get("name")} if key == "administration" else {}),
                "submitted": int(r["submitted"]),
                "screened": int(r["screened"]),
                "implemented": int(r["implemented"]),
                "evaluated": int(r["evaluated"]),
            }
            for r in rows
        ]
    return out


async def is_member(conn: AsyncConnection, *, tenant: str, network: str) -> bool:
    """True when ``tenant`` is a current member of ``network``."""
    row = (
        await conn.execute(
            select(store.network_members.c.active).where(
                store.network_members.c.network == network,
                store.network_members.c.tenant == tenant,
            )
        )
    ).first()
    return bool(row and row[0])


async def comparison(
    conn: AsyncConnection, *, tenant: str, network: str, year: int
) -> dict[str, Any]:
    """Every current member of the network side by side, per employee, aggregates only."""
    if not await is_member(conn, tenant=tenant, network=network):
        raise NotVisible(network)
    members = sorted(
        (
            await conn.execute(
                select(store.network_members.c.tenant).where(
                    store.network_members.c.network == network,
                    store.network_members.c.active.is_(True),
                )
            )
        ).scalars()
    )
    rows = await conn.execute(_MEMBER_TOTALS, {"members": members, "year": year})
    totals = {r["tenant"]: _ints(r) for r in rows.mappings()}
    medians = await store.year_day_medians(conn, members, year, columns=("feedback_days",))
    trees = await _org_tree(conn, members)
    counts = await _headcounts(conn, members, year)
    targets = await _targets(conn, members, year)
    info = await _tenant_info(conn, members)
    empty = dict.fromkeys(TOTALS, 0)
    out = []
    for m in members:
        t = totals.get(m, empty)
        headcount = headcount_of(_nodes(trees[m]), counts[m], None)
        target = target_for(targets[m], None)
        feedback = medians.get(m, {}).get("feedback_days")
        per_employee = ratio(t["submitted"], headcount)
        figures = {
            "submitted": cell(t["submitted"], t["submitted"]),
            "ideas_per_employee": cell(per_employee, t["submitted"]),
            "target_attainment": cell(
                ratio(per_employee, float(target)) if target else None, t["submitted"]
            ),
            "share_screened": cell(ratio(t["screened"], t["submitted"]), t["submitted"]),
            "median_days_to_first_feedback": cell(feedback, t["responded"]),
            "share_with_motivation": cell(ratio(t["motivated"], t["responded"]), t["responded"]),
            "implemented_per_employee": cell(ratio(t["implemented"], headcount), t["implemented"]),
            "implementation_rate": cell(ratio(t["implemented"], t["submitted"]), t["submitted"]),
            "benefit_money_per_employee": cell(
                ratio(t["benefit_money"] / 100, headcount), t["evaluated"]
            ),
            "benefit_hours_per_employee": cell(
                ratio(t["benefit_hours"] / 100, headcount), t["evaluated"]
            ),
            "paused_backlog": cell(t["paused"], t["paused"]),
            "deferred_backlog": cell(t["deferred"], t["deferred"]),
            "adoptions_given": cell(t["adopted_out"], t["adopted_out"]),
            "adoptions_taken": cell(t["adopted_in"], t["adopted_in"]),
        }
        out.append(
            {
                "tenant": m,
                "name": info.get(m, {}).get("name", m),
                "currency": info.get(m, {}).get("currency"),
                "headcount": headcount,
                "target_ideas_per_employee": None if target is None else format(target, "f"),
                "figures": {k: v.as_dict() for k, v in figures.items()},
            }
        )
    return {"network": network, "year": year, "suppression_threshold": 5, "members": out}


async def timeline(conn: AsyncConnection, *, tenant: str, idea_id: str) -> dict[str, Any]:
    """The idea's events in order with status, actor ids and motivations (caller's tenant)."""
    tl = store.idea_timeline.c
    rows = (
        (
            await conn.execute(
                select(store.idea_timeline)
                .where(tl.tenant == tenant, tl.idea_id == idea_id)
                .order_by(tl.position)
            )
        )
        .mappings()
        .all()
    )
    if not rows:
        raise NotVisible(idea_id)
    fact = (
        (
            await conn.execute(
                select(store.idea_facts.c.status, store.idea_facts.c.title).where(
                    store.idea_facts.c.tenant == tenant, store.idea_facts.c.idea_id == idea_id
                )
            )
        )
        .mappings()
        .first()
    )
    return {
        "idea_id": idea_id,
        "title": fact["title"] if fact else None,
        "status": fact["status"] if fact else None,
        "events": [
            {
                "position": r["position"],
                "event_id": r["event_id"],
                "type": r["event_type"],
                "at": r["at"].isoformat() + "Z",
                "status": r["status"],
                "actor_id": r["actor_id"],
                "outcome": r["outcome"],
                "motivation": r["motivation"],
            }
            for r in rows
        ],
    }


@dataclass(frozen=True)
class BoardIdea:
    """One implemented or evaluated idea of the board report."""

    idea_id: str
    title: str
    administration: str
    org_unit: str
    category: str
    implemented_on: date | None
    evaluated_on: date | None
    benefit_money: Decimal | None
    currency: str | None
    benefit_hours: Decimal | None
    benefit_description: str | None
    lessons_learned: str | None
    summary: str | None


@dataclass(frozen=True)
class BoardReport:
    """The compilation for the board (servicenämnden) of one period."""

    tenant: str
    tenant_name: str
    currency: str
    start: date
    end: date
    ideas: list[BoardIdea]
    implemented_per_month: list[tuple[str, int]]
    benefit_per_administration: list[tuple[str, Decimal, Decimal]]

    @property
    def total_money(self) -> Decimal:
        """Realised benefit in money over the period's ideas."""
        return sum((i.benefit_money or Decimal(0) for i in self.ideas), Decimal(0))

    @property
    def total_hours(self) -> Decimal:
        """Realised hours over the period's ideas."""
        return sum((i.benefit_hours or Decimal(0) for i in self.ideas), Decimal(0))


def _money(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value) / 100


async def board_report(
    conn: AsyncConnection, *, tenant: str, start: date, end: date
) -> BoardReport:
    """Ideas implemented or evaluated from ``start`` to ``end`` (inclusive), with benefits."""
    f = store.idea_facts.c
    lo = datetime(start.year, start.month, start.day)
    hi = datetime(end.year, end.month, end.day) + timedelta(days=1)
    rows = (
        (
            await conn.execute(
                select(store.idea_facts)
                .where(
                    f.tenant == tenant,
                    or_(
                        (f.implemented_at >= lo) & (f.implemented_at < hi),
                        (f.evaluated_at >= lo) & (f.evaluated_at < hi),
                    ),
                )
                .order_by(func.coalesce(f.implemented_at, f.evaluated_at), f.idea_id)
            )
        )
        .mappings()
        .all()
    )
    tree = (await _org_tree(conn, [tenant]))[tenant]
    info = (await _tenant_info(conn, [tenant])).get(tenant, {})

    def name(unit: str | None) -> str:
        return str(tree.get(unit or "", {}).get("name") or unit or "")

    ideas = [
        BoardIdea(
            idea_id=r["idea_id"],
            title=r["title"] or r["idea_id"],
            administration=name(r["administration_id"]),
            org_unit=name(r["org_unit_id"]),
            category=r["category"] or "",
            implemented_on=r["implemented_at"].date() if r["implemented_at"] else None,
            evaluated_on=r["evaluated_at"].date() if r["evaluated_at"] else None,
            benefit_money=_money(r["benefit_money"]),
            currency=r["benefit_currency"],
            benefit_hours=_money(r["benefit_hours"]),
            benefit_description=r["benefit_description"],
            lessons_learned=r["lessons_learned"],
            summary=r["implementation_summary"],
        )
        for r in rows
    ]
    months: dict[str, int] = {}
    cursor = date(start.year, start.month, 1)
    while cursor <= end:
        months[cursor.strftime("%Y-%m")] = 0
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    for i in ideas:
        if i.implemented_on and start <= i.implemented_on <= end:
            key = i.implemented_on.strftime("%Y-%m")
            months[key] = months.get(key, 0) + 1
    per_admin: dict[str, tuple[Decimal, Decimal]] = {}
    for i in ideas:
        money, hours = per_admin.get(i.administration, (Decimal(0), Decimal(0)))
        per_admin[i.administration] = (
            money + (i.benefit_money or 0),
            hours + (i.benefit_hours or 0),
        )
    return BoardReport(
        tenant=tenant,
        tenant_name=str(info.get("name") or tenant),
        currency=str(info.get("currency") or "SEK"),
        start=start,
        end=end,
        ideas=ideas,
        implemented_per_month=sorted(months.items()),
        benefit_per_administration=sorted((k, m, h) for k, (m, h) in per_admin.items()),
    )
