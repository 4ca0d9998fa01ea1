"""Screening rules (utvärdering av förbättringsförslag): scores, outcomes and who may screen.

An idea is screened only while ``in_screening``, by the ambassador of its administration or a
member of that administration's innovation group. Every criterion of the template is scored
within its scale; the outcome decides what else is required.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from ideabank_evaluation.domain.errors import DomainError, Forbidden, InvalidTransition
from ideabank_evaluation.domain.template import Template


class Outcome(StrEnum):
    """Where a screened idea goes; each value is also the idea's next status."""

    REJECTED = "rejected"
    PAUSED = "paused"
    QUICK_WIN = "quick_win"
    IN_DEVELOPMENT = "in_development"


@dataclass(frozen=True)
class ScoreInput:
    """A score as the ambassador sent it (not yet checked)."""

    criterion_key: str
    score: int
    note: str | None = None


@dataclass(frozen=True)
class CriterionScore:
    """A checked score, with the criterion's wording, scale and weight of the template version."""

    criterion_key: str
    label: str
    score: int
    scale_max: int
    weight: Decimal
    note: str | None


@dataclass(frozen=True)
class ScoreSheet:
    """Every criterion's score in template order, and the weighted total."""

    scores: tuple[CriterionScore, ...]
    weighted_total: Decimal
    weighted_max: Decimal

    @property
    def weighted_share(self) -> Decimal:
        """The weighted total as a share (0–1) of the highest possible."""
        if not self.weighted_max:
            return Decimal(0)
        return (self.weighted_total / self.weighted_max).quantize(Decimal("0.0001"))


def score_sheet(template: Template, scores: Sequence[ScoreInput]) -> ScoreSheet:
    """Check that every criterion is scored once within its scale; compute the weighted total."""
    by_key: dict[str, tuple[int, ScoreInput]] = {}
    for i, s in enumerate(scores):
        criterion = template.criterion(s.criterion_key)
        if criterion is None:
            raise DomainError(
                f"scores[{i}].criterion_key",
                f"{s.criterion_key!r} is not a criterion of template version {template.version}",
            )
        if s.criterion_key in by_key:
            raise DomainError(f"scores[{i}].criterion_key", f"{s.criterion_key!r} scored twice")
        if not 1 <= s.score <= criterion.scale_max:
            raise DomainError(f"scores[{i}].score", f"must be between 1 and {criterion.scale_max}")
        by_key[s.criterion_key] = (i, s)
    missing = [c.key for c in template.criteria if c.key not in by_key]
    if missing:
        raise DomainError(
            "scores", f"every criterion must be scored; missing: {', '.join(missing)}"
        )
    checked = tuple(
        CriterionScore(
            criterion_key=c.key,
            label=c.label,
            score=by_key[c.key][1].score,
            scale_max=c.scale_max,
            weight=c.weight,
            note=by_key[c.key][1].note,
        )
        for c in template.criteria
    )
    return ScoreSheet(
        scores=checked,
        weighted_total=sum((s.weight * s.score for s in checked), Decimal(0)),
        weighted_max=sum((s.weight * s.scale_max for s in checked), Decimal(0)),
    )


def check_outcome(
    outcome: Outcome, *, motivation: str | None, revisit_date: date | None, today: date
) -> None:
    """What each outcome requires: a rejection a motivation, a pause a future revisit date."""
    if outcome is Outcome.REJECTED and not (motivation and motivation.strip()):
        raise DomainError("motivation", "a rejection needs a motivation to the idea giver")
    if outcome is Outcome.PAUSED:
        if revisit_date is None:
            raise DomainError("revisit_date", "a pause needs the date the idea is revisited")
        if revisit_date <= today:
            raise DomainError("revisit_date", "must be in the future")
    elif revisit_date is not None:
        raise DomainError("revisit_date", "only a paused idea has a revisit date")


def check_screenable(status: str) -> None:
    """An idea is screened only while it waits in the screening queue."""
    if status != "in_screening":
        raise InvalidTransition(f"the idea is {status}; only an idea in_screening can be screened")


def serves(
    *,
    person_id: str,
    roles: Collection[str],
    administrations: Collection[str],
    idea_administration: str,
    idea_ambassador: str | None,
) -> bool:
    """Whether a person screens and develops ideas of ``idea_administration``.

    ``administrations`` are those the person serves: as the appointed ambassador, or as a
    member (ambassador or innovation group) working in that administration.
    """
    if not {"ambassador", "innovation_group"} & set(roles):
        return False
    return idea_ambassador == person_id or idea_administration in administrations


def check_serves(
    *,
    person_id: str,
    roles: Collection[str],
    administrations: Collection[str],
    idea_administration: str,
    idea_ambassador: str | None,
) -> None:
    """Raise :class:`Forbidden` unless the person serves the idea's administration."""
    if not serves(
        person_id=person_id,
        roles=roles,
        administrations=administrations,
        idea_administration=idea_administration,
        idea_ambassador=idea_ambassador,
    ):
        raise Forbidden("only the ambassador or innovation group of the idea's administration")


def pick_route(
    *,
    requested_org_unit: str | None,
    idea_org_unit: str,
    idea_administration: str,
    org_unit_administration: str | None,
) -> str:
    """The org unit whose manager decides a quick win: as asked, else the idea's own unit."""
    unit = requested_org_unit or idea_org_unit
    if requested_org_unit is not None:
        if org_unit_administration is None:
            raise DomainError("routed_to_org_unit_id", "no such org unit in this tenant")
        if org_unit_administration != idea_administration:
            raise DomainError(
                "routed_to_org_unit_id", "must be an org unit of the idea's administration"
            )
    return unit
