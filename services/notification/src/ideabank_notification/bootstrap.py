"""Builds the notification app: the one place that wires settings, tables, routes, consumers
and background workers."""

from __future__ import annotations

from fastapi import FastAPI
from ideabank_infra.app import create_service_app
from ideabank_infra.clock import Clock

from ideabank_notification.api import router
from ideabank_notification.consumers import subscriptions
from ideabank_notification.settings import NotificationSettings
from ideabank_notification.store import metadata
from ideabank_notification.workers import BACKGROUND


def create_app(settings: NotificationSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The notification service's ASGI app."""
    settings = settings or NotificationSettings()
    return create_service_app(
        settings,
        title="Ideabank notification",
        metadata=[metadata],
        routers=[router],
        subscriptions=subscriptions,
        background=BACKGROUND,
        clock=clock,
    )
