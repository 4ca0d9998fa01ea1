"""The decision basis (beslutsunderlag) compiled with the idea giver for the management group.

A draft may be saved any number of times while the idea is in development; submitting it
needs the description and the expected effects short and long term, and moves the idea to
``awaiting_decision``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ideabank_evaluation.domain.errors import DomainError

REQUIRED = ("description", "effects_short_term", "effects_long_term")
FIELDS = (
    "description",
    "estimated_cost",
    "estimated_effort_hours",
    "resources_needed",
    "effects_short_term",
    "effects_long_term",
    "risks",
    "proposed_implementer_id",
    "proposed_indicators",
)


def merge_draft(draft: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The draft with the fields the caller sent replacing the stored ones."""
    out = {k: draft.get(k) for k in FIELDS}
    out.update({k: v for k, v in changes.items() if k in FIELDS})
    return out


def check_complete(basis: Mapping[str, Any]) -> None:
    """A decision basis goes to the management group only with what they must know."""
    for name in REQUIRED:
        value = basis.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise DomainError(name, "required to submit the decision basis")
    for i, ind in enumerate(basis.get("proposed_indicators") or ()):
        baseline, target, direction = ind.get("baseline"), ind.get("target"), ind.get("direction")
        if baseline is None or target is None:
            continue
        baseline, target = Decimal(str(baseline)), Decimal(str(target))
        if direction == "increase" and target <= baseline:
            raise DomainError(
                f"proposed_indicators[{i}].target", "must be above the baseline when increasing"
            )
        if direction == "decrease" and target >= baseline:
            raise DomainError(
                f"proposed_indicators[{i}].target", "must be below the baseline when decreasing"
            )
