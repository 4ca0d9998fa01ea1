"""Unit tests of the domain: how events move a fact, and the figures' arithmetic."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from ideabank_reporting.domain.figures import (
    OrgUnitNode,
    cell,
    headcount_of,
    median,
    ratio,
    subtree,
    target_for,
)
from ideabank_reporting.domain.projection import (
    STATUS_AFTER,
    IdeaFact,
    apply_idea_event,
    event_time,
    parse_time,
)


def d(day: str) -> datetime:
    return datetime.fromisoformat(day)


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], None), ([3], 3), ([1, 9, 2], 2), ([4, 1, 3, 2], 2.5), ([0.5, 0.25], 0.375)],
)
def test_median(values, expected) -> None:
    assert median(values) == expected


def test_ratio_and_cells() -> None:
    assert ratio(1, 3) == 0.3333 and ratio(1, 0) is None and ratio(None, 2) is None
    assert cell(0.1, 4).as_dict() == {"value": None, "suppressed": True}
    assert cell(0.1, 5).as_dict() == {"value": 0.1, "suppressed": False}


UNITS = {
    "a": OrgUnitNode("a", None, "a", "administration"),
    "d": OrgUnitNode("d", "a", "a", "department"),
    "u1": OrgUnitNode("u1", "d", "a", "unit"),
    "u2": OrgUnitNode("u2", "d", "a", "unit"),
    "b": OrgUnitNode("b", None, "b", "administration"),
}


def test_headcount_counts_nobody_twice() -> None:
    # Set on the administration: its units' own counts do not add to it.
    assert headcount_of(UNITS, {"a": 100, "u1": 30, "b": 10}, None) == 110
    # Set only on units: they add up through the tree.
    assert headcount_of(UNITS, {"u1": 30, "u2": 20}, "a") == 50
    assert headcount_of(UNITS, {"u1": 30, "u2": 20}, "d") == 50
    assert headcount_of(UNITS, {"u1": 30}, "b") == 0
    # A unit the tree does not know yet still counts for the tenant.
    assert headcount_of(UNITS, {"zz": 7}, None) == 7
    assert subtree(UNITS, "d") == {"d", "u1", "u2"}


def test_target_prefers_the_administrations_own() -> None:
    targets = {"": Decimal("0.5"), "b": Decimal("1")}
    assert target_for(targets, "b") == Decimal("1")
    assert target_for(targets, "a") == Decimal("0.5")
    assert target_for({}, None) is None


def test_event_time_prefers_the_events_own_timestamp() -> None:
    env = d("2030-01-01T00:00:00")
    assert event_time(
        "screening.completed", {"completed_at": "2025-01-02T10:00:00+01:00"}, env
    ) == d("2025-01-02T09:00:00")
    assert event_time("decision.made", {"decided_at": "2025-01-03T00:00:00Z"}, env) == d(
        "2025-01-03"
    )
    assert event_time("idea.commented", {}, env) == env
    assert parse_time(None) is None


def _walk(events: list[tuple[str, dict, str]]) -> tuple[IdeaFact, list]:
    fact = IdeaFact(tenant="t", idea_id="i")
    entries = []
    for n, (kind, data, day) in enumerate(events):
        entries.append(apply_idea_event(fact, kind, data, d(day), f"e{n}"))
    return fact, entries


def test_a_full_lifecycle_sets_stages_status_and_lead_times() -> None:
    fact, entries = _walk(
        [
            (
                "idea.submitted",
                {
                    "org_unit_id": "u1",
                    "administration_id": "a",
                    "category": "c",
                    "channel": "staff_portal",
                    "title": "T",
                    "actor_id": "p",
                },
                "2025-01-01",
            ),
            ("idea.assigned", {"ambassador_id": "amb"}, "2025-01-02"),
            (
                "screening.completed",
                {"outcome": "paused", "actor_id": "amb", "motivation": "Vänta"},
                "2025-01-04",
            ),
            ("idea.resumed", {"from_status": "paused", "to_status": "in_screening"}, "2025-02-01"),
            ("screening.completed", {"outcome": "quick_win", "actor_id": "amb"}, "2025-02-03"),
            ("decision.escalated", {"actor_id": "m", "motivation": "Större"}, "2025-02-05"),
            ("decision.made", {"outcome": "deferred", "motivation": "Senare"}, "2025-02-10"),
            (
                "idea.resumed",
                {"from_status": "deferred", "to_status": "awaiting_decision"},
                "2025-03-01",
            ),
            ("decision.made", {"outcome": "approved"}, "2025-03-05"),
            ("plan.anchored", {}, "2025-03-06"),
            ("trial.recorded", {"verdict": "adopt"}, "2025-03-20"),
            ("idea.implemented", {"summary": "Klart"}, "2025-04-05"),
            (
                "idea.evaluated",
                {
                    "realised_benefit": {"amount": "12.345", "currency": "SEK"},
                    "realised_hours": "3.5",
                    "lessons_learned": "L",
                },
                "2025-05-05",
            ),
            ("idea.offered", {"network": "n"}, "2025-05-06"),
            ("idea.unknown", {}, "2025-05-07"),
        ]
    )
    assert entries[-1] is None
    assert [e.status for e in entries[:-1]] == [
        "submitted",
        "in_screening",
        "paused",
        "in_screening",
        "quick_win",
        "awaiting_decision",
        "deferred",
        "awaiting_decision",
        "approved",
        "in_implementation",
        "in_implementation",
        "implemented",
        "evaluated",
        "spread",
    ]
    assert (fact.year, fact.month, fact.times_paused, fact.times_deferred) == (2025, 1, 1, 1)
    assert fact.screening_outcome == "paused" and fact.decision_outcome == "approved"
    assert fact.feedback_days == 3.0 and fact.motivated
    assert fact.stage_in_screening == 2.0  # the first screening counts
    assert fact.stage_awaiting_decision == 7.0  # from the quick win to the first decision
    assert fact.stage_approved_to_implemented == 31.0
    assert (fact.benefit_money, fact.benefit_hours) == (1235, 350)
    assert entries[5].motivation == "Större" and entries[10].outcome == "adopt"
    assert fact.events_seen == 14 and entries[13].position == 14


def test_withdrawn_and_merged_ideas() -> None:
    fact, _ = _walk(
        [
            ("idea.submitted", {"channel": "deviation"}, "2025-01-01"),
            ("idea.withdrawn", {"actor_id": "p"}, "2025-01-02"),
        ]
    )
    assert fact.status == "withdrawn" and fact.feedback_at is None and fact.category == ""
    fact, _ = _walk(
        [
            ("idea.submitted", {}, "2025-01-01"),
            ("idea.merged", {"into_idea_id": "j", "motivation": "Dubblett"}, "2025-01-03"),
        ]
    )
    assert fact.status == "merged" and fact.feedback_days == 2.0 and fact.motivated


def test_every_status_changing_event_is_known() -> None:
    assert set(STATUS_AFTER.values()) <= {
        "submitted",
        "in_screening",
        "awaiting_decision",
        "in_implementation",
        "implemented",
        "evaluated",
        "spread",
        "withdrawn",
        "merged",
    }
