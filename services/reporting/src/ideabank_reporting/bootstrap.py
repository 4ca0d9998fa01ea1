"""Builds the reporting app: the one place that wires settings, tables, routes and consumers."""

from __future__ import annotations

from fastapi import FastAPI
from ideabank_infra.app import create_service_app
from ideabank_infra.clock import Clock

from ideabank_reporting.api import router
from ideabank_reporting.consumers import subscriptions
from ideabank_reporting.settings import ReportingSettings
from ideabank_reporting.store import metadata
from ideabank_reporting.timers import refresh_medians


def create_app(settings: ReportingSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The reporting service's ASGI app."""
    settings = settings or ReportingSettings()
    return create_service_app(
        settings,
        title="Ideabank reporting",
        metadata=[metadata],
        routers=[router],
        subscriptions=subscriptions,
        background=[refresh_medians],
        clock=clock,
    )
