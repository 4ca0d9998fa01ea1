"""Builds the decision app: the one place that wires settings, tables, routes and consumers."""

from __future__ import annotations

from fastapi import FastAPI
from ideabank_infra.app import create_service_app
from ideabank_infra.clock import Clock

from ideabank_decision.api import install_problems, router
from ideabank_decision.consumers import subscriptions
from ideabank_decision.settings import DecisionSettings
from ideabank_decision.store import metadata
from ideabank_decision.timers import revisit_deferred


def create_app(settings: DecisionSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The decision service's ASGI app."""
    settings = settings or DecisionSettings()
    app = create_service_app(
        settings,
        title="Ideabank decision",
        metadata=[metadata],
        routers=[router],
        subscriptions=subscriptions,
        background=[revisit_deferred],
        clock=clock,
    )
    install_problems(app)
    return app
