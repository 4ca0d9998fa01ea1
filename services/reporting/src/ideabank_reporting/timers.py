"""Reporting's background work: keeping the cache of each tenant-year's medians current."""

from __future__ import annotations

import asyncio
import logging

from ideabank_infra.app import Runtime

from ideabank_reporting.settings import ReportingSettings
from ideabank_reporting.store import refresh_year_medians

log = logging.getLogger(__name__)


async def refresh_medians(runtime: Runtime) -> None:
    """Forever: recompute the medians of tenant-years whose facts changed since last time.

    Queries never wait for this: a tenant-year that is out of date is computed from the
    facts at query time. The cache spares the network comparison and the whole-year KPIs
    from reading every idea of every member.
    """
    settings = runtime.settings
    interval = settings.median_refresh_seconds if isinstance(settings, ReportingSettings) else 2.0
    while True:
        try:
            # A full round means more may be due: go on at once (each round awaits the
            # database, so others get their turn).
            limit = 50
            while await refresh_year_medians(runtime.db, limit=limit) == limit:
                pass
        except Exception:
            log.exception("refreshing the year medians failed; trying again next round")
        await asyncio.sleep(interval)
