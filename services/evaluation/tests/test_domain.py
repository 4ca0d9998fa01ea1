"""Unit tests of the domain rules: template checks, scores, outcomes, access, statuses."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from ideabank_evaluation.domain import lifecycle
from ideabank_evaluation.domain.decision_basis import check_complete, merge_draft
from ideabank_evaluation.domain.errors import DomainError, Forbidden, InvalidTransition
from ideabank_evaluation.domain.screening import (
    Outcome,
    ScoreInput,
    check_outcome,
    check_screenable,
    check_serves,
    pick_route,
    score_sheet,
    serves,
)
from ideabank_evaluation.domain.template import (
    Criterion,
    Template,
    check_criteria,
    default_template,
)

TODAY = date(2026, 3, 2)
STATUSES = [
    "submitted",
    "in_screening",
    "rejected",
    "paused",
    "quick_win",
    "in_development",
    "awaiting_decision",
    "approved",
    "deferred",
    "in_implementation",
    "implemented",
    "evaluated",
    "spread",
    "withdrawn",
    "merged",
]


def scores(*values: int) -> list[ScoreInput]:
    keys = [c.key for c in default_template().criteria]
    return [ScoreInput(k, v) for k, v in zip(keys, values, strict=False)]


# --- template ---------------------------------------------------------------------------


def test_default_template_is_the_four_criteria_of_the_spec() -> None:
    t = default_template()
    assert t.version == 1
    assert [c.key for c in t.criteria] == [
        "mission",
        "reach",
        "public_benefit",
        "effect_vs_resources",
    ]
    assert t.criteria[0].label == "inom förvaltningens uppdrag"
    assert t.criteria[3].label == "effekter i förhållande till resurser – kort och lång sikt"
    assert all(c.scale_max == 5 and c.weight == 1 for c in t.criteria)
    check_criteria(t.criteria)


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ([], "criteria"),
        ([Criterion("a", "A"), Criterion("a", "B")], "criteria[1].key"),
        ([Criterion("A b", "A")], "criteria[0].key"),
        ([Criterion("a", " ")], "criteria[0].label"),
        ([Criterion("a", "A", scale_max=1)], "criteria[0].scale_max"),
        ([Criterion("a", "A", scale_max=11)], "criteria[0].scale_max"),
        ([Criterion("a", "A", weight=Decimal(0))], "criteria[0].weight"),
        ([Criterion("a", "A"), Criterion("b", "B", weight=Decimal(-2))], "criteria[1].weight"),
        ([Criterion("a", "A", weight=Decimal("NaN"))], "criteria[0].weight"),
        ([Criterion(f"k{i}", "K") for i in range(21)], "criteria"),
    ],
)
def test_invalid_criteria_name_the_field(criteria: list[Criterion], field: str) -> None:
    with pytest.raises(DomainError) as err:
        check_criteria(criteria)
    assert err.value.field == field


@pytest.mark.parametrize("scale", [2, 10])
def test_scale_bounds_are_allowed(scale: int) -> None:
    check_criteria([Criterion("a", "A", scale_max=scale, weight=Decimal("0.1"))])


# --- scores -----------------------------------------------------------------------------


def test_weighted_total_with_equal_weights() -> None:
    sheet = score_sheet(default_template(), scores(4, 3, 5, 2))
    assert sheet.weighted_total == 14 and sheet.weighted_max == 20
    assert sheet.weighted_share == Decimal("0.7000")


def test_weighted_total_with_weights_and_scales_in_template_order() -> None:
    t = Template(
        version=3,
        criteria=(
            Criterion("a", "A", scale_max=3, weight=Decimal(2)),
            Criterion("b", "B", scale_max=10, weight=Decimal("0.5")),
        ),
    )
    sheet = score_sheet(t, [ScoreInput("b", 7, "ok"), ScoreInput("a", 3)])
    assert [s.criterion_key for s in sheet.scores] == ["a", "b"]
    assert sheet.scores[1].note == "ok" and sheet.scores[1].label == "B"
    assert sheet.weighted_total == Decimal("9.5")  # 2·3 + 0.5·7
    assert sheet.weighted_max == Decimal(11)  # 2·3 + 0.5·10
    assert sheet.weighted_share == Decimal("0.8636")


@pytest.mark.parametrize(
    ("given", "field"),
    [
        (scores(4, 3, 6, 2), "scores[2].score"),
        (scores(0, 3, 5, 2), "scores[0].score"),
        (scores(4, 3, 5, -1), "scores[3].score"),
        (scores(4, 3, 5), "scores"),
        ([], "scores"),
        ([*scores(4, 3, 5, 2), ScoreInput("reach", 1)], "scores[4].criterion_key"),
        ([ScoreInput("beauty", 3), *scores(4, 3, 5, 2)], "scores[0].criterion_key"),
    ],
)
def test_bad_scores_name_the_field(given: list[ScoreInput], field: str) -> None:
    with pytest.raises(DomainError) as err:
        score_sheet(default_template(), given)
    assert err.value.field == field


@pytest.mark.parametrize("value", [1, 5])
def test_scale_ends_are_valid_scores(value: int) -> None:
    score_sheet(default_template(), scores(value, value, value, value))


# --- outcomes ---------------------------------------------------------------------------


@pytest.mark.parametrize("motivation", [None, "", "  \n"])
def test_rejection_needs_a_motivation(motivation: str | None) -> None:
    with pytest.raises(DomainError) as err:
        check_outcome(Outcome.REJECTED, motivation=motivation, revisit_date=None, today=TODAY)
    assert err.value.field == "motivation"


@pytest.mark.parametrize("revisit", [None, TODAY, TODAY - timedelta(days=1)])
def test_pause_needs_a_future_revisit_date(revisit: date | None) -> None:
    with pytest.raises(DomainError) as err:
        check_outcome(Outcome.PAUSED, motivation="later", revisit_date=revisit, today=TODAY)
    assert err.value.field == "revisit_date"


@pytest.mark.parametrize("outcome", [Outcome.REJECTED, Outcome.QUICK_WIN, Outcome.IN_DEVELOPMENT])
def test_only_a_pause_has_a_revisit_date(outcome: Outcome) -> None:
    with pytest.raises(DomainError) as err:
        check_outcome(outcome, motivation="m", revisit_date=TODAY + timedelta(1), today=TODAY)
    assert err.value.field == "revisit_date"


def test_valid_outcomes() -> None:
    check_outcome(Outcome.REJECTED, motivation="Nej, för att…", revisit_date=None, today=TODAY)
    check_outcome(Outcome.PAUSED, motivation=None, revisit_date=TODAY + timedelta(1), today=TODAY)
    check_outcome(Outcome.QUICK_WIN, motivation=None, revisit_date=None, today=TODAY)
    check_outcome(Outcome.IN_DEVELOPMENT, motivation=None, revisit_date=None, today=TODAY)


@pytest.mark.parametrize("status", STATUSES)
def test_only_ideas_in_screening_are_screened(status: str) -> None:
    if status == "in_screening":
        check_screenable(status)
    else:
        with pytest.raises(InvalidTransition):
            check_screenable(status)


# --- who screens ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "served", "ambassador", "allowed"),
    [
        ({"ambassador"}, {"adm"}, None, True),
        ({"innovation_group"}, {"adm"}, None, True),
        ({"ambassador"}, {"adm2"}, None, False),
        ({"ambassador"}, set(), "me", True),  # the idea's assigned ambassador
        ({"employee"}, {"adm"}, "me", False),  # served on paper, but not in the role
        ({"management", "tenant_admin"}, {"adm"}, None, False),
    ],
)
def test_who_serves_an_administration(
    roles: set[str], served: set[str], ambassador: str | None, allowed: bool
) -> None:
    args = dict(
        person_id="me",
        roles=roles,
        administrations=served,
        idea_administration="adm",
        idea_ambassador=ambassador,
    )
    assert serves(**args) is allowed  # type: ignore[arg-type]
    if not allowed:
        with pytest.raises(Forbidden):
            check_serves(**args)  # type: ignore[arg-type]


def test_quick_win_route() -> None:
    kw = dict(idea_org_unit="unit", idea_administration="adm")
    assert pick_route(requested_org_unit=None, org_unit_administration=None, **kw) == "unit"
    assert pick_route(requested_org_unit="dep", org_unit_administration="adm", **kw) == "dep"
    for admin in (None, "adm2"):
        with pytest.raises(DomainError) as err:
            pick_route(requested_org_unit="x", org_unit_administration=admin, **kw)
        assert err.value.field == "routed_to_org_unit_id"


# --- statuses evaluation follows ----------------------------------------------------------


@pytest.mark.parametrize("status", STATUSES)
def test_assignment_queues_only_waiting_ideas(status: str) -> None:
    expected = "in_screening" if status == "submitted" else status
    assert lifecycle.after_assigned(status) == expected


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("ending", ["withdrawn", "merged"])
def test_withdrawal_and_merge_end_any_idea_once(status: str, ending: str) -> None:
    expected = status if status in ("withdrawn", "merged") else ending
    assert lifecycle.after_withdrawn_or_merged(status, ending) == expected


@pytest.mark.parametrize("status", STATUSES)
def test_only_paused_ideas_fall_due(status: str) -> None:
    due = lifecycle.is_due(status=status, revisit_date=TODAY, today=TODAY)
    assert due is (status == "paused")


def test_a_pause_falls_due_on_its_date_not_before() -> None:
    tomorrow = TODAY + timedelta(days=1)
    assert not lifecycle.is_due(status="paused", revisit_date=tomorrow, today=TODAY)
    assert lifecycle.is_due(status="paused", revisit_date=tomorrow, today=tomorrow)
    assert lifecycle.is_due(status="paused", revisit_date=TODAY, today=tomorrow)
    assert not lifecycle.is_due(status="paused", revisit_date=None, today=tomorrow)


@pytest.mark.parametrize("status", STATUSES)
def test_decision_basis_only_in_development(status: str) -> None:
    if status == "in_development":
        lifecycle.check_in_development(status)
    else:
        with pytest.raises(InvalidTransition):
            lifecycle.check_in_development(status)


# --- decision basis -----------------------------------------------------------------------


def test_draft_merge_keeps_what_was_not_sent() -> None:
    merged = merge_draft({"description": "a", "risks": "r"}, {"risks": None, "unknown": 1})
    assert merged["description"] == "a" and merged["risks"] is None
    assert "unknown" not in merged


@pytest.mark.parametrize(
    ("missing", "field"),
    [
        ("description", "description"),
        ("effects_short_term", "effects_short_term"),
        ("effects_long_term", "effects_long_term"),
    ],
)
def test_submit_needs_description_and_effects(missing: str, field: str) -> None:
    basis = {"description": "d", "effects_short_term": "s", "effects_long_term": "l"}
    check_complete(basis)
    with pytest.raises(DomainError) as err:
        check_complete({**basis, missing: " "})
    assert err.value.field == field


@pytest.mark.parametrize(
    ("direction", "baseline", "target", "ok"),
    [
        ("decrease", "45", "10", True),
        ("decrease", "45", "60", False),
        ("increase", "1", "2", True),
        ("increase", "2", "2", False),
        ("increase", None, "2", True),
    ],
)
def test_indicator_target_points_the_right_way(
    direction: str, baseline: str | None, target: str, ok: bool
) -> None:
    basis = {
        "description": "d",
        "effects_short_term": "s",
        "effects_long_term": "l",
        "proposed_indicators": [
            {
                "name": "n",
                "unit": "u",
                "direction": direction,
                "baseline": baseline,
                "target": target,
            }
        ],
    }
    if ok:
        check_complete(basis)
    else:
        with pytest.raises(DomainError) as err:
            check_complete(basis)
        assert err.value.field == "proposed_indicators[0].target"
