"""Unit tests of the plain-Python domain: templates, feedback rules, digests, webhooks."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest
from ideabank_notification.domain.announcements import AnnouncementError, check_approvable
from ideabank_notification.domain.feedback import Audience, feedback_for, status_after
from ideabank_notification.domain.preferences import Mode, next_digest_at
from ideabank_notification.domain.reminders import reminder_key, waiting_for
from ideabank_notification.domain.templates import (
    LANGUAGES,
    TEMPLATES,
    language_or_default,
    render,
    render_digest,
)
from ideabank_notification.domain.webhooks import (
    WebhookError,
    backoff_seconds,
    matches,
    new_secret,
    signature,
    signature_header,
    validate_filters,
    validate_url,
)
from standardwebhooks import Webhook


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_in_every_language(template: str) -> None:
    assert set(TEMPLATES[template]) == set(LANGUAGES)
    fields = {
        f
        for subject, body in TEMPLATES[template].values()
        for _, f, _, _ in string.Formatter().parse(subject + body)
        if f
    }
    # The same placeholders in every translation, so no language silently drops the title.
    for subject, body in TEMPLATES[template].values():
        own = {f for _, f, _, _ in string.Formatter().parse(subject + body) if f}
        assert own == fields
    texts = {TEMPLATES[template][lang] for lang in LANGUAGES}
    assert len(texts) == len(LANGUAGES), "each language has its own text"


def test_render_appends_motivation_and_revisit_date() -> None:
    params = {"title": "T", "motivation": "M", "revisit_date": "2026-09-01"}
    sv = render("screening_paused", "sv", params)
    assert "Motivering: M" in sv.body and "2026-09-01" in sv.body and sv.language == "sv"
    assert "Begrunnelse: M" in render("screening_paused", "nb", params).body
    assert "Begrundelse: M" in render("screening_paused", "da", params).body
    assert "Motivation: M" in render("screening_paused", "en", params).body
    assert "Motiv" not in render("screening_paused", "sv", {"title": "T"}).body
    assert render("received", "fi", {"title": "T"}).language == "sv"
    assert language_or_default(None, "nb") == "nb"
    digest = render_digest("en", [("A", "a"), ("B", "b")])
    assert digest.subject.endswith("(2)") and "• A" in digest.body


@pytest.mark.parametrize("outcome", ["rejected", "paused", "quick_win", "in_development"])
def test_screening_outcomes_tell_the_followers(outcome: str) -> None:
    data = {"outcome": outcome, "motivation": "why", "routed_to_person_id": "m1"}
    notices = feedback_for("screening.completed", data)
    assert notices[0].template == f"screening_{outcome}"
    assert notices[0].audience is Audience.FOLLOWERS
    assert notices[0].params["motivation"] == "why"
    assert notices[0].template in TEMPLATES
    if outcome == "quick_win":
        assert notices[1].person_ids == ("m1",)
    assert status_after("screening.completed", data) == outcome


@pytest.mark.parametrize("outcome", ["approved", "rejected", "deferred"])
def test_decisions_tell_the_followers(outcome: str) -> None:
    data = {"outcome": outcome, "motivation": "why", "implementer_id": "i1"}
    notices = feedback_for("decision.made", data)
    assert notices[0].template == f"decision_{outcome}" in TEMPLATES
    assert (len(notices) == 2) == (outcome == "approved")


def test_every_feedback_template_exists_and_statuses_follow() -> None:
    keys = [
        "idea.submitted",
        "idea.assigned",
        "idea.resumed",
        "decision_basis.submitted",
        "plan.anchored",
        "idea.implemented",
        "idea.evaluated",
        "idea.offered",
        "idea.merged",
        "idea.commented",
    ]
    data = {"ambassador_id": "a", "actor_id": "x", "to_status": "in_screening", "body": "b"}
    for key in keys:
        for notice in feedback_for(key, data):
            assert notice.template in TEMPLATES
    assert feedback_for("idea.commented", data)[0].exclude == ("x",)
    assert feedback_for("trial.recorded", data) == []
    assert status_after("idea.resumed", data) == "in_screening"
    assert status_after("plan.anchored", {}) == "in_implementation"
    assert status_after("idea.commented", {}) is None


def test_digest_times() -> None:
    monday_9 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert next_digest_at(Mode.DAILY, monday_9, hour=7, weekday=0) == datetime(
        2026, 3, 3, 7, tzinfo=UTC
    )
    assert next_digest_at(Mode.DAILY, monday_9.replace(hour=6), hour=7, weekday=0) == datetime(
        2026, 3, 2, 7, tzinfo=UTC
    )
    assert next_digest_at(Mode.WEEKLY, monday_9, hour=7, weekday=0) == datetime(
        2026, 3, 9, 7, tzinfo=UTC
    )
    assert next_digest_at(Mode.WEEKLY, monday_9, hour=7, weekday=4) == datetime(
        2026, 3, 6, 7, tzinfo=UTC
    )
    assert next_digest_at(Mode.IMMEDIATE, monday_9, hour=7, weekday=0) == monday_9


def test_reminder_rules() -> None:
    assert waiting_for("in_screening") == "screening"
    assert waiting_for("quick_win") == waiting_for("awaiting_decision") == "decision"
    assert waiting_for("approved") is None
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert reminder_key("screening", "A", since) != reminder_key(
        "screening", "A", since.replace(day=2)
    )


def test_signatures_follow_standard_webhooks() -> None:
    secret = new_secret()
    body = b'{"id":"e1"}'
    sig = signature(secret, "e1", 1_700_000_000, body)
    assert sig.startswith("v1,")
    # The reference implementation computes the same signature.
    assert (
        Webhook(secret).sign("e1", datetime.fromtimestamp(1_700_000_000, UTC), body.decode()) == sig
    )
    two = signature_header([secret, new_secret()], "e1", 1, body)
    assert len(two.split(" ")) == 2 and two.split(" ")[0] == signature(secret, "e1", 1, body)


def test_filters_and_urls() -> None:
    assert matches(["idea.*"], "idea.submitted")
    assert not matches(["idea.*"], "decision.made")
    assert matches(["idea.*", "decision.made"], "decision.made")
    assert matches(["*"], "plan.anchored")
    assert not matches(["*"], "person.registered")  # contact details never leave
    assert validate_url(" https://x.org/h ") == "https://x.org/h"
    for bad in ("ftp://x.org", "javascript:alert(1)", "http://", "x.org"):
        with pytest.raises(WebhookError) as err:
            validate_url(bad)
        assert err.value.field == "url"
    with pytest.raises(WebhookError):
        validate_filters([])
    with pytest.raises(WebhookError):
        validate_filters(["idea submitted"])
    assert [backoff_seconds(1, n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]


def test_only_a_draft_is_approved() -> None:
    check_approvable("draft")
    for status in ("sending", "sent"):
        with pytest.raises(AnnouncementError):
            check_approvable(status)
