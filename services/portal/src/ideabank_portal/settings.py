"""The portal's configuration, from ``IDEABANK_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_TENANTS = {
    "boras": "Borås Stad",
    "malung-salen": "Malung-Sälens kommun",
    "motala": "Motala kommun",
    "pitea": "Piteå kommun",
    "vetlanda": "Vetlanda kommun",
}


class PortalSettings(BaseSettings):
    """Where the portal finds the services and how people sign in."""

    model_config = SettingsConfigDict(env_prefix="IDEABANK_", extra="ignore")

    intake_url: str = "http://127.0.0.1:8001"
    evaluation_url: str = "http://127.0.0.1:8002"
    decision_url: str = "http://127.0.0.1:8003"
    notification_url: str = "http://127.0.0.1:8004"
    reporting_url: str = "http://127.0.0.1:8005"
    service_timeout_seconds: float = 10.0

    data_dir: Path = Path("data")
    issuer_dir: Path | None = Field(
        default=None, description="Folder of the local issuer (embedded default sign-in)"
    )
    jwks_url: str | None = Field(
        default=None, description="JWKS that signs session tokens; default: the local issuer's"
    )
    jwt_issuer: str = "ideabank-local"
    jwt_audience: str = "ideabank"
    demo_tenants: dict[str, str] = Field(
        default_factory=lambda: dict(DEMO_TENANTS),
        description="Tenants offered by the demo sign-in: slug → display name",
    )
    session_hours: int = 8

    oidc_issuer: str | None = Field(default=None, description="OIDC issuer URL (production)")
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid profile email"
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Where browsers reach the portal"
    )
    cookie_secure: bool = Field(
        default=False, description="Send cookies only over HTTPS (set in production)"
    )

    @property
    def oidc_enabled(self) -> bool:
        """Production sign-in: on when the identity provider is configured."""
        return bool(self.oidc_issuer and self.oidc_client_id)

    def service_urls(self) -> dict[str, str]:
        """Base URL of each service."""
        return {
            "intake": self.intake_url,
            "evaluation": self.evaluation_url,
            "decision": self.decision_url,
            "notification": self.notification_url,
            "reporting": self.reporting_url,
        }

    def resolved_issuer_dir(self) -> Path:
        """The local issuer's folder (default: under the data folder)."""
        return self.issuer_dir or self.data_dir / "issuer"

    def resolved_jwks_url(self) -> str:
        """JWKS that verifies the session token."""
        if self.jwks_url:
            return self.jwks_url
        return (self.resolved_issuer_dir() / "jwks.json").resolve().as_uri()
