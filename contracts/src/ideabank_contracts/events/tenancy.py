"""Tenancy and organisation (SPEC §2): tenants, org units, headcounts, targets, people,
networks and ambassador assignments.

These are state events: each carries the full current state of its aggregate, so a
consumer keeps the latest one. The person events are the only events that carry names
and email addresses; every other event refers to people by id only.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from ideabank_contracts.envelope import EventData
from ideabank_contracts.events.common import (
    Amount,
    Currency,
    Id,
    Language,
    ShortText,
    Slug,
    Year,
)

Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)]


class Role(StrEnum):
    """Role names of the JWT `roles` claim (SPEC §8)."""

    EMPLOYEE = "employee"
    AMBASSADOR = "ambassador"
    INNOVATION_GROUP = "innovation_group"
    UNIT_MANAGER = "unit_manager"
    DEPARTMENT_MANAGER = "department_manager"
    MANAGEMENT = "management"
    IMPLEMENTER = "implementer"
    COMMUNICATOR = "communicator"
    TENANT_ADMIN = "tenant_admin"
    NETWORK_COORDINATOR = "network_coordinator"


class OrgUnitKind(StrEnum):
    """Level of an org unit: förvaltning → avdelning → enhet."""

    ADMINISTRATION = "administration"
    DEPARTMENT = "department"
    UNIT = "unit"


class TenantRegistered(EventData):
    """A municipality was registered as a tenant."""

    aggregate = "tenant"
    event = "registered"

    tenant: Slug = Field(description="Slug of the tenant, e.g. 'boras'")
    name: ShortText = Field(description="Name of the municipality, e.g. 'Borås Stad'")
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(
        description="ISO 3166-1 alpha-2 country code, e.g. 'SE'"
    )
    default_language: Language = Field(description="Default language of the tenant")
    currency: Currency = Field(description="Currency benefits are counted in")


class OrgUnitDefined(EventData):
    """An org unit was created or changed (renamed, moved); the latest event wins."""

    aggregate = "org_unit"
    event = "defined"

    org_unit_id: Id = Field(description="Id of the org unit")
    parent_id: Id | None = Field(
        default=None, description="Parent org unit; absent for an administration"
    )
    kind: OrgUnitKind = Field(description="Administration, department or unit")
    name: ShortText = Field(description="Name of the org unit")
    administration_id: Id = Field(
        description="The administration this unit belongs to (its own id for an administration)"
    )
    active: bool = Field(default=True, description="False once the org unit is closed")


class HeadcountSet(EventData):
    """The number of employees of an org unit in a year was set."""

    aggregate = "headcount"
    event = "set"

    org_unit_id: Id = Field(description="Org unit counted")
    year: Year = Field(description="Year the headcount applies to")
    headcount: int = Field(ge=0, description="Number of employees")
    actor_id: Id | None = Field(default=None, description="Tenant admin who set it")


class TargetSet(EventData):
    """The target of ideas per employee per year was set for the tenant or one administration."""

    aggregate = "target"
    event = "set"

    year: Year = Field(description="Year the target applies to")
    ideas_per_employee: Amount = Field(description="Target number of ideas per employee")
    administration_id: Id | None = Field(
        default=None, description="Administration the target is for; absent for the whole tenant"
    )
    actor_id: Id | None = Field(default=None, description="Tenant admin who set it")


class _PersonState(EventData):
    """A person's contact details and roles.

    Tenancy is the source of contact details, so these events, and only these, carry a
    name and an email address. Consumers that need them (notification) keep the latest
    and forget them on erasure (`idea.redacted`); all other events carry person ids.
    """

    aggregate = "person"

    person_id: Id = Field(description="Id of the person; the JWT 'sub'")
    name: ShortText = Field(description="Full name (personal data)")
    email: Email = Field(description="Email address (personal data)")
    language: Language = Field(description="Preferred language")
    org_unit_id: Id = Field(description="Org unit the person works in")
    roles: tuple[Role, ...] = Field(default=(), description="Roles held in the tenant")
    active: bool = Field(default=True, description="False once the person has left")


class PersonRegistered(_PersonState):
    """A person was registered in the tenant.

    Carries name and email: tenancy is the source of contact details. Every other event
    refers to people by id only.
    """

    event = "registered"


class PersonUpdated(_PersonState):
    """A person's details, org unit or roles changed; carries the full new state.

    Carries name and email: tenancy is the source of contact details. Every other event
    refers to people by id only.
    """

    event = "updated"


class NetworkJoined(EventData):
    """The tenant joined a network that compares aggregates (the tenant admin's explicit act)."""

    aggregate = "network"
    event = "joined"

    network: Slug = Field(description="Slug of the network")
    tenant: Slug = Field(description="Slug of the tenant that joined")
    actor_id: Id | None = Field(default=None, description="Tenant admin who joined")


class NetworkLeft(EventData):
    """The tenant left a network; comparison stops from now on."""

    aggregate = "network"
    event = "left"

    network: Slug = Field(description="Slug of the network")
    tenant: Slug = Field(description="Slug of the tenant that left")
    actor_id: Id | None = Field(default=None, description="Tenant admin who left")


class AmbassadorAssigned(EventData):
    """A person became the idea ambassador (idéambassadör) of an administration."""

    aggregate = "ambassador"
    event = "assigned"

    administration_id: Id = Field(description="Org unit id of the administration")
    person_id: Id = Field(description="Person id of the ambassador")
    actor_id: Id | None = Field(default=None, description="Tenant admin who assigned them")
