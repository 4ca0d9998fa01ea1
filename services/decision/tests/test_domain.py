"""The domain rules alone: every action from every status, deciders, deferrals, benefits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from ideabank_decision.domain import Forbidden, IllegalTransition, InvalidInput
from ideabank_decision.domain import benefits as bf
from ideabank_decision.domain import lifecycle as lc

ALL = sorted(lc.BEFORE_DECISION | lc.DECIDED | {lc.WITHDRAWN, lc.MERGED})
TODAY = date(2026, 3, 2)
PARENTS = {"adm": None, "dep": "adm", "u1": "dep", "u2": "dep", "other": "adm"}


@pytest.mark.parametrize("action", sorted(lc.ACTIONS))
@pytest.mark.parametrize("status", ALL)
def test_every_action_from_every_status(action: str, status: str) -> None:
    allowed, to = lc.ACTIONS[action]
    if status in allowed:
        assert lc.check_action(action, status) == to
    else:
        with pytest.raises(IllegalTransition):
            lc.check_action(action, status)


def test_implementing_before_a_plan_says_so() -> None:
    with pytest.raises(IllegalTransition, match="no plan"):
        lc.check_action("implement", lc.APPROVED)


@pytest.mark.parametrize("status", ALL)
def test_only_quick_wins_and_awaiting_ideas_are_decided(status: str) -> None:
    d = lc.Decision(outcome="rejected", motivation="Nej")
    if status in lc.DECIDABLE:
        assert (
            lc.check_decision(d, status=status, today=TODAY, implementer_known=False) == "rejected"
        )
    else:
        with pytest.raises(IllegalTransition):
            lc.check_decision(d, status=status, today=TODAY, implementer_known=False)


@pytest.mark.parametrize(
    ("decision", "known", "field"),
    [
        (lc.Decision("approved", implementer_id="p"), True, "kind"),
        (lc.Decision("approved", kind="direct"), True, "implementer_id"),
        (lc.Decision("approved", kind="direct", implementer_id="p"), False, "implementer_id"),
        (lc.Decision("rejected"), False, "motivation"),
        (lc.Decision("rejected", motivation="  "), False, "motivation"),
        (lc.Decision("deferred"), False, "revisit_date"),
        (lc.Decision("deferred", revisit_date=TODAY), False, "revisit_date"),
        (lc.Decision("maybe"), False, "outcome"),
    ],
)
def test_each_outcome_needs_its_fields(decision: lc.Decision, known: bool, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        lc.check_decision(decision, status=lc.QUICK_WIN, today=TODAY, implementer_known=known)
    assert err.value.field == field


def test_a_future_deferral_and_a_full_approval_pass() -> None:
    ok = lc.Decision("deferred", revisit_date=date(2026, 3, 3))
    assert (
        lc.check_decision(ok, status=lc.QUICK_WIN, today=TODAY, implementer_known=False)
        == "deferred"
    )
    ok = lc.Decision("approved", kind="project", implementer_id="p")
    assert (
        lc.check_decision(ok, status=lc.AWAITING_DECISION, today=TODAY, implementer_known=True)
        == "approved"
    )


def test_org_tree_membership() -> None:
    assert lc.is_within("u1", "u1", PARENTS)
    assert lc.is_within("u1", "dep", PARENTS) and lc.is_within("u1", "adm", PARENTS)
    assert not lc.is_within("u1", "u2", PARENTS) and not lc.is_within(None, "adm", PARENTS)
    assert not lc.is_within("x", "adm", {"x": "y", "y": "x"})  # a cycle ends


def _decider(status: str, roles: set[str], unit: str | None, admin: str | None = "adm") -> str:
    return lc.decider_for(
        status=status,
        roles=frozenset(roles),
        caller_org_unit=unit,
        caller_administration=admin,
        routed_org_unit="u1",
        administration_id="adm",
        parents=PARENTS,
    )


def test_who_decides() -> None:
    assert _decider(lc.QUICK_WIN, {"unit_manager"}, "u1") == "unit_manager"
    assert _decider(lc.QUICK_WIN, {"department_manager"}, "dep") == "department_manager"
    assert _decider(lc.AWAITING_DECISION, {"management"}, "adm") == "management"
    for status, roles, unit, admin in (
        (lc.QUICK_WIN, {"unit_manager"}, "u2", "adm"),
        (lc.QUICK_WIN, {"management"}, "adm", "adm"),
        (lc.QUICK_WIN, {"unit_manager"}, None, None),
        (lc.AWAITING_DECISION, {"unit_manager"}, "u1", "adm"),
        (lc.AWAITING_DECISION, {"management"}, "x", "other-adm"),
    ):
        with pytest.raises(Forbidden):
            _decider(status, roles, unit, admin)


def test_escalation_rules() -> None:
    kw = {"routed_org_unit": "u1", "parents": PARENTS}
    lc.check_escalation(
        status=lc.QUICK_WIN, roles=frozenset({"unit_manager"}), caller_org_unit="u1", **kw
    )
    with pytest.raises(IllegalTransition):
        lc.check_escalation(
            status=lc.AWAITING_DECISION,
            roles=frozenset({"unit_manager"}),
            caller_org_unit="u1",
            **kw,
        )
    with pytest.raises(Forbidden):
        lc.check_escalation(
            status=lc.QUICK_WIN, roles=frozenset({"management"}), caller_org_unit="u1", **kw
        )
    with pytest.raises(Forbidden):
        lc.check_escalation(
            status=lc.QUICK_WIN, roles=frozenset({"unit_manager"}), caller_org_unit="u2", **kw
        )


@pytest.mark.parametrize(
    ("decided_from", "back"),
    [
        (lc.QUICK_WIN, lc.QUICK_WIN),
        (lc.AWAITING_DECISION, lc.AWAITING_DECISION),
        (None, lc.AWAITING_DECISION),
    ],
)
def test_deferred_ideas_return_to_their_queue(decided_from: str | None, back: str) -> None:
    assert lc.resume_status(decided_from) == back


DOWN = bf.Indicator(baseline=Decimal(45), target=Decimal(35), direction="decrease")
UP = bf.Indicator(
    baseline=Decimal(60), target=Decimal(80), direction="increase", tolerance_percent=Decimal(5)
)
ZERO = bf.Indicator(baseline=Decimal(10), target=Decimal(0), direction="decrease")


@pytest.mark.parametrize(
    ("indicator", "value", "off"),
    [
        (DOWN, "35", False),
        (DOWN, "30", False),
        (DOWN, "38.5", False),
        (DOWN, "38.6", True),
        (UP, "80", False),
        (UP, "76", False),
        (UP, "75.9", True),
        (UP, "90", False),
        (ZERO, "1", False),
        (ZERO, "1.1", True),
    ],
)
def test_off_target_beyond_tolerance(indicator: bf.Indicator, value: str, off: bool) -> None:
    assert bf.is_off_target(indicator, Decimal(value)) is off


def test_off_target_needs_a_corrective_action() -> None:
    with pytest.raises(InvalidInput) as err:
        bf.check_measurement(DOWN, value=Decimal(44), corrective_action=None)
    assert err.value.field == "corrective_action"
    assert bf.check_measurement(DOWN, value=Decimal(44), corrective_action="Utbilda") is True
    assert bf.check_measurement(DOWN, value=Decimal(36), corrective_action=None) is False


@pytest.mark.parametrize(
    ("indicator", "field"),
    [
        (bf.Indicator(Decimal(1), Decimal(2), "decrease"), "target"),
        (bf.Indicator(Decimal(2), Decimal(1), "increase"), "target"),
        (bf.Indicator(Decimal(2), Decimal(1), "sideways"), "direction"),
        (bf.Indicator(Decimal(2), Decimal(1), "decrease", Decimal(-1)), "tolerance_percent"),
    ],
)
def test_indicator_rules(indicator: bf.Indicator, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        bf.check_indicator(indicator)
    assert err.value.field == field


def test_trial_dates() -> None:
    bf.check_trial_dates(TODAY, TODAY)
    with pytest.raises(InvalidInput) as err:
        bf.check_trial_dates(TODAY, date(2026, 3, 1))
    assert err.value.field == "end"
