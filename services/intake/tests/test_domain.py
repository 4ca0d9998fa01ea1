"""Intake's rules, exhaustively over every status (no database, no broker)."""

from __future__ import annotations

import pytest
from ideabank_contracts.events.idea import IdeaStatus
from ideabank_intake.domain import ideas as rules
from ideabank_intake.domain import similarity
from ideabank_intake.domain.ideas import IdeaState, RuleBroken
from ideabank_intake.ratelimit import TokenBuckets, retry_after

ALL = rules.ALL_STATUSES


def test_the_statuses_are_the_contracts_statuses() -> None:
    assert set(ALL) == {s.value for s in IdeaStatus}


@pytest.mark.parametrize("status", ALL)
@pytest.mark.parametrize("screened", [False, True])
def test_edit_only_before_screening(status: str, screened: bool) -> None:
    allowed = status in ("submitted", "in_screening") and not screened
    if allowed:
        rules.check_edit(IdeaState(status, screened))
    else:
        with pytest.raises(RuleBroken):
            rules.check_edit(IdeaState(status, screened))


@pytest.mark.parametrize("status", ALL)
def test_withdraw_only_before_a_decision(status: str) -> None:
    before_decision = {
        "submitted",
        "in_screening",
        "paused",
        "quick_win",
        "in_development",
        "awaiting_decision",
        "deferred",
    }
    if status in before_decision:
        rules.check_withdraw(IdeaState(status))
    else:
        with pytest.raises(RuleBroken):
            rules.check_withdraw(IdeaState(status))


@pytest.mark.parametrize("dup", ALL)
@pytest.mark.parametrize("target", ALL)
def test_merge(dup: str, target: str) -> None:
    ok = dup in ("submitted", "in_screening", "paused") and target not in ("withdrawn", "merged")
    if ok:
        rules.check_merge(IdeaState(dup), IdeaState(target), same_idea=False)
    else:
        with pytest.raises(RuleBroken):
            rules.check_merge(IdeaState(dup), IdeaState(target), same_idea=False)
    with pytest.raises(RuleBroken) as caught:
        rules.check_merge(IdeaState(dup), IdeaState(target), same_idea=True)
    assert caught.value.field == "into_idea_id"


@pytest.mark.parametrize("status", ALL)
def test_only_submitted_ideas_wait_for_assignment(status: str) -> None:
    assert rules.needs_assignment(IdeaState(status)) is (status == "submitted")


CASES = [
    ("screening.completed", {"outcome": "rejected"}, "rejected", True),
    ("screening.completed", {"outcome": "paused"}, "paused", True),
    ("screening.completed", {"outcome": "quick_win"}, "quick_win", True),
    ("screening.completed", {"outcome": "in_development"}, "in_development", True),
    ("decision_basis.submitted", {}, "awaiting_decision", True),
    ("decision.escalated", {}, "awaiting_decision", True),
    ("decision.made", {"outcome": "approved"}, "approved", True),
    ("decision.made", {"outcome": "rejected"}, "rejected", True),
    ("decision.made", {"outcome": "deferred"}, "deferred", True),
    ("plan.anchored", {}, "in_implementation", True),
    ("idea.implemented", {}, "implemented", True),
    ("idea.evaluated", {}, "evaluated", True),
    ("idea.offered", {}, "spread", True),
]


@pytest.mark.parametrize(("event", "data", "status", "screened"), CASES)
@pytest.mark.parametrize("before", ALL)
def test_status_projection(
    event: str, data: dict, status: str, screened: bool, before: str
) -> None:
    after = rules.project_status(IdeaState(before), event, **data)
    if before in ("withdrawn", "merged"):
        assert after == IdeaState(before)
    else:
        assert after == IdeaState(status, screened)


def test_resume_keeps_the_screened_mark_and_unknown_events_change_nothing() -> None:
    paused = IdeaState("paused", True)
    assert rules.project_status(paused, "idea.resumed", to_status="in_screening") == IdeaState(
        "in_screening", True
    )
    deferred = IdeaState("deferred", True)
    assert rules.project_status(
        deferred, "idea.resumed", to_status="awaiting_decision"
    ) == IdeaState("awaiting_decision", True)
    assert rules.project_status(paused, "idea.commented") == paused
    assert rules.project_status(paused, "screening.completed", outcome="bogus") == paused
    assert set(rules.STATUS_EVENTS) == {c[0] for c in CASES} | {"idea.resumed"}


def test_tokens_normalise_words() -> None:
    words = similarity.tokens("Parkeringen vid skolan", "Parkeringar och cyklar", None)
    assert "parkering" in words and "och" not in words
    assert similarity.tokens("") == frozenset()
    many = " ".join("ord" + "".join(chr(97 + int(d)) for d in f"{i:04d}") for i in range(500))
    assert len(similarity.tokens(many)) == similarity.MAX_TOKENS


@pytest.mark.parametrize(
    ("word", "stemmed"),
    [
        ("parkeringarna", "parkering"),  # "arna", not the shorter "na"
        ("cyklarna", "cykl"),
        ("skolan", "skolan"),  # no ending listed: unchanged
        ("bussar", "buss"),
        ("tåget", "tåget"),  # stripping "et" would leave three letters
        ("hemmet", "hemm"),
        ("ningar", "ning"),  # all of it is an ending; the shorter "ar" leaves four letters
        ("tryggheten", "trygg"),
        ("tryggheterna", "trygghet"),  # "erna" is longer than "heter"'s match would be
        ("idé", "idé"),
    ],
)
def test_stem_strips_the_longest_ending_that_leaves_four_letters(word: str, stemmed: str) -> None:
    assert similarity.stem(word) == stemmed


def test_best_matches_scores_and_orders() -> None:
    assert similarity.jaccard(2, 4, 4) == pytest.approx(2 / 6)
    assert similarity.jaccard(0, 0, 0) == 0.0
    hits = similarity.best_matches(
        4, [("a", 1, 10), ("b", 3, 4), ("c", 3, 4), ("d", 2, 2)], threshold=0.3, limit=2
    )
    assert hits == [("b", 0.6), ("c", 0.6)]


def test_token_bucket() -> None:
    buckets = TokenBuckets(capacity=2, window=10)
    assert buckets.take("a", 0.0) == 0.0
    assert buckets.take("a", 0.0) == 0.0
    wait = buckets.take("a", 0.0)
    assert wait == pytest.approx(5.0)
    assert buckets.take("b", 0.0) == 0.0
    assert buckets.take("a", 5.0) == 0.0
    assert retry_after(0.2) == "1" and retry_after(4.1) == "5"
    small = TokenBuckets(capacity=1, window=1, max_clients=2)
    for i in range(10):
        assert small.take(str(i), float(i * 10)) == 0.0
    assert len(small._buckets) <= 2
