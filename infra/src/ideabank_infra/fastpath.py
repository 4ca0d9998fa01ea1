"""Fast paths: a hot route's plain case answered without FastAPI's request machinery.

FastAPI's routing, dependency solving, exception middleware and response serialisation cost
about a third of a millisecond a request here, as much as the plain case of the busiest
route does itself. A :class:`FastRoute` answers that plain case directly: its handler gets
the request's body and headers and either answers or returns ``None``, and then the request
goes on, body and all, to the FastAPI route, which answers exactly as it always does.

So a handler returns ``None`` for anything out of the ordinary (no or an unknown token, a
missing role, a body that does not validate, a content type that is not JSON) *before* it
changes anything; FastAPI then gives the usual 401, 403 or 422 problem. Once the handler
has begun its work it answers or raises: an exception goes to the app's exception
handlers, as it would from the route. The route stays declared in FastAPI, which documents
it in the OpenAPI schema and serves every request the fast path passes on.

The layer sits inside the metrics and trace middlewares, so a request answered here is
counted and traced under its route template like any other.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic_core
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The answer of a fast handler: the status and a JSON-able body, or ``None`` to pass the
#: request on to the FastAPI route.
FastAnswer = tuple[int, Any] | None
FastHandler = Callable[["FastRequest"], Awaitable[FastAnswer]]


@dataclass(frozen=True)
class FastRoute:
    """``handler`` answers the plain case of ``method path`` (an exact path, no parameters)."""

    method: str
    path: str
    handler: FastHandler


@dataclass(frozen=True)
class FastRequest:
    """What a fast handler gets: the app, the ASGI scope and the whole body."""

    app: FastAPI
    scope: Scope
    body: bytes

    def header(self, name: bytes) -> str | None:
        """The first value of header ``name`` (lower case), or None."""
        for key, value in self.scope["headers"]:
            if key == name:
                return str(value.decode("latin-1"))
        return None

    def is_json(self) -> bool:
        """True when the body is declared as JSON (``application/json``, any parameters)."""
        content_type = self.header(b"content-type") or ""
        return content_type.split(";", 1)[0].strip().lower() == "application/json"


class FastPaths:
    """ASGI middleware serving :class:`FastRoute` handlers ahead of FastAPI's router."""

    def __init__(self, app: ASGIApp, *, owner: FastAPI, routes: list[FastRoute]) -> None:
        self.app = app
        self.owner = owner
        self.handlers: Mapping[tuple[str, str], FastHandler] = {
            (r.method.upper(), r.path): r.handler for r in routes
        }
        self._routes: dict[tuple[str, str], APIRoute | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = None
        if scope["type"] == "http" and not scope.get("root_path"):
            handler = self.handlers.get((scope["method"], scope["path"]))
        if handler is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        scope["route"] = self._route(scope["method"], scope["path"])
        try:
            answer = await handler(FastRequest(self.owner, scope, body))
        except Exception as exc:
            response = await self._handled(exc, scope, receive)
            if response is None:
                raise
            await response(scope, receive, send)
            return
        if answer is None:
            await self.app(scope, _replay(body, receive), send)
            return
        status, content = answer
        payload = pydantic_core.to_json(content)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-length", str(len(payload)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _route(self, method: str, path: str) -> APIRoute | None:
        """The FastAPI route of ``method path``, for metrics and span names."""
        key = (method, path)
        if key not in self._routes:
            self._routes[key] = next(
                (
                    r
                    for r in _api_routes(self.owner.routes)
                    if r.path == path and method in (r.methods or ())
                ),
                None,
            )
        return self._routes[key]

    async def _handled(self, exc: Exception, scope: Scope, receive: Receive) -> Any:
        """The app's answer to ``exc``, as its exception handlers give it; None for a 500."""
        for kind in type(exc).__mro__:
            if kind is Exception:
                break  # unexpected: the server error middleware outside logs and answers
            handler = self.owner.exception_handlers.get(kind)
            if handler is not None:
                response = handler(Request(scope, receive), exc)
                return await response if inspect.isawaitable(response) else response
        return None


def _api_routes(routes: Sequence[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, those of included routers too (FastAPI 0.165 keeps them nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from _api_routes(nested.routes)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that gives ``body`` first, then what the client sends next."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
