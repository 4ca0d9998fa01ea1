"""Demo ideas: a few years of history in every status of the lifecycle, loaded through the APIs.

Each idea is walked step by step through the services' public HTTP APIs, as its people would,
with the demo clock moved to the day each step happened. The services learn of each step only
from events, so every next call is retried until the service it goes to has caught up.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from ideabank_infra.issuer import LocalIssuer

from ideabank_cli.demo_org import ADMINISTRATIONS, NETWORK, DemoPerson, DemoTenant

# Final statuses and how many ideas of each a municipality gets (scaled by size).
PLAN: tuple[tuple[str, int], ...] = (
    ("in_screening", 3),
    ("screening_rejected", 2),
    ("paused", 2),
    ("quick_win", 2),
    ("quick_win_done", 2),
    ("in_development", 2),
    ("awaiting_decision", 2),
    ("decision_rejected", 1),
    ("deferred", 1),
    ("approved", 1),
    ("in_implementation", 2),
    ("implemented", 2),
    ("evaluated", 3),
    ("spread", 2),
    ("withdrawn", 1),
    ("merged", 1),
)

TOPICS = (
    (
        "Digital signering av scheman",
        "Scheman skrivs ut och signeras på papper varje vecka.",
        "Vi lägger mycket tid på att samla in underskrifter.",
        "administration",
    ),
    (
        "Gemensam bilpool för hemtjänsten",
        "Bilarna står still halva dagen i varje grupp.",
        "Vi har fler bilar än vi behöver och det kostar.",
        "resurser",
    ),
    (
        "Matsvinnet i skolmatsalen",
        "Vi slänger mycket mat varje dag.",
        "Portionerna passar inte barnens ålder.",
        "miljö",
    ),
    (
        "Nyckelfri låsning i särskilt boende",
        "Nycklar kommer bort och måste bytas.",
        "Det tar tid och är en säkerhetsrisk.",
        "säkerhet",
    ),
    (
        "Introduktionspaket för nyanställda",
        "Nya kollegor får olika information.",
        "Introduktionen ser olika ut i varje grupp.",
        "kompetens",
    ),
    (
        "Sensorer för lokalvård efter behov",
        "Vi städar rum som inte använts.",
        "Städschemat följer inte hur lokalerna används.",
        "effektivisering",
    ),
    (
        "Läsvänliga brev till brukare",
        "Breven är svåra att förstå.",
        "Många ringer och frågar vad breven betyder.",
        "kommunikation",
    ),
    (
        "Delad kalender för vikarier",
        "Vikarier bokas i flera system.",
        "Dubbelbokningar och luckor uppstår.",
        "administration",
    ),
    (
        "Cykelpool för korta tjänsteresor",
        "Korta resor görs med bil.",
        "Det kostar och ger utsläpp i onödan.",
        "miljö",
    ),
    (
        "Mobil dokumentation på plats",
        "Vi dokumenterar först när vi är tillbaka.",
        "Dokumentationen blir sen och ofullständig.",
        "digitalisering",
    ),
    (
        "Återbruk av möbler mellan enheter",
        "Möbler köps nya fast andra har över.",
        "Ingen vet vad som finns att låna.",
        "resurser",
    ),
    (
        "Frukostmöte för idéutbyte",
        "Idéer stannar i varje arbetsgrupp.",
        "Vi lär inte av varandra.",
        "kultur",
    ),
)


def _admin_key(person: DemoPerson, slug: str) -> str:
    for key, _, departments in ADMINISTRATIONS:
        ids = {f"{slug}-{key}"} | {f"{slug}-{d[0]}" for d in departments}
        ids |= {f"{slug}-{u}" for d in departments for u in d[2]}
        if person.org_unit_id in ids:
            return key
    raise KeyError(person.org_unit_id)


@dataclass
class Actors:
    """Who plays which part for ideas of one administration."""

    giver: DemoPerson
    ambassador: DemoPerson
    management: DemoPerson
    implementer: DemoPerson
    unit_manager: DemoPerson
    communicator: DemoPerson


@dataclass
class Loader:
    """Walks demo ideas through the lifecycle over HTTP."""

    data_dir: Path
    ports: dict[str, int]
    issuer: LocalIssuer
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    real_start: datetime = field(default_factory=lambda: datetime.now(UTC))
    calls: int = 0

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def at(self, when: datetime) -> None:
        """Move the demo clock to ``when`` (never past the real now)."""
        now = datetime.now(UTC)
        offset = min(0.0, (when - now).total_seconds())
        (self.data_dir / "demo-clock").write_text(f"{offset:.3f}\n")

    def token(self, tenant: str, person: DemoPerson) -> dict[str, str]:
        tok = self.issuer.mint(
            tenant=tenant, roles=person.roles, person=person.id, org_unit=person.org_unit_id
        )
        return {"Authorization": f"Bearer {tok}"}

    def call(
        self,
        service: str,
        method: str,
        path: str,
        headers: dict[str, str],
        body: Any = None,
        retry: Callable[[httpx.Response], bool] | None = None,
        timeout: float = 20.0,
    ) -> Any:
        """Call an API; while the service has not caught up (404/409/403), retry."""
        deadline = time.monotonic() + timeout
        while True:
            resp = self.client.request(method, self.url(service, path), headers=headers, json=body)
            self.calls += 1
            if resp.status_code < 300:
                return resp.json() if resp.content else None
            waiting = resp.status_code in (403, 404, 409) if retry is None else retry(resp)
            if not waiting or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{method} {service}{path} → {resp.status_code}: {resp.text[:300]}"
                )
            time.sleep(0.03)


def _actors(tenant: DemoTenant, admin_key: str, rng: random.Random) -> Actors:
    slug = tenant.municipality.slug
    mine = [p for p in tenant.people if _admin_key(p, slug) == admin_key]

    def with_role(role: str, unit_level: bool = False) -> DemoPerson:
        options = [p for p in mine if role in p.roles]
        if unit_level:
            options = [p for p in options if p.org_unit_id.count("-") >= 2] or options
        return options[0]

    employees = [p for p in mine if p.roles == ["employee"]]
    giver = rng.choice(employees)
    unit_managers = [p for p in mine if "unit_manager" in p.roles]
    unit_manager = next(
        (p for p in unit_managers if p.org_unit_id == giver.org_unit_id), unit_managers[0]
    )
    implementers = [p for p in mine if "implementer" in p.roles]
    return Actors(
        giver=giver,
        ambassador=with_role("ambassador"),
        management=with_role("management"),
        implementer=rng.choice(implementers),
        unit_manager=unit_manager,
        communicator=with_role("communicator"),
    )


def _scores(rng: random.Random, high: bool) -> list[dict[str, Any]]:
    keys = ("mission", "reach", "public_benefit", "effect_vs_resources")
    lo, hi = (3, 5) if high else (1, 3)
    return [
        {"criterion_key": k, "score": rng.randint(lo, hi), "note": "Bedömt enligt mallen."}
        for k in keys
    ]


def walk(
    loader: Loader,
    tenant: DemoTenant,
    final: str,
    submitted: datetime,
    rng: random.Random,
    topic: tuple[str, str, str, str],
    offered: list[tuple[str, str]],
) -> str:
    """Take one idea to its final status; return its id."""
    slug = tenant.municipality.slug
    admin_key = rng.choice([a[0] for a in ADMINISTRATIONS])
    who = _actors(tenant, admin_key, rng)
    title, problem, description, category = topic
    when = submitted

    def step(days: int) -> datetime:
        nonlocal when
        when = min(when + timedelta(days=days, hours=rng.randint(1, 6)), loader.real_start)
        loader.at(when)
        return when

    loader.at(when)
    giver = loader.token(slug, who.giver)
    created = loader.call(
        "intake",
        "POST",
        "/v1/ideas",
        giver,
        {
            "title": title,
            "description": description,
            "problem": problem,
            "proposed_solution": "Vi testar i liten skala och utvärderar efter en månad.",
            "expected_benefit": "Mindre tid på administration och nöjdare brukare.",
            "org_unit_id": who.giver.org_unit_id,
            "category": category,
        },
    )
    idea_id: str = created["idea"]["id"]
    if final == "withdrawn":
        step(rng.randint(1, 5))
        loader.call("intake", "POST", f"/v1/ideas/{idea_id}/withdraw", giver, {})
        return idea_id
    if final == "merged":
        # A second, near-identical idea, merged into the first by the ambassador.
        twin = loader.call(
            "intake",
            "POST",
            "/v1/ideas",
            loader.token(slug, who.giver),
            {
                "title": title + " (igen)",
                "description": description,
                "problem": problem,
                "org_unit_id": who.giver.org_unit_id,
                "category": category,
            },
        )
        step(rng.randint(1, 5))
        loader.call(
            "intake",
            "POST",
            f"/v1/ideas/{twin['idea']['id']}/merge",
            loader.token(slug, who.ambassador),
            {"into_idea_id": idea_id, "motivation": "Samma idé som en tidigare."},
        )
        return idea_id
    if rng.random() < 0.6:
        colleague = rng.choice([p for p in tenant.people if p.id != who.giver.id])
        step(rng.randint(0, 3))
        loader.call(
            "intake",
            "POST",
            f"/v1/ideas/{idea_id}/comments",
            loader.token(slug, colleague),
            {"body": "Bra idé! Vi har samma problem hos oss."},
        )
        loader.call(
            "intake", "POST", f"/v1/ideas/{idea_id}/supports", loader.token(slug, colleague)
        )
    if final == "in_screening":
        return idea_id

    ambassador = loader.token(slug, who.ambassador)
    step(rng.randint(2, 20))
    today = loader.real_start.date()
    outcome = {
        "screening_rejected": "rejected",
        "paused": "paused",
        "quick_win": "quick_win",
        "quick_win_done": "quick_win",
    }.get(final, "in_development")
    screening: dict[str, Any] = {
        "scores": _scores(rng, outcome != "rejected"),
        "outcome": outcome,
        "motivation": {
            "rejected": "Idén ligger utanför förvaltningens uppdrag just nu.",
            "paused": "Bra idé, men vi tar upp den när den nya budgeten är beslutad.",
            "quick_win": "Enkel att genomföra direkt i enheten.",
            "in_development": "Lovande: vi utvecklar den tillsammans med idégivaren.",
        }[outcome],
    }
    if outcome == "paused":
        screening["revisit_date"] = (today + timedelta(days=rng.randint(20, 120))).isoformat()
    loader.call("evaluation", "POST", f"/v1/ideas/{idea_id}/screening", ambassador, screening)
    if final in ("screening_rejected", "paused", "quick_win", "in_development"):
        return idea_id

    if final == "quick_win_done":
        manager = loader.token(slug, who.unit_manager)
        step(rng.randint(3, 15))
        loader.call(
            "decision",
            "POST",
            f"/v1/ideas/{idea_id}/decision",
            manager,
            {
                "outcome": "approved",
                "kind": "direct",
                "implementer_id": who.unit_manager.id,
                "resources": "Ryms i enhetens ordinarie arbete.",
                "motivation": "Vi gör det direkt.",
            },
        )
        return idea_id

    step(rng.randint(10, 40))
    loader.call(
        "evaluation",
        "POST",
        f"/v1/ideas/{idea_id}/decision-basis",
        ambassador,
        {
            "description": f"Beslutsunderlag: {title}.",
            "estimated_cost": {"amount": str(rng.randint(5, 80) * 1000), "currency": "SEK"},
            "estimated_effort_hours": str(rng.randint(20, 300)),
            "resources_needed": "En projektledare och två medarbetare under en period.",
            "effects_short_term": "Mindre dubbelarbete redan första månaden.",
            "effects_long_term": "Frigjord tid för kärnuppdraget.",
            "risks": "Ovana vid nytt arbetssätt.",
            "proposed_implementer_id": who.implementer.id,
            "proposed_indicators": [
                {
                    "name": "Tid för administration",
                    "unit": "timmar/vecka",
                    "baseline": "12",
                    "target": "6",
                    "direction": "decrease",
                }
            ],
        },
    )
    if final == "awaiting_decision":
        return idea_id

    management = loader.token(slug, who.management)
    step(rng.randint(5, 20))
    decision: dict[str, Any] = {
        "decision_rejected": {
            "outcome": "rejected",
            "motivation": "Kostnaden är för hög i förhållande till nyttan i år.",
        },
        "deferred": {
            "outcome": "deferred",
            "motivation": "Vi väntar in den nya organisationen.",
            "revisit_date": (today + timedelta(days=rng.randint(30, 150))).isoformat(),
        },
    }.get(
        final,
        {
            "outcome": "approved",
            "kind": rng.choice(["assignment", "project", "direct"]),
            "implementer_id": who.implementer.id,
            "resources": "Projektledare 20 % under tre månader.",
            "motivation": "Idén ger tydlig nytta för både medarbetare och brukare.",
        },
    )
    loader.call("decision", "POST", f"/v1/ideas/{idea_id}/decision", management, decision)
    if final in ("decision_rejected", "deferred", "approved"):
        return idea_id

    implementer = loader.token(slug, who.implementer)
    start = step(rng.randint(7, 20)).date()
    loader.call(
        "decision",
        "POST",
        f"/v1/ideas/{idea_id}/plan",
        implementer,
        {
            "milestones": [
                {"title": "Första prövning", "due": (start + timedelta(days=14)).isoformat()},
                {"title": "Andra prövning", "due": (start + timedelta(days=35)).isoformat()},
                {"title": "Införande", "due": (start + timedelta(days=70)).isoformat()},
            ],
            "made_with_idea_giver": True,
        },
    )
    indicator = loader.call(
        "decision",
        "POST",
        f"/v1/ideas/{idea_id}/indicators",
        implementer,
        {
            "name": "Tid för administration",
            "unit": "timmar/vecka",
            "baseline": "12",
            "target": "6",
            "direction": "decrease",
            "cadence": "monthly",
            "tolerance_percent": "15",
        },
    )
    if final == "in_implementation":
        return idea_id
    for n, verdict in enumerate(("adapt", "adopt")):
        trial_start = step(rng.randint(14, 30)).date()
        loader.call(
            "decision",
            "POST",
            f"/v1/ideas/{idea_id}/trials",
            implementer,
            {
                "hypothesis": f"Prövning {n + 1}: det nya arbetssättet sparar tid.",
                "start": (trial_start - timedelta(days=14)).isoformat(),
                "end": trial_start.isoformat(),
                "result": "Det fungerade, med justeringar." if verdict == "adapt" else "Det höll.",
                "verdict": verdict,
            },
        )
    step(rng.randint(10, 30))
    loader.call("decision", "POST", f"/v1/ideas/{idea_id}/implemented", implementer, {})
    if final == "implemented":
        return idea_id
    value = 12.0
    for _ in range(4):
        value -= rng.uniform(0.8, 2.0)
        measured = step(rng.randint(25, 35)).date()
        loader.call(
            "decision",
            "POST",
            f"/v1/ideas/{idea_id}/measurements",
            implementer,
            {
                "indicator_id": indicator.get("indicator_id") or indicator.get("id"),
                "value": f"{value:.1f}",
                "measured_at": measured.isoformat(),
                "corrective_action": "Påminnelse om nya rutinen på arbetsplatsträffen.",
            },
        )
    step(rng.randint(20, 60))
    loader.call(
        "decision",
        "POST",
        f"/v1/ideas/{idea_id}/evaluation",
        implementer,
        {
            "realised_benefit": {"amount": str(rng.randint(20, 400) * 1000), "currency": "SEK"},
            "hours": str(rng.randint(50, 900)),
            "benefit_description": "Frigjord tid som går till brukarna.",
            "lessons_learned": "Små prövningar gjorde det lätt att ändra kurs i tid.",
        },
    )
    if final == "evaluated":
        return idea_id
    step(rng.randint(5, 20))
    loader.call("decision", "POST", f"/v1/ideas/{idea_id}/offer", management, {})
    offered.append((slug, idea_id))
    return idea_id


def adopt(loader: Loader, tenants: list[DemoTenant], offered: list[tuple[str, str]]) -> int:
    """Let other municipalities of the network adopt some offered ideas."""
    count = 0
    for i, (origin, idea_id) in enumerate(offered):
        if i % 2:
            continue
        taker = next(
            t for t in tenants[(i % len(tenants)) :] + tenants if t.municipality.slug != origin
        )
        manager = taker.person_with("management")
        loader.at(loader.real_start - timedelta(days=20 - i))
        loader.call(
            "decision",
            "POST",
            f"/v1/ideas/{idea_id}/adopt",
            loader.token(taker.municipality.slug, manager),
            {"origin_tenant": origin},
        )
        count += 1
    return count


def load_demo_ideas(
    data_dir: Path, ports: dict[str, int], tenants: list[DemoTenant], seed: int = 2019
) -> int:
    """Load the demo ideas of every tenant; returns how many were made."""
    loader = Loader(data_dir, ports, LocalIssuer(data_dir / "issuer"))
    rng = random.Random(seed)
    jobs: list[tuple[datetime, DemoTenant, str]] = []
    first = datetime(2023, 1, 9, 8, tzinfo=UTC)
    for tenant in tenants:
        scale = 1 + (tenant.municipality.size >= 5)
        for final, n in PLAN:
            for _ in range(n * scale if final in ("evaluated", "in_screening") else n):
                # Later stages happened to older ideas; the open ones are recent.
                progress = [s for s, _ in PLAN].index(final) / len(PLAN)
                newest = 0.95 if final in ("in_screening", "paused", "quick_win") else 0.75
                span = (loader.real_start - first).days
                days = int(span * rng.uniform(0.0, newest) * (1.0 - 0.5 * progress))
                if final in ("in_screening",):
                    days = span - rng.randint(3, 40)
                jobs.append((first + timedelta(days=days), tenant, final))
    jobs.sort(key=lambda j: j[0])
    offered: list[tuple[str, str]] = []
    started = time.monotonic()
    try:
        for i, (when, tenant, final) in enumerate(jobs, 1):
            walk(loader, tenant, final, when, rng, TOPICS[i % len(TOPICS)], offered)
            if i % 10 == 0 or i == len(jobs):
                print(
                    f"\r  demo ideas: {i}/{len(jobs)} walked through their lifecycle "
                    f"({time.monotonic() - started:.0f}s)",
                    end="",
                    flush=True,
                )
        print(flush=True)
        adopted = adopt(loader, tenants, offered)
        print(f"  demo: {adopted} ideas adopted across the network {NETWORK}", flush=True)
    finally:
        (data_dir / "demo-clock").unlink(missing_ok=True)
    return len(jobs)
