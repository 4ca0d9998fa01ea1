"""Subject naming: only safe single tokens may reach a NATS subject."""

from __future__ import annotations

import pytest
from ideabank_contracts.subjects import (
    check_token,
    dead_letter_subject,
    deviation_subject,
    subject_for,
)

BAD_TOKENS = ["boras.x", "*", ">", "", "Boras", "BORAS", "bo ras", "boras\n", "-boras", "_x"]


def test_subject_for_builds_the_documented_subject() -> None:
    assert subject_for("boras", "idea", "submitted") == "ideas.v1.boras.idea.submitted"
    assert subject_for("malung-salen", "decision_basis", "submitted") == (
        "ideas.v1.malung-salen.decision_basis.submitted"
    )


@pytest.mark.parametrize("token", BAD_TOKENS)
@pytest.mark.parametrize("position", ["tenant", "aggregate", "event"])
def test_subject_for_rejects_bad_tokens(token: str, position: str) -> None:
    parts = {"tenant": "boras", "aggregate": "idea", "event": "submitted", position: token}
    with pytest.raises(ValueError, match=position):
        subject_for(parts["tenant"], parts["aggregate"], parts["event"])


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_other_subjects_reject_bad_tokens(token: str) -> None:
    with pytest.raises(ValueError):
        deviation_subject(token)
    with pytest.raises(ValueError):
        dead_letter_subject(token, "ideas.v1.boras.idea.submitted")
    with pytest.raises(ValueError):
        check_token(token, "tenant")


def test_deviation_and_dead_letter_subjects() -> None:
    assert deviation_subject("pitea") == "deviations.v1.pitea.deviation.registered"
    assert dead_letter_subject("reporting", "ideas.v1.boras.idea.submitted") == (
        "deadletter.reporting.ideas.v1.boras.idea.submitted"
    )
