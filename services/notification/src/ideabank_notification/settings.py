"""Notification settings (``IDEABANK_*`` environment variables)."""

from ideabank_infra.settings import BackgroundServiceSettings
from pydantic import Field


class NotificationSettings(BackgroundServiceSettings):
    """Settings of the notification service."""

    service_name: str = "notification"
    port: int = 8004

    smtp_host: str | None = Field(default=None, description="SMTP server; no email when unset")
    smtp_port: int = 25
    smtp_from: str = "idebanken@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 10.0
    email_max_attempts: int = 5
    email_retry_seconds: float = 60.0

    digest_hour: int = Field(default=7, ge=0, le=23, description="UTC hour digests go out")
    digest_weekday: int = Field(default=0, ge=0, le=6, description="Weekly digest day, 0=Mon")
    worker_poll_seconds: float = Field(
        default=1.0, description="How often the delivery, reminder and webhook workers look"
    )

    timer_poll_seconds: float = Field(
        default=60.0, description="How often reminders and digests are looked for"
    )
    screening_reminder_days: float = 14.0
    decision_reminder_days: float = 30.0

    announcement_chunk_size: int = Field(default=2000, ge=100, le=20000)

    webhook_backoff_base_seconds: float = 1.0
    webhook_max_attempts: int = 6
    webhook_disable_after: int = Field(
        default=5, description="Consecutive failed deliveries after which an endpoint is disabled"
    )
    webhook_timeout_seconds: float = 10.0
    webhook_secret_grace_seconds: float = Field(
        default=86400.0, description="How long a rotated-out secret still signs deliveries"
    )
    webhook_concurrency: int = 20
