"""The portal's only way to the services: their public HTTP APIs, with the person's token.

Each call either returns the decoded JSON or raises one of three errors the pages know how
to show: :class:`ApiProblem` (the service refused: a 4xx problem naming the field),
:class:`ServiceDown` (unreachable, timed out or failing) and :class:`Coming` (the service
does not offer this endpoint yet).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

log = logging.getLogger(__name__)

SERVICES = ("intake", "evaluation", "decision", "notification", "reporting")


class ServiceDown(Exception):
    """A service could not answer; pages show a friendly notice instead of an error page."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason


class Coming(ServiceDown):
    """The service has no such endpoint (yet); pages show a 'coming' state."""


class ApiProblem(Exception):
    """An RFC 9457 problem a service answered with (4xx)."""

    def __init__(self, status: int, title: str, detail: str | None, field: str | None) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail or title
        self.field = field


def _route_missing(resp: httpx.Response) -> bool:
    # A route the service lacks answers 404 "Not Found" (Starlette's own words) or 405;
    # a missing resource answers the service's own problem ("No such idea").
    if resp.status_code == 405:
        return True
    if resp.status_code != 404:
        return False
    try:
        body = resp.json()
    except ValueError:
        return True
    return isinstance(body, dict) and body.get("detail") in ("Not Found", None)


class Services:
    """Calls the five services as one signed-in person (or anonymously)."""

    def __init__(self, http: httpx.AsyncClient, urls: Mapping[str, str], token: str | None):
        self.http = http
        self.urls = urls
        self.token = token

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def send(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The raw response of one call; transport failures and 5xx become ServiceDown."""
        url = self.urls[service].rstrip("/") + path
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            resp = await self.http.request(
                method, url, params=clean, json=json, headers={**self._headers(), **(headers or {})}
            )
        except httpx.HTTPError as exc:
            log.warning("%s %s %s failed: %s", service, method, path, exc)
            raise ServiceDown(service, type(exc).__name__) from exc
        if resp.status_code >= 500:
            raise ServiceDown(service, f"HTTP {resp.status_code}")
        if _route_missing(resp):
            raise Coming(service, f"{method} {path} not offered")
        return resp

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Decoded JSON of one call; a 4xx answer raises ApiProblem."""
        resp = await self.send(service, method, path, params=params, json=json, headers=headers)
        if resp.status_code >= 400:
            raise _problem(resp)
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise ServiceDown(service, "answer was not JSON") from exc

    # intake ------------------------------------------------------------------------------
    async def org_units(self) -> list[dict[str, Any]]:
        """The tenant's org units."""
        return list(await self.call("intake", "GET", "/v1/org-units"))

    async def person(self, person_id: str) -> dict[str, Any]:
        """A person of the tenant."""
        return dict(await self.call("intake", "GET", f"/v1/people/{person_id}"))

    async def tenancy(self) -> dict[str, Any]:
        """The whole tenancy (tenant admin)."""
        return dict(await self.call("intake", "GET", "/v1/admin/tenancy"))

    async def put_tenancy(self, document: dict[str, Any]) -> dict[str, Any]:
        """Apply part of the tenancy (tenant admin)."""
        return dict(await self.call("intake", "PUT", "/v1/admin/tenancy", json=document))

    async def ideas(self, **filters: Any) -> list[dict[str, Any]]:
        """Ideas of the tenant, filtered (status, org_unit, mine)."""
        return _items(await self.call("intake", "GET", "/v1/ideas", params=filters))

    async def idea(self, idea_id: str) -> dict[str, Any]:
        """One idea."""
        return dict(await self.call("intake", "GET", f"/v1/ideas/{idea_id}"))

    async def submit_idea(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register a new idea; the answer carries likely duplicates."""
        return dict(await self.call("intake", "POST", "/v1/ideas", json=body))

    async def revise_idea(self, idea_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Edit an idea before screening."""
        return dict(await self.call("intake", "PATCH", f"/v1/ideas/{idea_id}", json=body))

    async def withdraw_idea(self, idea_id: str, reason: str | None) -> Any:
        """Withdraw one's own idea."""
        body = {"reason": reason} if reason else {}
        return await self.call("intake", "POST", f"/v1/ideas/{idea_id}/withdraw", json=body)

    async def comments(self, idea_id: str) -> list[dict[str, Any]]:
        """Comments on an idea."""
        return _items(await self.call("intake", "GET", f"/v1/ideas/{idea_id}/comments"))

    async def comment(self, idea_id: str, body: str) -> Any:
        """Comment on an idea."""
        return await self.call(
            "intake", "POST", f"/v1/ideas/{idea_id}/comments", json={"body": body}
        )

    async def support(self, idea_id: str) -> Any:
        """Support an idea."""
        return await self.call("intake", "POST", f"/v1/ideas/{idea_id}/supports", json={})

    async def merge(self, idea_id: str, into_idea_id: str, motivation: str | None) -> Any:
        """Merge a duplicate into another idea (ambassador)."""
        body = {"into_idea_id": into_idea_id, "motivation": motivation}
        return await self.call("intake", "POST", f"/v1/ideas/{idea_id}/merge", json=body)

    async def submit_public(
        self, tenant: str, body: dict[str, Any], client_ip: str | None = None
    ) -> Any:
        """A resident's idea through the public channel (no token)."""
        # Intake rate-limits per client; behind the portal that client is the resident.
        headers = {"X-Forwarded-For": client_ip} if client_ip else None
        return await self.call(
            "intake", "POST", f"/v1/public/{tenant}/ideas", json=body, headers=headers
        )

    async def public_org_units(self, tenant: str) -> list[dict[str, Any]]:
        """Administrations a resident may address (public channel)."""
        return _items(await self.call("intake", "GET", f"/v1/public/{tenant}/org-units"))

    # evaluation --------------------------------------------------------------------------
    async def screening_queue(self) -> list[dict[str, Any]]:
        """Ideas waiting for the ambassador's screening."""
        return _items(await self.call("evaluation", "GET", "/v1/screening-queue"))

    async def screening_template(self) -> dict[str, Any]:
        """The tenant's screening template."""
        return dict(await self.call("evaluation", "GET", "/v1/screening-template"))

    async def put_screening_template(self, body: dict[str, Any]) -> dict[str, Any]:
        """Replace the screening template (tenant admin)."""
        return dict(await self.call("evaluation", "PUT", "/v1/screening-template", json=body))

    async def screen(self, idea_id: str, body: dict[str, Any]) -> Any:
        """Record a screening."""
        return await self.call("evaluation", "POST", f"/v1/ideas/{idea_id}/screening", json=body)

    async def decision_basis(self, idea_id: str, body: dict[str, Any]) -> Any:
        """Submit a decision basis."""
        return await self.call(
            "evaluation", "POST", f"/v1/ideas/{idea_id}/decision-basis", json=body
        )

    # decision ----------------------------------------------------------------------------
    async def decision_queue(self) -> list[dict[str, Any]]:
        """Ideas waiting for the caller's decision."""
        return _items(await self.call("decision", "GET", "/v1/decision-queue"))

    async def decide(self, idea_id: str, body: dict[str, Any]) -> Any:
        """Record a decision."""
        return await self.call("decision", "POST", f"/v1/ideas/{idea_id}/decision", json=body)

    async def escalate(self, idea_id: str, motivation: str | None) -> Any:
        """Hand a quick win to the management group (unit or department manager)."""
        body = {"motivation": motivation} if motivation else {}
        return await self.call("decision", "POST", f"/v1/ideas/{idea_id}/escalate", json=body)

    async def network_offers(self) -> list[dict[str, Any]]:
        """Ideas fellow network members offer."""
        return _items(await self.call("decision", "GET", "/v1/network/offers"))

    async def adopt(self, idea_id: str, origin_tenant: str) -> Any:
        """Adopt an offered idea (the origin tenant's idea id) as a new idea of one's own."""
        body = {"origin_tenant": origin_tenant}
        return await self.call("decision", "POST", f"/v1/ideas/{idea_id}/adopt", json=body)

    async def implementation(self, idea_id: str) -> dict[str, Any]:
        """Plan, trials, indicators and measurements of an idea."""
        return dict(await self.call("decision", "GET", f"/v1/ideas/{idea_id}/implementation"))

    async def implementations(self) -> list[dict[str, Any]]:
        """Ideas the caller implements."""
        return _items(await self.call("decision", "GET", "/v1/implementations"))

    async def idea_action(self, service: str, idea_id: str, action: str, body: Any) -> Any:
        """One of the lifecycle actions under /v1/ideas/{id}/<action>."""
        return await self.call(service, "POST", f"/v1/ideas/{idea_id}/{action}", json=body)

    # notification ------------------------------------------------------------------------
    async def inbox(self) -> list[dict[str, Any]]:
        """The person's inbox."""
        return _items(await self.call("notification", "GET", "/v1/inbox"))

    async def mark_read(self, message_id: str) -> Any:
        """Mark one of the person's messages as read."""
        return await self.call("notification", "POST", f"/v1/inbox/{message_id}/read", json={})

    async def preferences(self) -> dict[str, Any]:
        """The person's delivery mode per channel."""
        return dict(await self.call("notification", "GET", "/v1/preferences"))

    async def put_preferences(self, body: dict[str, Any]) -> dict[str, Any]:
        """Change the person's delivery modes (inbox, email)."""
        return dict(await self.call("notification", "PUT", "/v1/preferences", json=body))

    async def announcements(self) -> list[dict[str, Any]]:
        """Announcements waiting for the communicator's approval."""
        return _items(await self.call("notification", "GET", "/v1/announcements"))

    async def approve_announcement(self, announcement_id: str, body: dict[str, Any]) -> Any:
        """Approve (and edit) an announcement."""
        return await self.call(
            "notification", "POST", f"/v1/announcements/{announcement_id}/approve", json=body
        )

    async def webhooks(self) -> list[dict[str, Any]]:
        """The tenant's webhook subscriptions."""
        return _items(await self.call("notification", "GET", "/v1/webhooks"))

    async def add_webhook(self, body: dict[str, Any]) -> Any:
        """Subscribe a URL to events."""
        return await self.call("notification", "POST", "/v1/webhooks", json=body)

    # reporting ---------------------------------------------------------------------------
    async def timeline(self, idea_id: str) -> list[dict[str, Any]]:
        """Every step of an idea, with feedback and motivations."""
        try:
            return _items(await self.call("reporting", "GET", f"/v1/ideas/{idea_id}/timeline"))
        except ApiProblem as exc:
            if exc.status == 404:  # reporting has not seen the idea's first event yet
                return []
            raise

    async def kpis(self, **params: Any) -> dict[str, Any]:
        """KPIs of the tenant (per year, optionally an org unit)."""
        return dict(await self.call("reporting", "GET", "/v1/kpis", params=params))

    async def comparison(self, network: str, **params: Any) -> dict[str, Any]:
        """Network comparison, aggregates only."""
        return dict(
            await self.call("reporting", "GET", f"/v1/networks/{network}/comparison", params=params)
        )


def _items(data: Any) -> list[dict[str, Any]]:
    # Lists come bare or wrapped ({"items": [...]}); pages want the list.
    if isinstance(data, dict):
        for key in ("items", "events", "members", "ideas", "entries", "results"):
            if isinstance(data.get(key), list):
                return list(data[key])
        return []
    return list(data or [])


def _problem(resp: httpx.Response) -> ApiProblem:
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = body.get("detail")
    if isinstance(detail, list):  # FastAPI's own validation shape
        detail = "; ".join(str(d.get("msg", d)) for d in detail if isinstance(d, dict))
    return ApiProblem(
        resp.status_code,
        str(body.get("title") or resp.reason_phrase),
        str(detail) if detail else None,
        body.get("field"),
    )
