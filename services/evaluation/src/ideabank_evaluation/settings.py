"""Evaluation settings (``IDEABANK_*`` environment variables)."""

from ideabank_infra.settings import BackgroundServiceSettings
from pydantic import Field


class EvaluationSettings(BackgroundServiceSettings):
    """Settings of the evaluation service."""

    service_name: str = "evaluation"
    port: int = 8002
    revisit_poll_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often the revisit timer looks for paused ideas whose date has come",
    )
    revisit_batch_size: int = Field(
        default=500, ge=1, description="Paused ideas resumed per transaction"
    )
