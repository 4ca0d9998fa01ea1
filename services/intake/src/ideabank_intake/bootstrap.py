"""Builds the intake app: the one place that wires settings, tables, routes and consumers."""

from __future__ import annotations

from fastapi import FastAPI
from ideabank_infra.app import create_service_app
from ideabank_infra.clock import Clock

from ideabank_intake.api import fast_routes, ideas_router, public_router, tenancy_router
from ideabank_intake.consumers import subscriptions
from ideabank_intake.settings import IntakeSettings
from ideabank_intake.store import metadata


def create_app(settings: IntakeSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The intake service's ASGI app."""
    settings = settings or IntakeSettings()
    return create_service_app(
        settings,
        title="Ideabank intake",
        metadata=[metadata],
        routers=[ideas_router, public_router, tenancy_router],
        subscriptions=subscriptions,
        clock=clock,
        fast_routes=fast_routes,
    )
