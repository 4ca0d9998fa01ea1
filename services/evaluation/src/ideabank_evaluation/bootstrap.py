"""Builds the evaluation app: the one place that wires settings, tables, routes and consumers."""

from __future__ import annotations

from fastapi import FastAPI
from ideabank_infra.app import create_service_app
from ideabank_infra.clock import Clock

from ideabank_evaluation.api import router
from ideabank_evaluation.consumers import subscriptions
from ideabank_evaluation.settings import EvaluationSettings
from ideabank_evaluation.store import metadata
from ideabank_evaluation.timers import revisit_timer


def create_app(settings: EvaluationSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The evaluation service's ASGI app."""
    settings = settings or EvaluationSettings()
    return create_service_app(
        settings,
        title="Ideabank evaluation",
        metadata=[metadata],
        routers=[router],
        subscriptions=subscriptions,
        background=[revisit_timer],
        clock=clock,
    )
