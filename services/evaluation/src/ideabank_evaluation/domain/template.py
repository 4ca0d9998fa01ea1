"""The screening template (mall för utvärdering): one per tenant, versioned, never edited in place.

SPEC §3 gives the four default criteria, each scored 1–5 with a note. A tenant admin may
change criteria, scales and weights; that creates a new version, and every screening
records the version it used, so old screenings stay comparable with what they were judged on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ideabank_evaluation.domain.errors import DomainError

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MIN_SCALE, MAX_SCALE = 2, 10
MAX_CRITERIA = 20


@dataclass(frozen=True)
class Criterion:
    """One criterion of a template: scored from 1 to ``scale_max``, counted with ``weight``."""

    key: str
    label: str
    description: str | None = None
    scale_max: int = 5
    weight: Decimal = Decimal(1)


@dataclass(frozen=True)
class Template:
    """A version of a tenant's screening template."""

    version: int
    criteria: tuple[Criterion, ...]

    def criterion(self, key: str) -> Criterion | None:
        """The criterion with ``key``, if the template has it."""
        return next((c for c in self.criteria if c.key == key), None)


DEFAULT_CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        key="mission",
        label="inom förvaltningens uppdrag",
        description="The idea lies within the administration's mission.",
    ),
    Criterion(
        key="reach",
        label="påverkar fler än en enskild medarbetare",
        description="The idea affects more than one employee.",
    ),
    Criterion(
        key="public_benefit",
        label="bidrar till samhällsnytta och/eller effektivisering",
        description="Public benefit and/or efficiency.",
    ),
    Criterion(
        key="effect_vs_resources",
        label="effekter i förhållande till resurser – kort och lång sikt",
        description="Effect versus the resources needed, short and long term.",
    ),
)


def default_template() -> Template:
    """Version 1 of every tenant's template: the four criteria of SPEC §3, 1–5, equal weights."""
    return Template(version=1, criteria=DEFAULT_CRITERIA)


def check_criteria(criteria: Sequence[Criterion]) -> tuple[Criterion, ...]:
    """Validate a proposed set of criteria; raise :class:`DomainError` naming the field."""
    if not criteria:
        raise DomainError("criteria", "a template needs at least one criterion")
    if len(criteria) > MAX_CRITERIA:
        raise DomainError("criteria", f"at most {MAX_CRITERIA} criteria")
    seen: set[str] = set()
    for i, c in enumerate(criteria):
        if not KEY_PATTERN.match(c.key):
            raise DomainError(f"criteria[{i}].key", "must be a slug (a-z, 0-9, _ and -)")
        if c.key in seen:
            raise DomainError(f"criteria[{i}].key", f"duplicate key {c.key!r}")
        seen.add(c.key)
        if not c.label.strip():
            raise DomainError(f"criteria[{i}].label", "must not be empty")
        if not MIN_SCALE <= c.scale_max <= MAX_SCALE:
            raise DomainError(
                f"criteria[{i}].scale_max", f"must be between {MIN_SCALE} and {MAX_SCALE}"
            )
        if not c.weight.is_finite() or c.weight <= 0:
            raise DomainError(f"criteria[{i}].weight", "must be greater than 0")
    return tuple(criteria)
