"""Intake settings (``IDEABANK_*`` environment variables)."""

from ideabank_infra.settings import ServiceSettings
from pydantic import Field


class IntakeSettings(ServiceSettings):
    """Settings of the intake service."""

    service_name: str = "intake"
    port: int = 8001
    duplicate_threshold: float = Field(
        default=0.3, ge=0, le=1, description="Lowest Jaccard similarity shown as a likely duplicate"
    )
    duplicate_limit: int = Field(default=5, ge=0, description="Most duplicate hints per idea")
    public_rate_limit: int = Field(
        default=5, ge=1, description="Public-channel submissions per client per window"
    )
    public_rate_window_seconds: float = Field(
        default=600.0, gt=0, description="Window in which public_rate_limit submissions refill"
    )
    public_max_body_bytes: int = Field(
        default=16 * 1024, ge=256, description="Largest public-channel request body"
    )
    public_trust_forwarded_for: bool = Field(
        default=False,
        description="Take the client address from X-Forwarded-For (only behind a trusted proxy)",
    )
