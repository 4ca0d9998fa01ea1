"""Decision settings (``IDEABANK_*`` environment variables)."""

from ideabank_infra.settings import BackgroundServiceSettings
from pydantic import Field


class DecisionSettings(BackgroundServiceSettings):
    """Settings of the decision service."""

    service_name: str = "decision"
    port: int = 8003
    revisit_poll_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often deferred ideas are checked for a revisit date that has come",
    )
