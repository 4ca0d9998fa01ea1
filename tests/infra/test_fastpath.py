"""Fast paths: a route's plain case answered ahead of FastAPI's router, everything else
left to the route, errors answered by the app's own handlers, metrics under the route."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from ideabank_infra import metrics, problems
from ideabank_infra.app import MetricsMiddleware
from ideabank_infra.fastpath import FastAnswer, FastPaths, FastRequest, FastRoute
from ideabank_infra.problems import Problem
from pydantic import BaseModel


class Note(BaseModel):
    text: str
    mode: str = "fast"


def make_app() -> tuple[FastAPI, dict[str, int]]:
    app = FastAPI()
    problems.install(app)
    calls = {"route": 0, "fast": 0}
    router = APIRouter(prefix="/v1")  # an included router, as the services declare theirs

    @router.post("/notes", status_code=201)
    async def note(body: Note) -> dict[str, Any]:
        calls["route"] += 1
        return {"text": body.text, "by": "route"}

    app.include_router(router)

    async def fast(request: FastRequest) -> FastAnswer:
        calls["fast"] += 1
        if not request.is_json():
            return None
        try:
            body = Note.model_validate_json(request.body)
        except ValueError:
            return None
        if body.mode == "route":
            return None
        if body.mode == "refuse":
            raise Problem(409, "Conflict", "refused", field="text")
        if body.mode == "boom":
            raise RuntimeError("unexpected")
        return 201, {"text": body.text, "by": "fast", "é": "ö"}

    app.add_middleware(FastPaths, owner=app, routes=[FastRoute("POST", "/v1/notes", fast)])
    app.add_middleware(MetricsMiddleware)
    return app, calls


async def post(app: FastAPI, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/v1/notes", **kwargs)


def counted(status: str) -> float:
    return metrics.HTTP_REQUESTS.labels("POST", "/v1/notes", status)._value.get()


async def test_the_plain_case_never_reaches_the_router() -> None:
    app, calls = make_app()
    before = counted("201")
    resp = await post(app, json={"text": "hej"})
    assert resp.status_code == 201
    assert resp.headers["content-type"] == "application/json"
    assert int(resp.headers["content-length"]) == len(resp.content)
    assert resp.json() == {"text": "hej", "by": "fast", "é": "ö"}
    assert calls == {"route": 0, "fast": 1}
    # Counted under the route's template, as the router would have named it.
    assert counted("201") == before + 1
    timed = metrics.HTTP_SECONDS.labels("POST", "/v1/notes")
    timed_before = sum(b.get() for b in timed._buckets)
    await post(app, json={"text": "igen"})  # the middleware's labelled children, kept
    assert counted("201") == before + 2
    assert sum(b.get() for b in timed._buckets) == timed_before + 1


async def test_anything_else_goes_on_to_the_route_with_its_body() -> None:
    app, calls = make_app()
    resp = await post(app, json={"text": "långt " * 20_000, "mode": "route"})
    assert resp.status_code == 201 and resp.json()["by"] == "route"
    assert resp.json()["text"].startswith("långt långt")
    # The route's own validation problem, naming the field.
    resp = await post(app, json={"mode": "fast"})
    assert resp.status_code == 422 and resp.json()["field"] == "text"
    resp = await post(app, content=b'{"text": "x"}', headers={"Content-Type": "text/plain"})
    assert resp.status_code == 422
    assert calls == {"route": 1, "fast": 3}


async def test_errors_are_answered_by_the_apps_handlers() -> None:
    app, _ = make_app()
    before = counted("409")
    resp = await post(app, json={"text": "x", "mode": "refuse"})
    assert resp.status_code == 409
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["field"] == "text" and resp.json()["instance"] == "/v1/notes"
    assert counted("409") == before + 1
    resp = await post(app, json={"text": "x", "mode": "boom"})
    assert resp.status_code == 500
    assert resp.json()["type"].endswith("/internal")


async def test_other_paths_and_methods_are_untouched() -> None:
    app, calls = make_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/v1/notes")).status_code == 405
        assert (await client.post("/v1/notes/", json={"text": "x"})).status_code in (307, 404)
    assert calls["fast"] == 0
