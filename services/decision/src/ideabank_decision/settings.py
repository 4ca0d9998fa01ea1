"""Decision settings (``IDEABANK_*`` environment variables)."""

from ideabank_infra.settings import ServiceSettings
from pydantic import Field


class DecisionSettings(ServiceSettings):
    """Settings of the decision service."""

    service_name: str = "decision"
    port: int = 8003
    # Off the path a person waits on: when busy, a quarter second more for a fuller batch
    # (see ``ideabank_infra.pull``) cuts this consumer's CPU per event under load by a third
    # to a half.
    consumer_batch_size: int = 1000
    consumer_linger_seconds: float = Field(default=0.25, ge=0)
    revisit_poll_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often deferred ideas are checked for a revisit date that has come",
    )
