"""Which consumers linger for a fuller batch when busy: those whose readers wait on nothing
within a second, never reporting's (its KPIs are what the pipeline benchmark times) nor
intake's."""

from __future__ import annotations

import pytest
from ideabank_decision.settings import DecisionSettings
from ideabank_evaluation.settings import EvaluationSettings
from ideabank_infra.settings import ServiceSettings
from ideabank_intake.settings import IntakeSettings
from ideabank_notification.settings import NotificationSettings
from ideabank_reporting.settings import ReportingSettings


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDEABANK_CONSUMER_LINGER_SECONDS", raising=False)
    monkeypatch.delenv("IDEABANK_CONSUMER_BATCH_SIZE", raising=False)


@pytest.mark.parametrize("kind", [EvaluationSettings, DecisionSettings, NotificationSettings])
def test_background_consumers_linger_for_batches_of_a_thousand(
    kind: type[ServiceSettings],
) -> None:
    settings = kind()
    assert settings.consumer_linger_seconds == 0.25
    assert settings.consumer_batch_size == 1000


@pytest.mark.parametrize("kind", [ReportingSettings, IntakeSettings, ServiceSettings])
def test_the_others_never_linger(kind: type[ServiceSettings]) -> None:
    assert kind().consumer_linger_seconds == 0.0


def test_the_linger_is_set_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEABANK_CONSUMER_LINGER_SECONDS", "0")
    assert NotificationSettings().consumer_linger_seconds == 0.0
    monkeypatch.setenv("IDEABANK_CONSUMER_LINGER_SECONDS", "-1")
    with pytest.raises(ValueError, match="consumer_linger_seconds"):
        NotificationSettings()
