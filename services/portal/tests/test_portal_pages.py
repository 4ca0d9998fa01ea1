"""Portal pages against stand-in services (httpx MockTransport): no NATS, no database."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from ideabank_infra.auth import LocalIssuer
from ideabank_infra.testing import serve
from ideabank_portal import charts
from ideabank_portal.bootstrap import create_app
from ideabank_portal.i18n import CATALOGUES, LANGUAGES
from ideabank_portal.settings import PortalSettings

Handler = Callable[[httpx.Request], httpx.Response]

IDEA = {
    "id": "i-1",
    "title": "Nyckelbox",
    "description": "En nyckelbox",
    "problem": "Nycklar",
    "org_unit_id": "t-unit",
    "category": "work_environment",
    "channel": "staff_portal",
    "status": "in_screening",
    "anonymous": False,
    "giver_id": "t-p009",
    "supports_count": 2,
    "submitted_at": "2026-03-01T10:00:00Z",
}
PEOPLE = [
    {
        "id": "t-p003",
        "name": "Ebba Amb",
        "org_unit_id": "t-adm",
        "roles": ["employee", "ambassador"],
    },
    {"id": "t-p009", "name": "Emma Emp", "org_unit_id": "t-unit", "roles": ["employee"]},
    {
        "id": "t-p020",
        "name": "Molly Mgmt",
        "org_unit_id": "t-adm",
        "roles": ["employee", "management"],
    },
    {
        "id": "t-p021",
        "name": "Ulf Unit",
        "org_unit_id": "t-unit",
        "roles": ["employee", "unit_manager"],
    },
]


def services(down: set[str] | None = None) -> Handler:
    """Stand-in services; those in ``down`` refuse connections."""
    down = down or set()

    def handle(request: httpx.Request) -> httpx.Response:
        port = request.url.port
        name = {
            9001: "intake",
            9002: "evaluation",
            9003: "decision",
            9004: "notification",
            9005: "reporting",
        }[port]
        if name in down:
            raise httpx.ConnectError("refused", request=request)
        path = request.url.path
        if (name, path) == ("intake", "/v1/admin/tenancy"):
            return httpx.Response(200, json={"people": PEOPLE, "org_units": []})
        if (name, path) == ("intake", "/v1/org-units"):
            return httpx.Response(
                200, json=[{"id": "t-unit", "name": "Hemtjänst Norr", "kind": "unit"}]
            )
        if (name, path) == ("intake", "/v1/ideas") and request.method == "GET":
            return httpx.Response(200, json={"items": [IDEA], "total": 1})
        if (name, path) == ("intake", "/v1/ideas") and request.method == "POST":
            body = json.loads(request.content)
            if not body.get("title"):
                return httpx.Response(
                    422,
                    json={
                        "title": "Invalid request",
                        "detail": "title: required",
                        "field": "title",
                    },
                )
            return httpx.Response(
                201, json={"idea": {**IDEA, "id": "i-2"}, "duplicates": [{"id": "i-1"}]}
            )
        if (name, path) == ("intake", "/v1/ideas/i-1"):
            return httpx.Response(200, json=IDEA)
        if (name, path) == ("intake", "/v1/ideas/i-2"):
            return httpx.Response(200, json={**IDEA, "id": "i-2", "status": "submitted"})
        if name == "intake" and re.fullmatch(r"/v1/ideas/[^/]+", path):
            return httpx.Response(404, json={"title": "Not found", "detail": "No such idea"})
        if name == "intake" and path.startswith("/v1/people/"):
            return httpx.Response(200, json={"id": path.rsplit("/", 1)[1], "name": "Emma Emp"})
        if (name, path) == ("intake", "/v1/ideas/i-1/comments"):
            return httpx.Response(200, json={"items": []})
        if (name, path) == ("reporting", "/v1/ideas/i-1/timeline"):
            return httpx.Response(
                200,
                json={
                    "events": [
                        {
                            "type": "idea.submitted",
                            "at": "2026-03-01T10:00:00Z",
                            "status": "submitted",
                        }
                    ]
                },
            )
        if (name, path) == ("evaluation", "/v1/screening-template"):
            return httpx.Response(
                200,
                json={
                    "version": 1,
                    "criteria": [
                        {"key": "mission", "label": "Uppdrag", "scale_max": 5, "weight": "1"}
                    ],
                },
            )
        return httpx.Response(404, json={"title": "Not found", "detail": "Not Found"})

    return handle


def make_app(tmp_path: Path, handler: Handler, **extra: Any) -> tuple[Any, LocalIssuer]:
    issuer = LocalIssuer(tmp_path / "issuer")
    settings = PortalSettings(
        intake_url="http://svc:9001",
        evaluation_url="http://svc:9002",
        decision_url="http://svc:9003",
        notification_url="http://svc:9004",
        reporting_url="http://svc:9005",
        issuer_dir=tmp_path / "issuer",
        demo_tenants={"t": "Testkommun"},
        **extra,
    )
    return create_app(settings, transport=httpx.MockTransport(handler)), issuer


async def sign_in(client: httpx.AsyncClient, person: str) -> None:
    resp = await client.post("/login", data={"tenant": "t", "person": person})
    assert resp.status_code == 303
    client.cookies.set("ideabank_session", resp.cookies["ideabank_session"])


def test_every_message_is_translated() -> None:
    keys = set(CATALOGUES["sv"])
    for lang in LANGUAGES:
        assert set(CATALOGUES[lang]) == keys
        assert all(value.strip() for value in CATALOGUES[lang].values()), lang


def test_templates_use_known_keys() -> None:
    folder = Path(__file__).parents[1] / "src" / "ideabank_portal" / "templates"
    used = set()
    for template in folder.glob("*.html"):
        used |= set(re.findall(r't\("([a-z_]+\.[a-z_.]+)"\)', template.read_text()))
    assert used - set(CATALOGUES["sv"]) == set()


def test_line_chart_escapes_and_draws() -> None:
    svg = str(charts.line_chart("<Tid>", [("01", 35.0), ("02", 20.0)], target=10, baseline=35))
    assert svg.startswith("<svg") and "&lt;Tid&gt;" in svg and "<polyline" in svg


async def test_demo_sign_in_and_idea_page(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, services())
    async with serve(app) as client:
        resp = await client.get("/")
        assert resp.status_code == 303 and resp.headers["location"].startswith("/login")
        page = await client.get("/login")
        assert "Ebba Amb" in page.text and 'lang="sv"' in page.text
        await sign_in(client, "t-p003")
        home = await client.get("/")
        assert "Ebba Amb" in home.text and "Screening" in home.text
        idea = await client.get("/ideas/i-1")
        assert idea.status_code == 200
        assert 'id="screening"' in idea.text  # the ambassador gets the template form
        assert "Uppdrag" in idea.text and "Idén lämnades in" in idea.text


async def test_session_cookie_is_httponly_and_lax(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, services())
    async with serve(app) as client:
        resp = await client.post("/login", data={"tenant": "t", "person": "t-p009"})
        cookie = resp.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie


async def test_forged_person_cannot_sign_in(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, services())
    async with serve(app) as client:
        resp = await client.post("/login", data={"tenant": "t", "person": "t-admin-forged"})
        assert "ideabank_session" not in resp.cookies


async def test_submit_shows_duplicates_and_field_errors(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, services())
    async with serve(app) as client:
        await sign_in(client, "t-p009")
        resp = await client.post(
            "/ideas", data={"title": "Nyckelbox", "description": "x", "problem": "y"}
        )
        assert resp.status_code == 303 and resp.headers["location"] == "/ideas/i-2"
        client.cookies.set("ideabank_flash", resp.cookies["ideabank_flash"])
        page = await client.get("/ideas/i-2")
        assert 'data-testid="duplicates"' in page.text and "/ideas/i-1" in page.text
        bad = await client.post("/ideas", data={"title": "", "description": "x", "problem": "y"})
        assert bad.status_code == 422 and "title" in bad.text


async def test_service_down_is_a_friendly_notice(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, services(down={"reporting", "notification", "evaluation"}))
    async with serve(app) as client:
        await sign_in(client, "t-p003")
        home = await client.get("/")
        assert home.status_code == 200 and "inte tillgänglig just nu" in home.text
        idea = await client.get("/ideas/i-1")
        assert idea.status_code == 200 and "inte tillgänglig just nu" in idea.text
    app, _ = make_app(tmp_path, services(down={"intake"}))
    async with serve(app) as client:
        page = await client.get("/login")
        assert page.status_code == 200 and "inte tillgänglig just nu" in page.text


async def test_language_cookie_switches_every_string(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, services())
    async with serve(app) as client:
        resp = await client.post("/lang", data={"lang": "da", "next": "/public"})
        assert resp.headers["location"] == "/public"
        client.cookies.set("ideabank_lang", resp.cookies["ideabank_lang"])
        page = await client.get("/public")
        assert 'lang="da"' in page.text and "Del en idé med kommunen" in page.text
        evil = await client.post("/lang", data={"lang": "en", "next": "//evil.example"})
        assert evil.headers["location"] == "/"


async def test_roles_guard_pages(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, services())
    async with serve(app) as client:
        await sign_in(client, "t-p009")
        assert (await client.get("/admin")).status_code == 403
        assert (await client.get("/screening")).status_code == 403
        assert (await client.get("/ideas/unknown")).status_code == 404


async def test_oidc_login_verifies_id_token(tmp_path: Path) -> None:
    idp = LocalIssuer(tmp_path / "idp", issuer="https://idp.example")
    nonce_box: dict[str, str] = {}

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "idp.example":
            if request.url.path == "/.well-known/openid-configuration":
                return httpx.Response(
                    200,
                    json={
                        "issuer": "https://idp.example",
                        "authorization_endpoint": "https://idp.example/authorize",
                        "token_endpoint": "https://idp.example/token",
                        "jwks_uri": "https://idp.example/jwks",
                    },
                )
            if request.url.path == "/jwks":
                return httpx.Response(200, json=idp.jwks)
            if request.url.path == "/token":
                assert parse_qs(request.content.decode())["code"] == ["the-code"]
                id_token = idp.mint(
                    tenant="t",
                    roles=["employee"],
                    person="t-p009",
                    extra={"aud": "portal", "nonce": nonce_box["nonce"], "name": "Emma"},
                )
                access = idp.mint(tenant="t", roles=["employee"], person="t-p009")
                return httpx.Response(200, json={"id_token": id_token, "access_token": access})
        return services()(request)

    app, _ = make_app(
        tmp_path,
        handle,
        oidc_issuer="https://idp.example",
        oidc_client_id="portal",
        oidc_client_secret="s3cret",
        jwks_url=idp.jwks_url,
        jwt_issuer="https://idp.example",
    )
    async with serve(app) as client:
        assert "/login/oidc" in (await client.get("/login")).text
        start = await client.get("/login/oidc")
        query = parse_qs(urlparse(start.headers["location"]).query)
        nonce_box["nonce"] = query["nonce"][0]
        assert query["code_challenge_method"] == ["S256"]
        client.cookies.set("ideabank_oidc", start.cookies["ideabank_oidc"], path="/auth")
        wrong = await client.get("/auth/callback", params={"code": "the-code", "state": "forged"})
        assert wrong.status_code == 401
        done = await client.get(
            "/auth/callback", params={"code": "the-code", "state": query["state"][0]}
        )
        assert done.status_code == 303
        client.cookies.set("ideabank_session", done.cookies["ideabank_session"])
        client.cookies.set("ideabank_name", done.cookies["ideabank_name"])
        home = await client.get("/")
        assert home.status_code == 200 and "Hej, Emma" in home.text


@pytest.mark.parametrize("path", ["/public", "/public/t"])
async def test_public_channel_needs_no_sign_in(tmp_path: Path, path: str) -> None:
    app, _ = make_app(tmp_path, services())
    async with serve(app) as client:
        assert (await client.get(path)).status_code == 200


def with_actions(calls: list[tuple[str, str, Any]]) -> Handler:
    """The stand-ins plus inbox, preferences, queue, offers, adopt and escalate; records writes."""
    base = services()

    def handle(request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        body = json.loads(request.content) if request.content else None
        if method in ("POST", "PUT"):
            calls.append((method, path, body))
        if path == "/v1/inbox":
            return httpx.Response(
                200,
                json={
                    "items": [
                        {"id": 7, "title": "Nytt beslut", "read": False, "read_at": None},
                        {"id": 6, "title": "Gammalt", "read": True, "read_at": "2026-01-01"},
                    ],
                    "unread": 1,
                },
            )
        if path == "/v1/inbox/7/read":
            return httpx.Response(200, json={"id": 7, "read": True})
        if path == "/v1/inbox/99/read":
            return httpx.Response(404, json={"title": "Not found", "detail": "No such message"})
        if path == "/v1/preferences" and method == "GET":
            return httpx.Response(200, json={"inbox": "immediate", "email": "weekly"})
        if path == "/v1/preferences" and method == "PUT":
            if body.get("email") not in (None, "immediate", "daily", "weekly", "off"):
                return httpx.Response(
                    422, json={"title": "Invalid", "detail": "bad mode", "field": "email"}
                )
            return httpx.Response(200, json={"inbox": "immediate", "email": "daily"})
        if path == "/v1/network/offers":
            return httpx.Response(
                200,
                json=[
                    {
                        "idea_id": "o-1",
                        "origin_tenant": "other",
                        "networks": ["skl"],
                        "title": "Digital nyckel",
                        "summary": "Nycklar i mobilen",
                        "adopted_as": None,
                    }
                ],
            )
        if path == "/v1/ideas/o-1/adopt":
            return httpx.Response(201, json={"idea_id": "new-1"})
        if path == "/v1/ideas/o-2/adopt":
            return httpx.Response(
                403,
                json={"title": "Forbidden", "detail": "join the network to adopt the idea"},
            )
        if path == "/v1/decision-queue":
            return httpx.Response(
                200,
                json=[{"idea_id": "i-1", "queue": "manager", "status": "quick_win", "title": "QW"}],
            )
        if path == "/v1/ideas/i-1/escalate":
            return httpx.Response(200, json={"id": "i-1", "status": "awaiting_decision"})
        if path == "/v1/ideas/i-1/merge":
            if not (body or {}).get("into_idea_id"):
                return httpx.Response(
                    422, json={"title": "Invalid", "detail": "required", "field": "into_idea_id"}
                )
            return httpx.Response(200, json={**IDEA, "status": "merged"})
        return base(request)

    return handle


def flash_of(client: httpx.AsyncClient, resp: httpx.Response) -> None:
    client.cookies.set("ideabank_flash", resp.cookies["ideabank_flash"])


async def test_inbox_mark_read_and_preferences(tmp_path: Path) -> None:
    calls: list[tuple[str, str, Any]] = []
    app, _ = make_app(tmp_path, with_actions(calls))
    async with serve(app) as client:
        await sign_in(client, "t-p009")
        page = await client.get("/inbox")
        assert page.text.count('data-testid="mark-read"') == 1
        assert 'action="/inbox/7/read"' in page.text
        assert '<option value="weekly" selected>' in page.text
        resp = await client.post("/inbox/7/read")
        assert resp.status_code == 303 and resp.headers["location"] == "/inbox"
        assert ("POST", "/v1/inbox/7/read", {}) in calls
        flash_of(client, resp)
        assert "Markerat som läst." in (await client.get("/inbox")).text
        missing = await client.post("/inbox/99/read")
        assert missing.status_code == 303
        flash_of(client, missing)
        assert "No such message" in (await client.get("/inbox")).text
        saved = await client.post("/inbox/preferences", data={"inbox": "off", "email": "daily"})
        assert saved.status_code == 303
        assert ("PUT", "/v1/preferences", {"inbox": "off", "email": "daily"}) in calls
        bad = await client.post("/inbox/preferences", data={"email": "hourly"})
        flash_of(client, bad)
        shown = await client.get("/inbox")
        assert shown.status_code == 200 and "bad mode" in shown.text


async def test_network_offers_adopt(tmp_path: Path) -> None:
    calls: list[tuple[str, str, Any]] = []
    app, _ = make_app(tmp_path, with_actions(calls))
    async with serve(app) as client:
        await sign_in(client, "t-p009")
        assert (await client.get("/offers")).status_code == 403
        assert 'href="/offers"' not in (await client.get("/")).text
        await sign_in(client, "t-p020")
        assert 'href="/offers"' in (await client.get("/")).text
        page = await client.get("/offers")
        assert page.status_code == 200 and "Digital nyckel" in page.text
        assert 'action="/offers/o-1/adopt"' in page.text
        resp = await client.post("/offers/o-1/adopt", data={"origin_tenant": "other"})
        assert resp.status_code == 303 and resp.headers["location"] == "/offers"
        assert ("POST", "/v1/ideas/o-1/adopt", {"origin_tenant": "other"}) in calls
        refused = await client.post("/offers/o-2/adopt", data={"origin_tenant": "other"})
        assert refused.status_code == 303
        flash_of(client, refused)
        shown = await client.get("/offers")
        assert shown.status_code == 200 and "join the network" in shown.text
    app, _ = make_app(tmp_path, services(down={"decision"}))
    async with serve(app) as client:
        await sign_in(client, "t-p020")
        down = await client.post("/offers/o-1/adopt", data={"origin_tenant": "other"})
        assert down.status_code == 303
        flash_of(client, down)
        page = await client.get("/offers")
        assert page.status_code == 200 and "inte tillgänglig just nu" in page.text


async def test_escalate_from_queue_and_merge(tmp_path: Path) -> None:
    calls: list[tuple[str, str, Any]] = []
    app, _ = make_app(tmp_path, with_actions(calls))
    async with serve(app) as client:
        await sign_in(client, "t-p021")
        queue = await client.get("/decisions")
        assert 'action="/decisions/i-1/escalate"' in queue.text
        resp = await client.post("/decisions/i-1/escalate", data={"motivation": "Stor"})
        assert resp.status_code == 303 and resp.headers["location"] == "/decisions"
        assert ("POST", "/v1/ideas/i-1/escalate", {"motivation": "Stor"}) in calls
        await sign_in(client, "t-p020")
        assert 'action="/decisions/i-1/escalate"' not in (await client.get("/decisions")).text
        assert (await client.post("/decisions/i-1/escalate")).status_code == 403
        await sign_in(client, "t-p003")
        idea = await client.get("/ideas/i-1")
        assert 'id="merge"' in idea.text
        merged = await client.post("/ideas/i-1/act/merge", data={"into_idea_id": "i-2"})
        assert merged.status_code == 303
        assert ("POST", "/v1/ideas/i-1/merge", {"into_idea_id": "i-2"}) in calls
        bad = await client.post("/ideas/i-1/act/merge", data={"into_idea_id": ""})
        flash_of(client, bad)
        assert "into_idea_id" in (await client.get("/ideas/i-1")).text
        await sign_in(client, "t-p009")
        assert 'id="merge"' not in (await client.get("/ideas/i-1")).text
