"""The measures of SPEC §7 and the network's agreed figures (seeds 001), as plain arithmetic.

Every figure is computed from counts and durations the read model holds, so the same rule
serves the KPI page, the network comparison, the exports and the tests' hand computation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

#: A comparison cell built from fewer ideas than this is suppressed (SPEC §7).
SUPPRESSION_THRESHOLD = 5


def median(values: Iterable[float]) -> float | None:
    """The median (mean of the two middle values for an even count); None when empty."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    mid = n // 2
    if n % 2:
        return round(ordered[mid], 4)
    return round((ordered[mid - 1] + ordered[mid]) / 2, 4)


def ratio(numerator: float | int | None, denominator: float | int | None) -> float | None:
    """``numerator / denominator`` rounded to 4 decimals; None when the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return round(float(numerator) / float(denominator), 4)


def from_hundredths(value: int | None) -> str:
    """An amount kept in hundredths, as an exact decimal string."""
    return format(Decimal(value or 0) / 100, ".2f")


@dataclass(frozen=True)
class OrgUnitNode:
    """An org unit of the tree, as far as headcounts and scoping need it."""

    id: str
    parent_id: str | None
    administration_id: str
    kind: str


def subtree(units: Mapping[str, OrgUnitNode], root: str) -> set[str]:
    """``root`` and every org unit below it."""
    children: dict[str | None, list[str]] = {}
    for unit in units.values():
        children.setdefault(unit.parent_id, []).append(unit.id)
    out: set[str] = set()
    stack = [root]
    while stack:
        current = stack.pop()
        if current in out:
            continue
        out.add(current)
        stack.extend(children.get(current, []))
    return out


def headcount_of(
    units: Mapping[str, OrgUnitNode], counts: Mapping[str, int], root: str | None
) -> int:
    """Employees in ``root``'s subtree (the whole tenant when None).

    A headcount set on an org unit counts for its whole subtree; only where none is set do
    its children's headcounts add up. So a tenant may count per administration or per unit
    without counting anyone twice.
    """
    children: dict[str | None, list[str]] = {}
    for unit in units.values():
        children.setdefault(unit.parent_id, []).append(unit.id)

    def count(unit_id: str, seen: frozenset[str]) -> int:
        if unit_id in counts:
            return counts[unit_id]
        if unit_id in seen:
            return 0
        return sum(count(child, seen | {unit_id}) for child in children.get(unit_id, []))

    if root is not None:
        return count(root, frozenset())
    tops = [u.id for u in units.values() if u.parent_id is None or u.parent_id not in units]
    # Headcounts of units the tree does not know (yet) still count for the tenant.
    orphans = [uid for uid in counts if uid not in units]
    return sum(count(top, frozenset()) for top in tops) + sum(counts[o] for o in orphans)


def target_for(targets: Mapping[str, Decimal], administration_id: str | None) -> Decimal | None:
    """The target of ideas per employee: the administration's own, else the tenant's.

    ``targets`` maps an administration id, or ``""`` for the whole tenant, to its target.
    """
    if administration_id is not None and administration_id in targets:
        return targets[administration_id]
    return targets.get("")


@dataclass(frozen=True)
class Cell:
    """A figure as shown in a network comparison: suppressed when built from too few ideas."""

    value: float | str | int | None
    suppressed: bool

    def as_dict(self) -> dict[str, object]:
        """JSON shape of the cell."""
        return {"value": self.value, "suppressed": self.suppressed}


def cell(value: float | str | int | None, built_from: int) -> Cell:
    """The cell of ``value`` computed from ``built_from`` ideas; hidden below the threshold."""
    if built_from < SUPPRESSION_THRESHOLD:
        return Cell(None, True)
    return Cell(value, False)
