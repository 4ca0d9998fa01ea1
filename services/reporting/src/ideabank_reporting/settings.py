"""Reporting settings (``IDEABANK_*`` environment variables)."""

from ideabank_infra.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    """Settings of the reporting service."""

    service_name: str = "reporting"
    port: int = 8005
    # Read models gain most from big batches: one transaction and one bulk write per table.
    consumer_batch_size: int = 500
    # How often the cache of each tenant-year's medians is brought up to date.
    median_refresh_seconds: float = 2.0
