"""Tenancy rules: the org-unit tree (förvaltning → avdelning → enhet) and its invariants."""

from __future__ import annotations

from dataclasses import dataclass

KIND_ORDER = {"administration": 0, "department": 1, "unit": 2}


class TenancyError(ValueError):
    """A tenancy change that breaks a rule; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class OrgUnit:
    """One node of a tenant's organisation tree."""

    id: str
    kind: str
    name: str
    parent_id: str | None
    administration_id: str


def place_org_unit(
    *, unit_id: str, kind: str, name: str, parent: OrgUnit | None, field: str = "parent_id"
) -> OrgUnit:
    """Check where a unit goes in the tree and derive its administration."""
    if kind not in KIND_ORDER:
        raise TenancyError("kind", f"must be one of {', '.join(KIND_ORDER)}")
    if kind == "administration":
        if parent is not None:
            raise TenancyError(field, "an administration has no parent")
        return OrgUnit(unit_id, kind, name, None, unit_id)
    if parent is None:
        raise TenancyError(field, f"a {kind} needs a parent org unit")
    if KIND_ORDER[parent.kind] >= KIND_ORDER[kind]:
        raise TenancyError(field, f"a {kind} cannot sit under a {parent.kind}")
    return OrgUnit(unit_id, kind, name, parent.id, parent.administration_id)
