"""Demo organisations of the five network municipalities (SKL network, seeds/001).

Deterministic: the same ids every run, so tokens minted for demo people keep working and a
second start recognises what is already there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NETWORK = "skl-idenatverk"
YEARS = (2023, 2024, 2025, 2026)


@dataclass(frozen=True)
class Municipality:
    slug: str
    name: str
    size: int  # rough scale of headcounts


MUNICIPALITIES = (
    Municipality("boras", "Borås Stad", 10),
    Municipality("malung-salen", "Malung-Sälens kommun", 2),
    Municipality("motala", "Motala kommun", 5),
    Municipality("pitea", "Piteå kommun", 5),
    Municipality("vetlanda", "Vetlanda kommun", 3),
)

ADMINISTRATIONS = (
    (
        "vof",
        "Vård- och omsorgsförvaltningen",
        (
            ("hemtjanst", "Hemtjänst", ("hemtjanst-norr", "hemtjanst-syd")),
            ("sabo", "Särskilt boende", ("sabo-solgarden", "sabo-ekbacken")),
        ),
    ),
    (
        "utb",
        "Utbildningsförvaltningen",
        (
            ("forskola", "Förskola", ("forskola-lonnen", "forskola-bjorken")),
            ("grundskola", "Grundskola", ("skola-centrum", "skola-vaster")),
        ),
    ),
    (
        "sbk",
        "Servicekontoret",
        (
            ("fastighet", "Fastighet", ("fastighet-drift", "fastighet-lokalvard")),
            ("kost", "Kost", ("kost-centralkok", "kost-mottagning")),
        ),
    ),
)

FIRST = (
    "Anna",
    "Erik",
    "Maria",
    "Lars",
    "Karin",
    "Johan",
    "Sara",
    "Anders",
    "Emma",
    "Per",
    "Lena",
    "Mikael",
    "Eva",
    "Nils",
    "Ida",
    "Olof",
    "Sofia",
    "Jonas",
    "Elin",
    "Fredrik",
    "Hanna",
    "Magnus",
    "Linnea",
    "Henrik",
    "Maja",
    "Oskar",
    "Ebba",
    "Gustav",
    "Alva",
    "Viktor",
)
LAST = (
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Lindberg",
    "Lindqvist",
    "Berglund",
    "Holm",
    "Sandberg",
)
# A few colleagues prefer another language than Swedish.
LANGUAGES = {7: "nb", 13: "da", 19: "en"}


@dataclass
class DemoPerson:
    id: str
    name: str
    email: str
    language: str
    org_unit_id: str
    roles: list[str]


@dataclass
class DemoTenant:
    municipality: Municipality
    document: dict[str, Any]
    people: list[DemoPerson] = field(default_factory=list)

    def person_with(self, role: str, administration: str | None = None) -> DemoPerson:
        """The first demo person holding ``role`` (in an administration, if given)."""
        for p in self.people:
            if role in p.roles and (
                administration is None
                or p.org_unit_id.startswith(f"{self.municipality.slug}-{administration}")
                or p.org_unit_id == f"{self.municipality.slug}-{administration}"
            ):
                return p
        raise KeyError(f"no demo person with role {role} in {self.municipality.slug}")


def _slugify(text: str) -> str:
    table = str.maketrans("åäöéÅÄÖÉ", "aaoeaaoe")
    return text.translate(table).lower()


def build_tenant(m: Municipality) -> DemoTenant:
    """The whole tenancy document of one demo municipality."""
    t = m.slug
    org_units: list[dict[str, Any]] = []
    headcounts: list[dict[str, Any]] = []
    people: list[DemoPerson] = []
    counter = 0

    def person(org_unit: str, roles: list[str]) -> DemoPerson:
        nonlocal counter
        counter += 1
        first = FIRST[(counter * 7 + len(t)) % len(FIRST)]
        last = LAST[(counter * 3 + len(t)) % len(LAST)]
        p = DemoPerson(
            id=f"{t}-p{counter:03d}",
            name=f"{first} {last}",
            email=f"{_slugify(first)}.{_slugify(last)}.{counter}@{t}.example",
            language=LANGUAGES.get(counter, "sv"),
            org_unit_id=org_unit,
            roles=roles,
        )
        people.append(p)
        return p

    first_admin = f"{t}-{ADMINISTRATIONS[0][0]}"
    for admin_key, admin_name, departments in ADMINISTRATIONS:
        admin_id = f"{t}-{admin_key}"
        org_units.append({"id": admin_id, "kind": "administration", "name": admin_name})
        person(admin_id, ["employee", "management"])
        person(admin_id, ["employee", "management", "implementer"])
        person(admin_id, ["employee", "ambassador"])
        person(admin_id, ["employee", "innovation_group"])
        person(admin_id, ["employee", "communicator"])
        for dep_key, dep_name, units in departments:
            dep_id = f"{t}-{dep_key}"
            org_units.append(
                {"id": dep_id, "kind": "department", "name": dep_name, "parent_id": admin_id}
            )
            person(dep_id, ["employee", "department_manager"])
            for unit_key in units:
                unit_id = f"{t}-{unit_key}"
                unit_name = unit_key.split("-", 1)[1].replace("-", " ").title()
                org_units.append(
                    {
                        "id": unit_id,
                        "kind": "unit",
                        "name": f"{dep_name} {unit_name}",
                        "parent_id": dep_id,
                    }
                )
                person(unit_id, ["employee", "unit_manager"])
                person(unit_id, ["employee", "implementer"])
                person(unit_id, ["employee"])
                person(unit_id, ["employee"])
                for year in YEARS:
                    base = 12 + (len(unit_key) * 5) % 30
                    headcounts.append(
                        {
                            "org_unit_id": unit_id,
                            "year": year,
                            "headcount": base * m.size + (year - 2023) * m.size,
                        }
                    )
    person(first_admin, ["employee", "tenant_admin"])
    person(first_admin, ["employee", "network_coordinator"])
    ambassadors = [
        {
            "administration_id": f"{t}-{a[0]}",
            "person_id": next(
                p.id for p in people if p.org_unit_id == f"{t}-{a[0]}" and "ambassador" in p.roles
            ),
        }
        for a in ADMINISTRATIONS
    ]
    document = {
        "tenant": {"name": m.name, "country": "SE", "default_language": "sv", "currency": "SEK"},
        "org_units": org_units,
        "headcounts": headcounts,
        "targets": [{"year": y, "ideas_per_employee": "0.5" if y < 2025 else "1.0"} for y in YEARS],
        "people": [
            {
                "id": p.id,
                "name": p.name,
                "email": p.email,
                "language": p.language,
                "org_unit_id": p.org_unit_id,
                "roles": p.roles,
            }
            for p in people
        ],
        "ambassadors": ambassadors,
        "networks": [NETWORK],
    }
    return DemoTenant(municipality=m, document=document, people=people)


def demo_tenants() -> list[DemoTenant]:
    """All five demo municipalities."""
    return [build_tenant(m) for m in MUNICIPALITIES]


def find_person(person_id: str) -> tuple[str, DemoPerson] | None:
    """The demo person with this id, and their tenant."""
    for tenant in demo_tenants():
        for p in tenant.people:
            if p.id == person_id:
                return tenant.municipality.slug, p
    return None
