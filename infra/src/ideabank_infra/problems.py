"""RFC 9457 problem details for every error a client can cause, naming the field at fault."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://ideabank.se/problems"


class Problem(Exception):
    """An error to report as problem details; raise it from handlers and domain adapters."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        kind: str | None = None,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind or title.lower().replace(" ", "-")
        self.field = field
        self.errors = errors
        self.headers = headers

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The JSON body of this problem."""
        out: dict[str, Any] = {
            "type": f"{PROBLEM_BASE}/{self.kind}",
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            out["detail"] = self.detail
        if instance:
            out["instance"] = instance
        if self.field:
            out["field"] = self.field
        if self.errors:
            out["errors"] = self.errors
        return out


def not_found(what: str = "resource") -> Problem:
    """404 — also what a caller of another tenant gets, so existence does not leak."""
    return Problem(404, "Not found", f"No such {what}", kind="not-found")


def forbidden(detail: str) -> Problem:
    """403 — the caller lacks the role or scope for this action."""
    return Problem(403, "Forbidden", detail, kind="forbidden")


def conflict(detail: str, field: str | None = None) -> Problem:
    """409 — the action does not fit the current state (e.g. an illegal transition)."""
    return Problem(409, "Conflict", detail, kind="invalid-transition", field=field)


def invalid(field: str, detail: str) -> Problem:
    """422 — a field's value is not acceptable."""
    return Problem(
        422,
        "Invalid request",
        f"{field}: {detail}",
        kind="validation",
        field=field,
        errors=[{"field": field, "message": detail}],
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[0] if loc else "body")


def _response(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(
        problem.body(str(request.url.path)),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def install(app: FastAPI) -> None:
    """Register the problem-details handlers on an app."""
    # Imported here so that apps without a database (the portal) do not load SQLAlchemy.
    from sqlalchemy.exc import DataError

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return _response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_path(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        problem = Problem(
            422,
            "Invalid request",
            f"{first['field']}: {first['message']}",
            kind="validation",
            field=str(first["field"]),
            errors=errors,
        )
        return _response(problem, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not found",
            405: "Method not allowed",
        }
        problem = Problem(
            exc.status_code,
            titles.get(exc.status_code, "Error"),
            str(exc.detail) if exc.detail else None,
            headers=getattr(exc, "headers", None),
        )
        return _response(problem, request)

    # A number or text the database cannot hold (e.g. an id beyond 64 bits) is the
    # client's error, whichever route it came through.
    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        problem = Problem(
            422, "Invalid request", "a value is out of range", kind="validation", field="value"
        )
        return _response(problem, request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        problem = Problem(500, "Internal error", "The error was logged.", kind="internal")
        return _response(problem, request)
