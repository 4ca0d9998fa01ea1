"""Builds the portal app: the one place that wires settings, clients, sign-in and pages."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from ideabank_infra.auth import JwksVerifier

from ideabank_portal.auth import DemoDirectory, OidcClient
from ideabank_portal.pages import install_error_pages, router
from ideabank_portal.settings import PortalSettings

__all__ = ["PortalSettings", "create_app"]


def create_app(
    settings: PortalSettings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """The portal's ASGI app; ``transport`` lets tests stand in for the services."""
    settings = settings or PortalSettings()
    http = httpx.AsyncClient(timeout=settings.service_timeout_seconds, transport=transport)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await http.aclose()

    app = FastAPI(title="Ideabank portal", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.http = http
    app.state.log = logging.getLogger("ideabank_portal")
    app.state.verifier = JwksVerifier(
        settings.resolved_jwks_url(), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    app.state.directory = DemoDirectory(settings, http)
    app.state.oidc = OidcClient(settings, http) if settings.oidc_enabled else None
    app.state.org_unit_cache = {}

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "portal"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    app.mount(
        "/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"
    )
    app.include_router(router)
    install_error_pages(app)
    return app
