"""Evaluation settings (``IDEABANK_*`` environment variables)."""

from ideabank_infra.settings import ServiceSettings
from pydantic import Field


class EvaluationSettings(ServiceSettings):
    """Settings of the evaluation service."""

    service_name: str = "evaluation"
    port: int = 8002
    # Off the path a person waits on: when busy, a quarter second more for a fuller batch
    # (see ``ideabank_infra.pull``) cuts this consumer's CPU per event under load by a third
    # to a half.
    consumer_batch_size: int = 1000
    consumer_linger_seconds: float = Field(default=0.25, ge=0)
    revisit_poll_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often the revisit timer looks for paused ideas whose date has come",
    )
    revisit_batch_size: int = Field(
        default=500, ge=1, description="Paused ideas resumed per transaction"
    )
