"""Benefit realisation (gevinstrealisering): indicators, measurements and corrective actions.

A measurement is off target when it falls short of the target, in the indicator's
direction, by more than ``tolerance_percent`` of the target (of the baseline when the
target is zero). Off target past the tolerance, the measurement must bring its corrective
action (korrigerende tiltak) in the same request: the idea's follow-up then never holds
a deviation nobody answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ideabank_decision.domain.errors import InvalidInput

INCREASE = "increase"
DECREASE = "decrease"
DEFAULT_TOLERANCE = Decimal(10)


@dataclass(frozen=True)
class Indicator:
    """What is followed up, from where to where."""

    baseline: Decimal
    target: Decimal
    direction: str
    tolerance_percent: Decimal = DEFAULT_TOLERANCE


def check_indicator(indicator: Indicator) -> None:
    """The target must lie in the indicator's direction from the baseline."""
    if indicator.direction not in (INCREASE, DECREASE):
        raise InvalidInput("direction must be increase or decrease", "direction")
    if indicator.tolerance_percent < 0 or indicator.tolerance_percent > 100:
        raise InvalidInput("tolerance must be between 0 and 100 percent", "tolerance_percent")
    if indicator.direction == INCREASE and indicator.target <= indicator.baseline:
        raise InvalidInput("an increasing indicator needs a target above the baseline", "target")
    if indicator.direction == DECREASE and indicator.target >= indicator.baseline:
        raise InvalidInput("a decreasing indicator needs a target below the baseline", "target")


def shortfall(indicator: Indicator, value: Decimal) -> Decimal:
    """How far ``value`` falls short of the target (zero or less when on or past it)."""
    if indicator.direction == INCREASE:
        return indicator.target - value
    return value - indicator.target


def is_off_target(indicator: Indicator, value: Decimal) -> bool:
    """True when ``value`` misses the target by more than the tolerance."""
    reference = abs(indicator.target) or abs(indicator.baseline)
    allowed = reference * indicator.tolerance_percent / Decimal(100)
    return shortfall(indicator, value) > allowed


def check_measurement(
    indicator: Indicator, *, value: Decimal, corrective_action: str | None
) -> bool:
    """Whether the value is off target; off target without a corrective action is refused."""
    off = is_off_target(indicator, value)
    if off and not (corrective_action and corrective_action.strip()):
        raise InvalidInput(
            "the value is off target beyond the tolerance: state the corrective action",
            "corrective_action",
        )
    return off


def check_trial_dates(start: date, end: date) -> None:
    """A trial action ends on or after the day it starts."""
    if end < start:
        raise InvalidInput("the trial ends before it starts", "end")
