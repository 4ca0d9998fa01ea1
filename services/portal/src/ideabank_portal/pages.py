"""The portal's pages: thin handlers that call the services and render a template.

Every service call goes through :class:`~ideabank_portal.clients.Services` with the
signed-in person's token. A page that needs several services renders what it got and shows
a friendly notice where a service is down or an endpoint is still coming.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from ideabank_portal import charts
from ideabank_portal.auth import (
    FLASH_COOKIE,
    LANG_COOKIE,
    NAME_COOKIE,
    OIDC_COOKIE,
    SESSION_COOKIE,
    DemoDirectory,
    OidcClient,
    OidcError,
    User,
    user_from_token,
)
from ideabank_portal.clients import ApiProblem, Coming, ServiceDown, Services
from ideabank_portal.i18n import (
    CATEGORIES,
    LANGUAGE_NAMES,
    LANGUAGES,
    ROLES,
    STATUSES,
    pick_language,
    translator,
)
from ideabank_portal.settings import PortalSettings

T = TypeVar("T")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter()

SCREENERS = ("ambassador", "innovation_group")
MANAGERS = ("unit_manager", "department_manager")
ADOPTERS = ("management", "innovation_group")
DELIVERY_MODES = ("immediate", "daily", "weekly", "off")
DECIDERS = ("unit_manager", "department_manager", "management")
BEFORE_DECISION = {
    "submitted",
    "in_screening",
    "paused",
    "quick_win",
    "in_development",
    "awaiting_decision",
    "deferred",
}


class LoginRequired(Exception):
    """The page needs a signed-in person."""


class NotAllowed(Exception):
    """The signed-in person lacks the role for this page."""


@dataclass
class Loaded(Generic[T]):
    """What a page got from one service call, and whether to show a notice."""

    value: T
    state: str = "ok"  # ok | down | coming | error
    detail: str | None = None

    @property
    def ok(self) -> bool:
        """The call succeeded."""
        return self.state == "ok"


async def load(call: Awaitable[T], default: T) -> Loaded[T]:
    """Run one call; a failure becomes a notice state with ``default`` as the value."""
    try:
        return Loaded(await call)
    except Coming:
        return Loaded(default, "coming")
    except ServiceDown:
        return Loaded(default, "down")
    except ApiProblem as exc:
        return Loaded(default, "error", exc.detail)


@dataclass
class Ctx:
    """Everything a handler needs about this request."""

    request: Request
    settings: PortalSettings
    user: User | None
    lang: str
    api: Services
    flash: dict[str, Any] | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def t(self) -> Callable[[str], str]:
        """Translator of the chosen language."""
        return translator(self.lang)

    def signed_in(self) -> User:
        """The person, or a redirect to sign-in."""
        if self.user is None:
            raise LoginRequired
        return self.user

    def require(self, *roles: str) -> User:
        """The person, who must hold one of ``roles``."""
        user = self.signed_in()
        if not user.has(*roles):
            raise NotAllowed
        return user

    async def org_units(self) -> list[dict[str, Any]]:
        """The tenant's org units (cached per tenant for a minute)."""
        user = self.signed_in()
        cache: dict[str, tuple[float, list[dict[str, Any]]]] = self.request.app.state.org_unit_cache
        hit = cache.get(user.tenant)
        if hit and time.monotonic() - hit[0] < 60:
            return hit[1]
        units = (await load(self.api.org_units(), [])).value
        if units:
            cache[user.tenant] = (time.monotonic(), units)
        return units

    async def person_name(self, person_id: str | None) -> str | None:
        """A person's name, looked up once per request."""
        if not person_id:
            return None
        names: dict[str, str] = self.cache.setdefault("names", {})
        if person_id not in names:
            found = await load(self.api.person(person_id), {})
            names[person_id] = str(found.value.get("name") or person_id)
        return names[person_id]


async def context(request: Request) -> Ctx:
    """Builds the request context: language, person and a service client with their token."""
    state = request.app.state
    user = await user_from_token(
        state.verifier, request.cookies.get(SESSION_COOKIE), request.cookies.get(NAME_COOKIE)
    )
    return Ctx(
        request=request,
        settings=state.settings,
        user=user,
        lang=pick_language(request.cookies.get(LANG_COOKIE)),
        api=Services(state.http, state.settings.service_urls(), user.token if user else None),
        flash=_read_flash(request),
    )


C = Annotated[Ctx, Depends(context)]


# --- helpers ------------------------------------------------------------------------------


def nav(ctx: Ctx) -> list[tuple[str, str]]:
    """Menu entries the person's roles open."""
    user = ctx.user
    if user is None:
        return []
    items = [
        ("/", "nav.home"),
        ("/ideas/new", "nav.new"),
        ("/ideas?mine=1", "nav.mine"),
        ("/ideas", "nav.browse"),
        ("/inbox", "nav.inbox"),
    ]
    if user.has(*SCREENERS):
        items.append(("/screening", "nav.screening"))
    if user.has(*DECIDERS):
        items.append(("/decisions", "nav.decisions"))
    if user.has("implementer"):
        items.append(("/implementation", "nav.implementation"))
    if user.has("communicator"):
        items.append(("/announcements", "nav.announcements"))
    if user.has(*ADOPTERS):
        items.append(("/offers", "nav.offers"))
    if user.has("management", "tenant_admin", "innovation_group", "ambassador"):
        items.append(("/kpis", "nav.kpis"))
    if user.has("network_coordinator", "tenant_admin", "management"):
        items.append(("/network", "nav.network"))
    if user.has("management", "innovation_group", "tenant_admin"):
        items.append(("/board-report", "nav.board"))
    if user.has("tenant_admin"):
        items.append(("/admin", "nav.admin"))
    return items


def render(ctx: Ctx, page: str, code: int = 200, /, **values: Any) -> HTMLResponse:
    """Render a page with the layout's context; consumes the flash message."""
    t = ctx.t
    path = ctx.request.url.path
    query = ctx.request.url.query
    values.setdefault("title", "")
    response = TEMPLATES.TemplateResponse(
        ctx.request,
        page,
        {
            "t": t,
            "lang": ctx.lang,
            "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
            "user": ctx.user,
            "nav": nav(ctx),
            "current": path + (f"?{query}" if query else ""),
            "flash": ctx.flash,
            "status_label": lambda s: t(f"status.{s}") if s else "",
            "fmt_date": fmt_date,
            "oidc": ctx.settings.oidc_enabled,
            **values,
        },
        status_code=code,
    )
    if ctx.flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(
    ctx: Ctx,
    url: str,
    *,
    ok: str | None = None,
    error: ApiProblem | ServiceDown | None = None,
    extra: dict[str, Any] | None = None,
) -> RedirectResponse:
    """303 to ``url`` with a flash message for the next page."""
    response = RedirectResponse(url, status_code=303)
    flash: dict[str, Any] = dict(extra or {})
    if ok:
        flash["ok"] = ok
    if isinstance(error, Coming):
        flash["coming"] = True
    elif isinstance(error, ServiceDown):
        flash["down"] = True
    elif isinstance(error, ApiProblem):
        flash["error"] = error.detail
        flash["field"] = error.field
    if flash:
        raw = base64.urlsafe_b64encode(json.dumps(flash).encode()).decode()
        response.set_cookie(FLASH_COOKIE, raw, max_age=60, httponly=True, samesite="lax", path="/")
    return response


def _read_flash(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


async def read_form(request: Request) -> dict[str, list[str]]:
    """The urlencoded form of a POST, every field as a list of values."""
    body = (await request.body()).decode("utf-8", errors="replace")
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        out.setdefault(key, []).append(value)
    return out


def one(form: dict[str, list[str]], key: str) -> str | None:
    """A single trimmed form value; empty means absent."""
    values = form.get(key) or [""]
    value = values[-1].strip()
    return value or None


def fmt_date(value: Any) -> str:
    """ISO timestamp or date → YYYY-MM-DD."""
    if not value:
        return ""
    return str(value)[:10]


def safe_next(value: str | None) -> str:
    """Only local paths may be redirected to."""
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return "/"


def unit_names(units: list[dict[str, Any]]) -> dict[str, str]:
    """Org unit id → name."""
    return {str(u["id"]): str(u.get("name") or u["id"]) for u in units}


def money(amount: str | None, currency: str = "SEK") -> dict[str, str] | None:
    """A money body, or None when no amount was given."""
    if not amount:
        return None
    return {"amount": amount.replace(" ", "").replace(",", "."), "currency": currency}


def number(value: str | None) -> str | None:
    """A decimal as the services expect it (dot, no spaces)."""
    return value.replace(" ", "").replace(",", ".") if value else None


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


# --- errors ---------------------------------------------------------------------------------


def install_error_pages(app: Any) -> None:
    """Friendly pages instead of error pages, for every failure a person can meet."""

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(NotAllowed)
    async def _forbidden(request: Request, exc: NotAllowed) -> Response:
        ctx = await context(request)
        return render(ctx, "message.html", 403, message="notice.forbidden")

    @app.exception_handler(ServiceDown)
    async def _down(request: Request, exc: ServiceDown) -> Response:
        ctx = await context(request)
        key = "notice.coming" if isinstance(exc, Coming) else "notice.down"
        return render(ctx, "message.html", 200 if isinstance(exc, Coming) else 503, message=key)

    @app.exception_handler(ApiProblem)
    async def _problem(request: Request, exc: ApiProblem) -> Response:
        ctx = await context(request)
        if exc.status == 401:
            response = render(ctx, "message.html", 401, message="notice.signed_out")
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response
        key = {403: "notice.forbidden", 404: "notice.not_found"}.get(exc.status)
        return render(ctx, "message.html", exc.status, message=key, detail=exc.detail)

    @app.exception_handler(404)
    async def _not_found(request: Request, exc: Exception) -> Response:
        ctx = await context(request)
        return render(ctx, "message.html", 404, message="notice.not_found")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        request.app.state.log.exception("page %s failed", request.url.path)
        ctx = await context(request)
        return render(ctx, "message.html", 500, message="notice.down")


# --- language and sign-in --------------------------------------------------------------------


@router.post("/lang")
async def set_language(ctx: C) -> Response:
    """Remember the chosen language in a cookie and go back."""
    form = await read_form(ctx.request)
    lang = one(form, "lang") or "sv"
    response = RedirectResponse(safe_next(one(form, "next")), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 86400,
            samesite="lax",
            path="/",
            secure=ctx.settings.cookie_secure,
        )
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(ctx: C, tenant: str | None = None, next: str | None = None) -> Response:
    """Sign-in: OIDC in production, the demo person picker in the embedded default."""
    if ctx.settings.oidc_enabled:
        return render(ctx, "login.html", title=ctx.t("login.title"), next=safe_next(next))
    tenants = ctx.settings.demo_tenants
    tenant = tenant if tenant in tenants else next_tenant(tenants)
    directory: DemoDirectory = ctx.request.app.state.directory
    people = await load(directory.people(tenant), [])
    quick: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for role in (
        "employee",
        "ambassador",
        "unit_manager",
        "management",
        "implementer",
        "communicator",
        "tenant_admin",
        "network_coordinator",
        "innovation_group",
        "department_manager",
    ):
        for p in people.value:
            if role in p.roles and (role != "employee" or len(p.roles) == 1) and p.id not in seen:
                quick.append((role, p))
                seen.add(p.id)
                break
    return render(
        ctx,
        "login.html",
        title=ctx.t("login.title"),
        tenants=tenants,
        tenant=tenant,
        people=people,
        quick=quick,
        next=safe_next(next),
    )


def next_tenant(tenants: dict[str, str]) -> str:
    """The tenant the picker starts with."""
    return next(iter(tenants), "")


@router.post("/login")
async def login(ctx: C) -> Response:
    """Demo sign-in: mint the chosen person's token and keep it in the session cookie."""
    if ctx.settings.oidc_enabled:
        return RedirectResponse("/login", status_code=303)
    form = await read_form(ctx.request)
    tenant = one(form, "tenant") or ""
    person_id = one(form, "person") or ""
    directory: DemoDirectory = ctx.request.app.state.directory
    if tenant not in ctx.settings.demo_tenants:
        return RedirectResponse("/login", status_code=303)
    people = await load(directory.people(tenant), [])
    person = next((p for p in people.value if p.id == person_id), None)
    if person is None:
        return RedirectResponse(f"/login?tenant={quote(tenant)}", status_code=303)
    token = directory.mint_for(tenant, person)
    return session_response(ctx, token, safe_next(one(form, "next")))


def session_response(ctx: Ctx, token: str, target: str) -> Response:
    """Redirect with the session cookie set."""
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=ctx.settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.cookie_secure,
        path="/",
    )
    return response


@router.get("/login/oidc")
async def login_oidc(ctx: C) -> Response:
    """Send the browser to the identity provider."""
    oidc: OidcClient | None = ctx.request.app.state.oidc
    if oidc is None:
        return RedirectResponse("/login", status_code=303)
    try:
        start = await oidc.start()
    except OidcError:
        return render(ctx, "message.html", 503, message="login.oidc_failed")
    response = RedirectResponse(start.url, status_code=303)
    response.set_cookie(
        OIDC_COOKIE,
        start.cookie,
        max_age=600,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.cookie_secure,
        path="/auth",
    )
    return response


@router.get("/auth/callback")
async def oidc_callback(ctx: C, code: str = "", state: str = "") -> Response:
    """The identity provider's answer: exchange the code and start the session."""
    oidc: OidcClient | None = ctx.request.app.state.oidc
    if oidc is None:
        return RedirectResponse("/login", status_code=303)
    try:
        token, claims = await oidc.finish(
            code=code, state=state, cookie=ctx.request.cookies.get(OIDC_COOKIE)
        )
    except OidcError as exc:
        ctx.request.app.state.log.warning("OIDC sign-in failed: %s", exc)
        return render(ctx, "message.html", 401, message="login.oidc_failed")
    response = session_response(ctx, token, "/")
    response.delete_cookie(OIDC_COOKIE, path="/auth")
    if claims.get("name"):
        response.set_cookie(
            NAME_COOKIE,
            str(claims["name"]),
            max_age=ctx.settings.session_hours * 3600,
            httponly=True,
            samesite="lax",
            secure=ctx.settings.cookie_secure,
            path="/",
        )
    return response


@router.post("/logout")
async def logout(ctx: C) -> Response:
    """End the session."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(NAME_COOKIE, path="/")
    return response


# --- home, inbox ---------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(ctx: C) -> Response:
    """The person's start page: share an idea, latest ideas, news, and role tasks."""
    user = ctx.signed_in()
    mine = await load(ctx.api.ideas(mine="true", limit=5), [])
    inbox = await load(ctx.api.inbox(), [])
    tasks: list[tuple[str, str, Loaded[list[dict[str, Any]]]]] = []
    if user.has(*SCREENERS):
        tasks.append(
            ("/screening", "home.task_screening", await load(ctx.api.screening_queue(), []))
        )
    if user.has(*DECIDERS):
        tasks.append(
            ("/decisions", "home.task_decisions", await load(ctx.api.decision_queue(), []))
        )
    if user.has("communicator"):
        tasks.append(
            ("/announcements", "home.task_announcements", await load(ctx.api.announcements(), []))
        )
    return render(
        ctx,
        "home.html",
        title=ctx.t("nav.home"),
        mine=mine,
        inbox=inbox,
        tasks=tasks,
    )


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(ctx: C) -> Response:
    """The person's notifications."""
    ctx.signed_in()
    items = await load(ctx.api.inbox(), [])
    prefs = await load(ctx.api.preferences(), {})
    return render(
        ctx,
        "inbox.html",
        title=ctx.t("inbox.title"),
        items=items,
        prefs=prefs,
        modes=DELIVERY_MODES,
    )


@router.post("/inbox/{message_id}/read")
async def mark_read(ctx: C, message_id: str) -> Response:
    """Mark one message as read."""
    ctx.signed_in()
    try:
        await ctx.api.mark_read(message_id)
    except (ApiProblem, ServiceDown) as exc:
        return redirect(ctx, "/inbox", error=exc)
    return redirect(ctx, "/inbox", ok="inbox.marked")


@router.post("/inbox/preferences")
async def save_preferences(ctx: C) -> Response:
    """Change the delivery mode per channel."""
    ctx.signed_in()
    form = await read_form(ctx.request)
    body = _drop_none({"inbox": one(form, "inbox"), "email": one(form, "email")})
    try:
        await ctx.api.put_preferences(body)
    except (ApiProblem, ServiceDown) as exc:
        return redirect(ctx, "/inbox#preferences", error=exc)
    return redirect(ctx, "/inbox#preferences", ok="notice.saved")


# --- ideas ------------------------------------------------------------------------------------


@router.get("/ideas/new", response_class=HTMLResponse)
async def new_idea(ctx: C) -> Response:
    """The form to share an idea."""
    user = ctx.signed_in()
    units = await ctx.org_units()
    return render(
        ctx,
        "idea_new.html",
        title=ctx.t("idea.new_title"),
        units=units,
        categories=CATEGORIES,
        default_unit=user.org_unit,
        values={},
    )


@router.post("/ideas")
async def submit_idea(ctx: C) -> Response:
    """Submit the idea to intake; duplicates it points out are shown on the idea's page."""
    user = ctx.signed_in()
    form = await read_form(ctx.request)
    body = _drop_none(
        {
            "title": one(form, "title"),
            "description": one(form, "description"),
            "problem": one(form, "problem"),
            "proposed_solution": one(form, "proposed_solution"),
            "expected_benefit": one(form, "expected_benefit"),
            "org_unit_id": one(form, "org_unit_id") or user.org_unit,
            "category": one(form, "category") or "other",
            "anonymous": one(form, "anonymous") == "on",
            "language": ctx.lang,
        }
    )
    try:
        created = await ctx.api.submit_idea(body)
    except (ApiProblem, ServiceDown) as exc:
        units = await ctx.org_units()
        return render(
            ctx,
            "idea_new.html",
            422 if isinstance(exc, ApiProblem) else 503,
            title=ctx.t("idea.new_title"),
            units=units,
            categories=CATEGORIES,
            default_unit=body.get("org_unit_id"),
            values=body,
            problem=exc if isinstance(exc, ApiProblem) else None,
            down=isinstance(exc, ServiceDown),
        )
    nested = created.get("idea")
    idea: dict[str, Any] = nested if isinstance(nested, dict) else created
    idea_id = str(idea.get("id") or idea.get("idea_id"))
    duplicates = [
        str(d.get("id") or d.get("idea_id")) if isinstance(d, dict) else str(d)
        for d in created.get("duplicates") or idea.get("possible_duplicate_ids") or []
    ]
    return redirect(ctx, f"/ideas/{idea_id}", ok="idea.thanks", extra={"duplicates": duplicates})


@router.get("/ideas", response_class=HTMLResponse)
async def browse(
    ctx: C, status: str | None = None, org_unit: str | None = None, mine: str | None = None
) -> Response:
    """All ideas of the tenant, or one's own, with filters."""
    ctx.signed_in()
    status = status if status in STATUSES else None
    ideas = await load(
        ctx.api.ideas(status=status, org_unit=org_unit, mine="true" if mine else None), []
    )
    units = await ctx.org_units()
    return render(
        ctx,
        "ideas.html",
        title=ctx.t("list.title_mine" if mine else "list.title_browse"),
        ideas=ideas,
        units=units,
        names=unit_names(units),
        statuses=STATUSES,
        filters={"status": status, "org_unit": org_unit, "mine": bool(mine)},
    )


@router.get("/ideas/{idea_id}", response_class=HTMLResponse)
async def idea_page(ctx: C, idea_id: str) -> Response:
    """One idea: its text, timeline with feedback, comments, and the next step for this role."""
    user = ctx.signed_in()
    idea = await ctx.api.idea(idea_id)  # a missing idea (or another tenant's) is a 404 page
    status = str(idea.get("status") or "")
    timeline = await load(ctx.api.timeline(idea_id), [])
    comments = await load(ctx.api.comments(idea_id), [])
    implementation = await load(ctx.api.implementation(idea_id), {})
    units = await ctx.org_units()
    giver_id = idea.get("giver_id") or idea.get("idea_giver_id")
    is_giver = giver_id == user.sub
    template = None
    if user.has(*SCREENERS) and status in ("in_screening", "submitted"):
        template = await load(ctx.api.screening_template(), {})
    names: dict[str, str] = {}
    for c in comments.value:
        pid = c.get("actor_id") or c.get("author_id")
        if pid:
            names[pid] = await ctx.person_name(pid) or pid
    giver_name = None
    if giver_id and not idea.get("anonymous"):
        giver_name = await ctx.person_name(giver_id)
    duplicates = []
    for dup in (ctx.flash or {}).get("duplicates") or idea.get("possible_duplicate_ids") or []:
        found = await load(ctx.api.idea(dup), {})
        if found.ok and found.value:
            duplicates.append(found.value)
    shown = implementation.value
    has_implementation = bool(
        shown.get("plan")
        or shown.get("trials")
        or shown.get("indicators")
        or shown.get("evaluation")
    )
    charts_svg = [indicator_chart(ctx, ind) for ind in implementation.value.get("indicators") or []]
    return render(
        ctx,
        "idea.html",
        title=str(idea.get("title") or ""),
        idea=idea,
        status=status,
        timeline=Loaded(timeline_view(timeline.value), timeline.state, timeline.detail),
        has_implementation=has_implementation,
        comments=comments,
        names=names,
        giver_name=giver_name,
        is_giver=is_giver,
        units=units,
        unit_name=unit_names(units),
        template=template,
        implementation=implementation,
        charts=charts_svg,
        duplicates=duplicates,
        can=actions_for(user, status, is_giver, implementation.value),
        today=date.today().isoformat(),
    )


def timeline_view(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events with a flag where the status changed, so only real moves show an arrow."""
    out: list[dict[str, Any]] = []
    previous = None
    for event in events:
        status = event.get("status")
        out.append({**event, "changed": bool(status) and status != previous})
        previous = status or previous
    return out


def indicator_chart(ctx: Ctx, indicator: dict[str, Any]) -> Markup:
    """An indicator's measurements as a line chart against baseline and target."""
    points = [
        (fmt_date(m.get("measured_at"))[5:], float(m.get("value") or 0))
        for m in indicator.get("measurements") or []
    ]
    return charts.line_chart(
        f"{indicator.get('name')} ({indicator.get('unit')})",
        points,
        target=_float(indicator.get("target")),
        baseline=_float(indicator.get("baseline")),
        labels=(ctx.t("impl.target"), ctx.t("impl.baseline")),
    )


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def actions_for(
    user: User, status: str, is_giver: bool, implementation: dict[str, Any]
) -> set[str]:
    """Which forms the idea page offers this person for this status."""
    can: set[str] = {"comment", "support"}
    if is_giver and status in ("submitted", "in_screening"):
        can.add("edit")
    if is_giver and status in BEFORE_DECISION:
        can.add("withdraw")
    if user.has(*SCREENERS) and status in ("submitted", "in_screening"):
        can.add("screening")
    if user.has(*SCREENERS) and status == "in_development":
        can.add("decision-basis")
    if user.has(*DECIDERS) and status in ("quick_win", "awaiting_decision"):
        can.add("decision")
    if user.has(*SCREENERS) and status in BEFORE_DECISION:
        can.add("merge")
    implementer = user.has("implementer") or implementation.get("implementer_id") == user.sub
    if implementer and status == "approved":
        can.add("plan")
    if implementer and status == "in_implementation":
        can.update({"trials", "indicators", "implemented"})
    if implementer and status in ("in_implementation", "implemented", "evaluated"):
        if implementation.get("indicators"):
            can.add("measurements")
    if implementer and status == "implemented":
        can.update({"indicators", "evaluation"})
    if user.has("implementer", "management", "innovation_group") and status == "evaluated":
        can.add("offer")
    return can


Builder = Callable[[dict[str, list[str]], str], Any]


def _plan(form: dict[str, list[str]], lang: str) -> dict[str, Any]:
    titles, dues = form.get("milestone_title", []), form.get("milestone_due", [])
    milestones = [
        {"title": t.strip(), "due": d}
        for t, d in zip(titles, dues, strict=False)
        if t.strip() and d
    ]
    return _drop_none(
        {
            "milestones": milestones,
            "made_with_idea_giver": one(form, "made_with_idea_giver") == "on",
            "start": one(form, "start"),
            "end": one(form, "end"),
            "notes": one(form, "notes"),
        }
    )


def _screening(form: dict[str, list[str]], lang: str) -> dict[str, Any]:
    scores = []
    for key in form.get("criterion", []):
        score = one(form, f"score_{key}")
        if score:
            scores.append(
                _drop_none(
                    {"criterion_key": key, "score": int(score), "note": one(form, f"note_{key}")}
                )
            )
    return _drop_none(
        {
            "scores": scores,
            "outcome": one(form, "outcome"),
            "motivation": one(form, "motivation"),
            "revisit_date": one(form, "revisit_date"),
        }
    )


ACTIONS: dict[str, tuple[str, str, Builder]] = {
    "screening": ("evaluation", "screening", _screening),
    "decision-basis": (
        "evaluation",
        "decision-basis",
        lambda f, _l: _drop_none(
            {
                "description": one(f, "description"),
                "estimated_cost": money(one(f, "estimated_cost")),
                "estimated_effort_hours": number(one(f, "estimated_effort_hours")),
                "resources_needed": one(f, "resources_needed"),
                "effects_short_term": one(f, "effects_short_term"),
                "effects_long_term": one(f, "effects_long_term"),
                "risks": one(f, "risks"),
            }
        ),
    ),
    "decision": (
        "decision",
        "decision",
        lambda f, _l: _drop_none(
            {
                "outcome": one(f, "outcome"),
                "kind": one(f, "kind") if one(f, "outcome") == "approved" else None,
                "implementer_id": one(f, "implementer_id")
                if one(f, "outcome") == "approved"
                else None,
                "resources": one(f, "resources"),
                "motivation": one(f, "motivation"),
                "revisit_date": one(f, "revisit_date") if one(f, "outcome") == "deferred" else None,
            }
        ),
    ),
    "plan": ("decision", "plan", _plan),
    "trials": (
        "decision",
        "trials",
        lambda f, _l: _drop_none(
            {
                "hypothesis": one(f, "hypothesis"),
                "start": one(f, "start"),
                "end": one(f, "end"),
                "result": one(f, "result"),
                "verdict": one(f, "verdict"),
            }
        ),
    ),
    "implemented": (
        "decision",
        "implemented",
        lambda f, _l: _drop_none({"summary": one(f, "summary")}),
    ),
    "indicators": (
        "decision",
        "indicators",
        lambda f, _l: _drop_none(
            {
                "name": one(f, "name"),
                "unit": one(f, "unit"),
                "baseline": number(one(f, "baseline")),
                "target": number(one(f, "target")),
                "direction": one(f, "direction"),
                "cadence": one(f, "cadence") or "monthly",
            }
        ),
    ),
    "measurements": (
        "decision",
        "measurements",
        lambda f, _l: _drop_none(
            {
                "indicator_id": one(f, "indicator_id"),
                "value": number(one(f, "value")),
                "measured_at": one(f, "measured_at"),
                "corrective_action": one(f, "corrective_action"),
            }
        ),
    ),
    "evaluation": (
        "decision",
        "evaluation",
        lambda f, _l: _drop_none(
            {
                "realised_benefit": money(one(f, "realised_benefit")),
                "hours": number(one(f, "hours")),
                "lessons_learned": one(f, "lessons_learned"),
            }
        ),
    ),
    "offer": ("decision", "offer", lambda f, _l: _drop_none({"summary": one(f, "summary")})),
    "merge": (
        "intake",
        "merge",
        lambda f, _l: _drop_none(
            {"into_idea_id": one(f, "into_idea_id"), "motivation": one(f, "motivation")}
        ),
    ),
    "withdraw": ("intake", "withdraw", lambda f, _l: _drop_none({"reason": one(f, "reason")})),
    "comments": ("intake", "comments", lambda f, _l: {"body": one(f, "body") or ""}),
    "supports": ("intake", "supports", lambda f, _l: {}),
}


@router.post("/ideas/{idea_id}/act/{action}")
async def idea_action(ctx: C, idea_id: str, action: str) -> Response:
    """One lifecycle step from the idea page, sent to the service that owns it."""
    ctx.signed_in()
    if action not in ACTIONS:
        return redirect(ctx, f"/ideas/{idea_id}")
    service, path, build = ACTIONS[action]
    form = await read_form(ctx.request)
    try:
        await ctx.api.idea_action(service, idea_id, path, build(form, ctx.lang))
    except (ApiProblem, ServiceDown) as exc:
        return redirect(ctx, f"/ideas/{idea_id}#{action}", error=exc)
    ok = {"supports": "idea.supported"}.get(action, "notice.saved")
    return redirect(ctx, f"/ideas/{idea_id}", ok=ok)


@router.post("/ideas/{idea_id}/edit")
async def edit_idea(ctx: C, idea_id: str) -> Response:
    """The idea giver's revision before screening."""
    ctx.signed_in()
    form = await read_form(ctx.request)
    body = _drop_none(
        {
            k: one(form, k)
            for k in ("title", "description", "problem", "proposed_solution", "expected_benefit")
        }
    )
    try:
        await ctx.api.revise_idea(idea_id, body)
    except (ApiProblem, ServiceDown) as exc:
        return redirect(ctx, f"/ideas/{idea_id}#edit", error=exc)
    return redirect(ctx, f"/ideas/{idea_id}", ok="notice.saved")


# --- role queues -----------------------------------------------------------------------------


@router.get("/screening", response_class=HTMLResponse)
async def screening(ctx: C) -> Response:
    """The ambassador's screening queue and the template every idea is judged with."""
    ctx.require(*SCREENERS)
    queue = await load(ctx.api.screening_queue(), [])
    template = await load(ctx.api.screening_template(), {})
    return render(
        ctx,
        "screening.html",
        title=ctx.t("screening.title"),
        queue=queue,
        template=template,
        names=unit_names(await ctx.org_units()),
    )


@router.get("/decisions", response_class=HTMLResponse)
async def decisions(ctx: C) -> Response:
    """Ideas waiting for this manager's or management group's decision."""
    user = ctx.require(*DECIDERS)
    queue = await load(ctx.api.decision_queue(), [])
    return render(
        ctx,
        "queue.html",
        title=ctx.t("decision.title"),
        intro="decision.intro",
        queue=queue,
        names=unit_names(await ctx.org_units()),
        can_escalate=user.has(*MANAGERS),
    )


@router.post("/decisions/{idea_id}/escalate")
async def escalate(ctx: C, idea_id: str) -> Response:
    """A unit or department manager hands a quick win to the management group."""
    ctx.require(*MANAGERS)
    form = await read_form(ctx.request)
    try:
        await ctx.api.escalate(idea_id, one(form, "motivation"))
    except (ApiProblem, ServiceDown) as exc:
        return redirect(ctx, "/decisions", error=exc)
    return redirect(ctx, "/decisions", ok="decision.escalated")


@router.get("/offers", response_class=HTMLResponse)
async def offers(ctx: C) -> Response:
    """Ideas fellow network members offer, to adopt as one's own."""
    ctx.require(*ADOPTERS)
    items = await load(ctx.api.network_offers(), [])
    return render(ctx, "offers.html", title=ctx.t("offers.title"), items=items)


@router.post("/offers/{idea_id}/adopt")
async def adopt(ctx: C, idea_id: str) -> Response:
    """Adopt an offered idea as a new idea of one's own tenant."""
    ctx.require(*ADOPTERS)
    form = await read_form(ctx.request)
    try:
        await ctx.api.adopt(idea_id, one(form, "origin_tenant") or "")
    except (ApiProblem, ServiceDown) as exc:
        return redirect(ctx, "/offers", error=exc)
    return redirect(ctx, "/offers", ok="offers.adopted")


@router.get("/implementation", response_class=HTMLResponse)
async def implementation(ctx: C) -> Response:
    """Ideas the implementer carries out (approved and in implementation)."""
    ctx.require("implementer")
    items: list[dict[str, Any]] = []
    state: Loaded[list[dict[str, Any]]] = Loaded([])
    for status in ("approved", "in_implementation", "implemented"):
        got = await load(ctx.api.ideas(status=status), [])
        items += got.value
        if not got.ok:
            state = got
    state.value = items
    return render(
        ctx,
        "queue.html",
        title=ctx.t("impl.title"),
        intro="impl.intro",
        queue=state,
        names=unit_names(await ctx.org_units()),
    )


@router.get("/announcements", response_class=HTMLResponse)
async def announcements(ctx: C) -> Response:
    """The communicator's announcements waiting for approval."""
    ctx.require("communicator")
    items = await load(ctx.api.announcements(), [])
    return render(ctx, "announcements.html", title=ctx.t("ann.title"), items=items)


@router.post("/announcements/{announcement_id}/approve")
async def approve_announcement(ctx: C, announcement_id: str) -> Response:
    """Approve an announcement (with the communicator's edits)."""
    ctx.require("communicator")
    form = await read_form(ctx.request)
    body = _drop_none({"headline": one(form, "headline"), "body": one(form, "body")})
    try:
        await ctx.api.approve_announcement(announcement_id, body)
    except (ApiProblem, ServiceDown) as exc:
        return redirect(ctx, "/announcements", error=exc)
    return redirect(ctx, "/announcements", ok="notice.saved")


# --- administration ---------------------------------------------------------------------------


@router.get("/admin", response_class=HTMLResponse)
async def admin(ctx: C, all_people: str | None = None) -> Response:
    """The tenant admin's org units, headcounts, targets, template, people and webhooks."""
    ctx.require("tenant_admin")
    tenancy = await load(ctx.api.tenancy(), {})
    template = await load(ctx.api.screening_template(), {})
    hooks = await load(ctx.api.webhooks(), [])
    units = tenancy.value.get("org_units") or []
    year = date.today().year
    headcounts = [h for h in tenancy.value.get("headcounts") or [] if h.get("year") == year]
    people = tenancy.value.get("people") or []
    template_json = json.dumps(
        {
            "criteria": [
                {k: c.get(k) for k in ("key", "label", "description", "scale_max", "weight")}
                for c in template.value.get("criteria") or []
            ]
        },
        ensure_ascii=False,
        indent=2,
    )
    return render(
        ctx,
        "admin.html",
        title=ctx.t("admin.title"),
        tenancy=tenancy,
        units=units,
        names=unit_names(units),
        headcounts=headcounts,
        year=year,
        targets=sorted(tenancy.value.get("targets") or [], key=lambda x: x.get("year", 0)),
        people=people if all_people else people[:25],
        people_total=len(people),
        template=template,
        template_json=template_json,
        hooks=hooks,
        roles=ROLES,
    )


@router.post("/admin/{part}")
async def admin_change(ctx: C, part: str) -> Response:
    """Apply one administrative change through the owning service."""
    ctx.require("tenant_admin")
    form = await read_form(ctx.request)
    try:
        if part == "headcount":
            await ctx.api.put_tenancy(
                {
                    "headcounts": [
                        {
                            "org_unit_id": one(form, "org_unit_id"),
                            "year": int(one(form, "year") or date.today().year),
                            "headcount": int(one(form, "headcount") or 0),
                        }
                    ]
                }
            )
        elif part == "target":
            await ctx.api.put_tenancy(
                {
                    "targets": [
                        _drop_none(
                            {
                                "year": int(one(form, "year") or date.today().year),
                                "ideas_per_employee": number(one(form, "ideas_per_employee")),
                                "administration_id": one(form, "administration_id"),
                            }
                        )
                    ]
                }
            )
        elif part == "person":
            await ctx.api.put_tenancy(
                {
                    "people": [
                        _drop_none(
                            {
                                "id": one(form, "id"),
                                "name": one(form, "name"),
                                "email": one(form, "email"),
                                "language": one(form, "language") or "sv",
                                "org_unit_id": one(form, "org_unit_id"),
                                "roles": form.get("roles") or ["employee"],
                            }
                        )
                    ]
                }
            )
        elif part == "template":
            try:
                document = json.loads(one(form, "template") or "{}")
            except ValueError:
                raise ApiProblem(422, "Invalid", "JSON", "template") from None
            await ctx.api.put_screening_template(document)
        elif part == "webhook":
            types = [x.strip() for x in (one(form, "event_types") or "").split(",") if x.strip()]
            await ctx.api.add_webhook(
                _drop_none({"url": one(form, "url"), "event_types": types or None})
            )
    except ValueError:
        return redirect(ctx, "/admin", error=ApiProblem(422, "Invalid", part, part))
    except (ApiProblem, ServiceDown) as exc:
        return redirect(ctx, f"/admin#{part}", error=exc)
    return redirect(ctx, f"/admin#{part}", ok="notice.saved")


# --- reporting --------------------------------------------------------------------------------


@router.get("/kpis", response_class=HTMLResponse)
async def kpis(ctx: C, year: int | None = None, org_unit: str | None = None) -> Response:
    """KPI dashboard with charts."""
    ctx.require("management", "tenant_admin", "innovation_group", "ambassador")
    year = year or date.today().year
    got = await load(ctx.api.kpis(year=year, org_unit=org_unit or None), {})
    units = await ctx.org_units()
    data = got.value
    t = ctx.t
    monthly = [
        (str(m.get("month", ""))[-2:], float(m.get("submitted") or 0))
        for m in data.get("by_month") or []
    ]
    by_admin = [
        (str(a.get("name") or a.get("administration")), float(a.get("submitted") or 0))
        for a in data.get("by_administration") or []
    ]
    return render(
        ctx,
        "kpis.html",
        title=t("kpi.title"),
        kpis=got,
        figures=kpi_figures(data),
        year=year,
        org_unit=org_unit,
        units=units,
        years=list(range(date.today().year, 2022, -1)),
        monthly_chart=charts.line_chart(t("kpi.by_month"), monthly) if monthly else None,
        admin_chart=charts.bar_chart(
            t("kpi.submitted"),
            by_admin,
        )
        if by_admin
        else None,
    )


KPI_FIGURES = (
    ("submitted", "kpi.submitted", "int"),
    ("ideas_per_employee", "kpi.per_employee", "num"),
    ("target_ideas_per_employee", "kpi.target", "num"),
    ("share_screened", "kpi.screened", "pct"),
    ("median_days_to_first_feedback", "kpi.median_feedback", "num"),
    ("share_with_motivation", "kpi.motivated", "pct"),
    ("implemented", "kpi.implemented", "int"),
    ("implementation_rate", "kpi.rate", "pct"),
)


def kpi_figures(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline KPIs as (label key, shown value), in a fixed order."""
    out = [(label, show_value(data.get(key), kind)) for key, label, kind in KPI_FIGURES]
    benefit = data.get("benefit") or {}
    if isinstance(benefit, dict):
        currency = str(data.get("currency") or "")
        out.append(("kpi.benefit", f"{show_value(benefit.get('money'), 'num')} {currency}".strip()))
        out.append(("kpi.hours", show_value(benefit.get("hours"), "num")))
    return out


def show_value(value: Any, kind: str = "num") -> str:
    """A figure for people: shares as percent, numbers rounded, missing as a dash."""
    if isinstance(value, dict):
        if value.get("suppressed"):
            return "–"
        value = value.get("value")
    number_ = _float(value)
    if number_ is None:
        return "–"
    if kind == "pct":
        return f"{number_ * 100:.0f} %"
    if kind == "int" or number_ == int(number_):
        return f"{number_:,.0f}".replace(",", "\u202f")
    return f"{number_:.2f}"


COMPARISON_COLUMNS = (
    ("submitted", "kpi.submitted", "int"),
    ("ideas_per_employee", "kpi.per_employee", "num"),
    ("share_screened", "kpi.screened", "pct"),
    ("median_days_to_first_feedback", "kpi.median_feedback", "num"),
    ("implementation_rate", "kpi.rate", "pct"),
)


@router.get("/network", response_class=HTMLResponse)
async def network(ctx: C, network: str | None = None, year: int | None = None) -> Response:
    """The network comparison: aggregates only, small cells suppressed."""
    ctx.require("network_coordinator", "tenant_admin", "management")
    year = year or date.today().year
    network = network or "skl-idenatverk"
    got = await load(ctx.api.comparison(network, year=year), {})
    members = got.value.get("members") or []
    rows = [
        {
            "name": m.get("name") or m.get("tenant"),
            "cells": [
                (
                    show_value((m.get("figures") or {}).get(key), kind),
                    bool(((m.get("figures") or {}).get(key) or {}).get("suppressed")),
                )
                for key, _label, kind in COMPARISON_COLUMNS
            ],
        }
        for m in members
    ]
    bars = []
    for m in members:
        cell = (m.get("figures") or {}).get("ideas_per_employee") or {}
        value = _float(cell.get("value")) if isinstance(cell, dict) else None
        if value is not None:
            bars.append((str(m.get("name") or m.get("tenant")), value))
    return render(
        ctx,
        "network.html",
        title=ctx.t("net.title"),
        comparison=got,
        rows=rows,
        network=network,
        year=year,
        years=list(range(date.today().year, 2022, -1)),
        chart=charts.bar_chart(ctx.t("kpi.per_employee"), bars) if bars else None,
        columns=[label for _key, label, _kind in COMPARISON_COLUMNS],
    )


@router.get("/board-report", response_class=HTMLResponse)
async def board_report(ctx: C) -> Response:
    """Links to the board report in each format, for a chosen period."""
    ctx.require("management", "innovation_group", "tenant_admin", "communicator")
    today = date.today()
    return render(
        ctx,
        "board.html",
        title=ctx.t("board.title"),
        start=date(today.year, 1, 1).isoformat(),
        end=today.isoformat(),
    )


@router.get("/board-report/download")
async def board_report_download(
    ctx: C, format: str = "html", start: str | None = None, end: str | None = None
) -> Response:
    """Proxy the board report from reporting with the person's token."""
    ctx.require("management", "innovation_group", "tenant_admin", "communicator")
    fmt = format if format in ("html", "pdf", "csv") else "html"
    params = {"format": fmt, "from": start, "to": end}
    resp = await ctx.api.send("reporting", "GET", "/v1/board-report", params=params)
    if resp.status_code >= 400:
        return render(ctx, "message.html", resp.status_code, message="notice.error")
    headers = {}
    if fmt != "html":
        headers["Content-Disposition"] = f'attachment; filename="board-report.{fmt}"'
    return Response(
        resp.content,
        media_type=resp.headers.get("content-type", "text/html"),
        headers=headers,
    )


# --- public channel (no sign-in) -------------------------------------------------------------


@router.get("/public", response_class=HTMLResponse)
async def public_choose(ctx: C) -> Response:
    """Residents choose their municipality."""
    return render(
        ctx,
        "public.html",
        title=ctx.t("public.title"),
        tenants=ctx.settings.demo_tenants,
        tenant=None,
        values={},
    )


@router.get("/public/{tenant}", response_class=HTMLResponse)
async def public_form(ctx: C, tenant: str) -> Response:
    """The low-threshold form for residents and service users."""
    if tenant not in ctx.settings.demo_tenants:
        return render(ctx, "message.html", 404, message="notice.not_found")
    return render(
        ctx,
        "public.html",
        title=ctx.t("public.title"),
        tenants=ctx.settings.demo_tenants,
        tenant=tenant,
        values={},
        sent=bool((ctx.flash or {}).get("ok")),
    )


@router.post("/public/{tenant}", response_class=HTMLResponse)
async def public_submit(ctx: C, tenant: str) -> Response:
    """Send a resident's idea to intake's public endpoint (rate limited there)."""
    if tenant not in ctx.settings.demo_tenants:
        return render(ctx, "message.html", 404, message="notice.not_found")
    form = await read_form(ctx.request)
    body = _drop_none(
        {
            "title": one(form, "title"),
            "description": one(form, "description"),
            "problem": one(form, "problem") or one(form, "description"),
            "category": one(form, "category") or "other",
            "contact_email": one(form, "contact_email"),
            "language": ctx.lang,
        }
    )
    anonymous = Services(ctx.request.app.state.http, ctx.settings.service_urls(), None)
    try:
        client = ctx.request.client.host if ctx.request.client else None
        await anonymous.submit_public(tenant, body, client)
    except (ApiProblem, ServiceDown) as exc:
        return render(
            ctx,
            "public.html",
            422 if isinstance(exc, ApiProblem) else 503,
            title=ctx.t("public.title"),
            tenants=ctx.settings.demo_tenants,
            tenant=tenant,
            values=body,
            problem=exc if isinstance(exc, ApiProblem) else None,
            down=isinstance(exc, ServiceDown),
        )
    return redirect(ctx, f"/public/{tenant}", ok="public.thanks")
