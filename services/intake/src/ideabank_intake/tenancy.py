"""Tenancy administration: one code path applies any change, partial or whole, as a diff.

A tenant admin may send a single org unit, person or target, or the whole tenancy document
(how demo data and migrations load a municipality). Each item that is new or changed is
written and announced by its tenancy event in the same transaction; unchanged items emit
nothing, so loading the same document twice changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ideabank_contracts import EventData
from ideabank_contracts.events import tenancy as ev
from ideabank_contracts.events.common import Currency, Language
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ideabank_intake.domain.tenancy import OrgUnit, TenancyError, place_org_unit
from ideabank_intake.handlers import assign_waiting_ideas, record
from ideabank_intake.store import (
    ambassadors,
    headcounts,
    network_members,
    org_units,
    people,
    targets,
    tenants,
)

SOURCE = "/ideabank/intake/tenancy"
Slug = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=63)


class TenantIn(BaseModel):
    """The municipality itself."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=300)
    country: str = Field(pattern=r"^[A-Z]{2}$", default="SE")
    default_language: Language = Language.SV
    currency: Currency = Currency.SEK


class OrgUnitIn(BaseModel):
    """An org unit; parents must come before their children in a document."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=100)
    kind: ev.OrgUnitKind
    name: str = Field(min_length=1, max_length=300)
    parent_id: str | None = None


class HeadcountIn(BaseModel):
    """Employees of an org unit in a year."""

    model_config = ConfigDict(extra="forbid")
    org_unit_id: str
    year: int = Field(ge=2000, le=2100)
    headcount: int = Field(ge=0, le=1_000_000)


class TargetIn(BaseModel):
    """Ideas per employee per year, for the tenant or one administration."""

    model_config = ConfigDict(extra="forbid")
    year: int = Field(ge=2000, le=2100)
    ideas_per_employee: Decimal = Field(ge=0, le=1000)
    administration_id: str | None = None


class PersonIn(BaseModel):
    """A person with contact details, language, org unit and roles."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=300)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)
    language: Language = Language.SV
    org_unit_id: str
    roles: list[ev.Role] = Field(default_factory=lambda: [ev.Role.EMPLOYEE])
    active: bool = True


class AmbassadorIn(BaseModel):
    """Which person is the idea ambassador of an administration."""

    model_config = ConfigDict(extra="forbid")
    administration_id: str
    person_id: str


class TenancyDocument(BaseModel):
    """Any part of a tenant's organisation; absent lists are left as they are."""

    model_config = ConfigDict(extra="forbid")
    tenant: TenantIn | None = None
    org_units: list[OrgUnitIn] = Field(default_factory=list)
    headcounts: list[HeadcountIn] = Field(default_factory=list)
    targets: list[TargetIn] = Field(default_factory=list)
    people: list[PersonIn] = Field(default_factory=list)
    ambassadors: list[AmbassadorIn] = Field(default_factory=list)
    networks: list[str] = Field(default_factory=list, description="Networks to join")
    leave_networks: list[str] = Field(default_factory=list, description="Networks to leave")


class ApplyResult(BaseModel):
    """How many tenancy events a change produced, per kind."""

    changed: dict[str, int]


async def apply_tenancy(
    conn: AsyncConnection,
    *,
    tenant: str,
    doc: TenancyDocument,
    actor_id: str | None,
    now: datetime | None = None,
) -> ApplyResult:
    """Validate and apply a tenancy document for ``tenant``; write rows and events together."""
    now = now or datetime.now(UTC)
    events: list[EventData] = []
    subjects: list[str] = []
    changed: dict[str, int] = {}

    def emit(data: EventData, subject: str) -> None:
        events.append(data)
        subjects.append(subject)
        key = f"{data.aggregate}.{data.event}"
        changed[key] = changed.get(key, 0) + 1

    db_insert = _upsert_for(conn)

    # Tenant
    existing_tenant = (
        await conn.execute(select(tenants).where(tenants.c.tenant == tenant))
    ).first()
    if doc.tenant is not None:
        row = {"tenant": tenant, **doc.tenant.model_dump(mode="json")}
        if existing_tenant is None or dict(existing_tenant._mapping) != row:
            await conn.execute(db_insert(tenants, row, ["tenant"]))
            emit(ev.TenantRegistered(**row), tenant)
    elif existing_tenant is None:
        raise TenancyError("tenant", "the tenant is not registered yet: include 'tenant'")

    # Org units, in document order so parents come first.
    units: dict[str, OrgUnit] = {
        r.id: OrgUnit(r.id, r.kind, r.name, r.parent_id, r.administration_id)
        for r in (await conn.execute(select(org_units).where(org_units.c.tenant == tenant)))
    }
    for i, item in enumerate(doc.org_units):
        parent = None
        if item.parent_id is not None:
            parent = units.get(item.parent_id)
            if parent is None:
                raise TenancyError(f"org_units[{i}].parent_id", "no such org unit")
        try:
            unit = place_org_unit(
                unit_id=item.id,
                kind=item.kind.value,
                name=item.name,
                parent=parent,
                field=f"org_units[{i}].parent_id",
            )
        except TenancyError as exc:
            if exc.field == "kind":
                exc.field = f"org_units[{i}].kind"
            raise
        if units.get(unit.id) == unit:
            continue
        units[unit.id] = unit
        row = {
            "tenant": tenant,
            "id": unit.id,
            "kind": unit.kind,
            "name": unit.name,
            "parent_id": unit.parent_id,
            "administration_id": unit.administration_id,
            "active": True,
        }
        await conn.execute(db_insert(org_units, row, ["tenant", "id"]))
        emit(
            ev.OrgUnitDefined(
                org_unit_id=unit.id,
                parent_id=unit.parent_id,
                kind=ev.OrgUnitKind(unit.kind),
                name=unit.name,
                administration_id=unit.administration_id,
            ),
            unit.id,
        )

    def need_unit(field: str, unit_id: str, kind: str | None = None) -> OrgUnit:
        unit = units.get(unit_id)
        if unit is None:
            raise TenancyError(field, f"no org unit {unit_id!r} in this tenant")
        if kind and unit.kind != kind:
            raise TenancyError(field, f"{unit_id!r} is a {unit.kind}, not an {kind}")
        return unit

    # Headcounts
    current_hc = {
        (r.org_unit_id, r.year): r.headcount
        for r in await conn.execute(select(headcounts).where(headcounts.c.tenant == tenant))
    }
    for i, hc in enumerate(doc.headcounts):
        need_unit(f"headcounts[{i}].org_unit_id", hc.org_unit_id)
        if current_hc.get((hc.org_unit_id, hc.year)) == hc.headcount:
            continue
        current_hc[(hc.org_unit_id, hc.year)] = hc.headcount
        row = {"tenant": tenant, **hc.model_dump()}
        await conn.execute(db_insert(headcounts, row, ["tenant", "org_unit_id", "year"]))
        emit(ev.HeadcountSet(**hc.model_dump(), actor_id=actor_id), hc.org_unit_id)

    # Targets
    current_tg = {
        (r.year, r.administration_id): Decimal(r.ideas_per_employee)
        for r in await conn.execute(select(targets).where(targets.c.tenant == tenant))
    }
    for i, tg in enumerate(doc.targets):
        admin = tg.administration_id or ""
        if admin:
            need_unit(f"targets[{i}].administration_id", admin, "administration")
        if current_tg.get((tg.year, admin)) == tg.ideas_per_employee:
            continue
        current_tg[(tg.year, admin)] = tg.ideas_per_employee
        row = {
            "tenant": tenant,
            "year": tg.year,
            "administration_id": admin,
            "ideas_per_employee": tg.ideas_per_employee,
        }
        await conn.execute(db_insert(targets, row, ["tenant", "year", "administration_id"]))
        emit(ev.TargetSet(**tg.model_dump(), actor_id=actor_id), admin or tenant)

    # People
    current_people: dict[str, Any] = {
        r.id: dict(r._mapping)
        for r in await conn.execute(select(people).where(people.c.tenant == tenant))
    }
    for i, p in enumerate(doc.people):
        need_unit(f"people[{i}].org_unit_id", p.org_unit_id)
        row = {
            "tenant": tenant,
            "id": p.id,
            "name": p.name,
            "email": str(p.email),
            "language": p.language.value,
            "org_unit_id": p.org_unit_id,
            "roles": sorted(r.value for r in p.roles),
            "active": p.active,
        }
        old = current_people.get(p.id)
        if old is not None and {**old, "roles": sorted(old["roles"])} == row:
            continue
        await conn.execute(db_insert(people, row, ["tenant", "id"]))
        cls = ev.PersonRegistered if old is None else ev.PersonUpdated
        emit(
            cls(
                person_id=p.id,
                name=p.name,
                email=str(p.email),
                language=p.language,
                org_unit_id=p.org_unit_id,
                roles=tuple(ev.Role(r) for r in row["roles"]),
                active=p.active,
            ),
            p.id,
        )
        current_people[p.id] = row

    # Ambassadors
    new_ambassadors: list[tuple[str, str]] = []
    current_amb = {
        r.administration_id: r.person_id
        for r in await conn.execute(select(ambassadors).where(ambassadors.c.tenant == tenant))
    }
    for i, a in enumerate(doc.ambassadors):
        need_unit(f"ambassadors[{i}].administration_id", a.administration_id, "administration")
        person = current_people.get(a.person_id)
        if person is None:
            raise TenancyError(f"ambassadors[{i}].person_id", "no such person in this tenant")
        if not {"ambassador", "innovation_group"} & set(person["roles"]):
            raise TenancyError(
                f"ambassadors[{i}].person_id", "the person lacks the ambassador role"
            )
        if current_amb.get(a.administration_id) == a.person_id:
            continue
        current_amb[a.administration_id] = a.person_id
        row = {"tenant": tenant, **a.model_dump()}
        await conn.execute(db_insert(ambassadors, row, ["tenant", "administration_id"]))
        emit(ev.AmbassadorAssigned(**a.model_dump(), actor_id=actor_id), a.administration_id)
        new_ambassadors.append((a.administration_id, a.person_id))

    # Networks
    memberships = {
        r.network: r.left_at is None
        for r in await conn.execute(
            select(network_members).where(network_members.c.tenant == tenant)
        )
    }
    for i, network in enumerate(doc.networks):
        _check_slug(f"networks[{i}]", network)
        if memberships.get(network):
            continue
        memberships[network] = True
        row = {"network": network, "tenant": tenant, "joined_at": now, "left_at": None}
        await conn.execute(db_insert(network_members, row, ["network", "tenant"]))
        emit(ev.NetworkJoined(network=network, tenant=tenant, actor_id=actor_id), network)
    for i, network in enumerate(doc.leave_networks):
        _check_slug(f"leave_networks[{i}]", network)
        if not memberships.get(network):
            raise TenancyError(f"leave_networks[{i}]", "the tenant is not a member")
        memberships[network] = False
        await conn.execute(
            network_members.update()
            .where(and_(network_members.c.network == network, network_members.c.tenant == tenant))
            .values(left_at=now)
        )
        emit(ev.NetworkLeft(network=network, tenant=tenant, actor_id=actor_id), network)

    # Each tenancy event is written to the outbox and the audit log together.
    await record(
        conn,
        tenant=tenant,
        actor_id=actor_id,
        items=list(zip(events, subjects, strict=True)),
        now=now,
        source=SOURCE,
    )
    # Ideas that waited for an ambassador are assigned in this same transaction.
    for administration_id, person_id in new_ambassadors:
        await assign_waiting_ideas(
            conn,
            tenant=tenant,
            administration_id=administration_id,
            ambassador_id=person_id,
            now=now,
        )
    return ApplyResult(changed=changed)


def _check_slug(field: str, value: str) -> None:
    import re

    if not re.match(r"^[a-z0-9][a-z0-9_-]{0,62}$", value):
        raise TenancyError(field, "must be a slug (a-z, 0-9, _ and -)")


def _upsert_for(conn: AsyncConnection) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    dialect_insert: Any = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert

    def upsert(table: Any, row: dict[str, Any], keys: list[str]) -> Any:
        stmt = dialect_insert(table).values(**row)
        update = {k: v for k, v in row.items() if k not in keys}
        if not update:
            return stmt.on_conflict_do_nothing(index_elements=keys)
        return stmt.on_conflict_do_update(index_elements=keys, set_=update)

    return upsert
