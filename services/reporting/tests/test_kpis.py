"""KPIs from a known event history equal figures computed by hand (see conftest.known_history).

Tenant: headcount 2025 = A (100, set on the administration; D's 40 is inside it) + B1 (50)
= 150; targets 0.5 per employee (tenant) and 1.0 (administration B). Ideas of 2025: i1..i6.
"""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook


async def test_kpis_equal_hand_computed_figures(reporting, tenants, org, history) -> None:
    t = tenants.main
    await reporting.publish(org(t, "Testkommun") + history(t))
    r = await reporting.get("/v1/kpis", t, "employee", year=2025)
    assert r.status_code == 200, r.text
    k = r.json()
    assert k["headcount"] == 150
    assert k["submitted"] == 6
    assert k["ideas_per_employee"] == 0.04  # 6 / 150
    assert k["target_ideas_per_employee"] == "0.5000"
    assert k["target_attainment"] == 0.08  # 0.04 / 0.5
    assert k["screened"] == 5 and k["share_screened"] == 0.8333  # 5 / 6
    # First feedback after 3 (i1), 5 (i2), 7 (i3), 2 (i4) and 10 (i6) days: median 5.
    assert k["responded"] == 5
    assert k["median_days_to_first_feedback"] == 5.0
    # Motivated: i1, i2, i4 and i6 (its deferral); not i3 (quick win, approval without one).
    assert k["with_motivation"] == 4 and k["share_with_motivation"] == 0.8
    assert k["implemented"] == 2 and k["implementation_rate"] == 0.3333  # 2 / 6
    assert k["implemented_per_employee"] == 0.0133  # 2 / 150
    assert (k["evaluated"], k["rejected"], k["withdrawn"]) == (1, 1, 1)
    assert k["backlog"] == {"paused": 1, "deferred": 1}
    assert k["benefit"] == {"money": "10000.50", "hours": "120.00"}
    assert k["currency"] == "SEK"
    assert k["lead_time_days"] == {
        "submitted": 1.0,  # 1, 0, 1, 1, 1
        "in_screening": 5.0,  # 2, 5, 6, 1, 9
        "in_development": 8.0,  # 7, 9
        "awaiting_decision": 5.0,  # 5 (i1), 2 (i3 quick win), 11 (i6)
        "approved": 4.5,  # 7, 2
        "in_implementation": 18.0,  # 28, 8
        "approved_to_implemented": 22.5,  # 35, 10
        "implemented_to_evaluated": 31.0,
        "submitted_to_implemented": 34.5,  # 50, 19
    }
    assert k["adoptions"] == {"given": 0, "taken": 0}
    assert [(m["month"], m["submitted"]) for m in k["by_month"]] == [(1, 2), (2, 1), (3, 2), (4, 1)]
    assert {c["channel"]: c["submitted"] for c in k["by_channel"]} == {
        "staff_portal": 4,
        "public_channel": 1,
        "deviation": 1,
    }
    assert {c["category"]: c["implemented"] for c in k["by_category"]} == {
        "Arbetsmiljö": 1,
        "Miljö": 1,
    }
    assert {(a["administration"], a["name"], a["submitted"]) for a in k["by_administration"]} == {
        (f"{t}-a", "Vård och omsorg", 3),
        (f"{t}-b", "Kultur", 3),
    }

    # Administration A: i1, i2, i3 over its own headcount 100 against the tenant's target.
    a = (await reporting.get("/v1/kpis", t, year=2025, org_unit=f"{t}-a")).json()
    assert (a["headcount"], a["submitted"], a["ideas_per_employee"]) == (100, 3, 0.03)
    assert a["target_attainment"] == 0.06 and a["median_days_to_first_feedback"] == 5.0
    # Administration B: no headcount of its own, so its unit's 50; its own target 1.0.
    b = (await reporting.get("/v1/kpis", t, year=2025, org_unit=f"{t}-b")).json()
    assert (b["headcount"], b["submitted"], b["ideas_per_employee"]) == (50, 3, 0.06)
    assert b["target_ideas_per_employee"] == "1.0000" and b["target_attainment"] == 0.06
    # Department D (40 employees): i1 and i2 in its unit; feedback after 3 and 5 days.
    d = (await reporting.get("/v1/kpis", t, year=2025, org_unit=f"{t}-d")).json()
    assert (d["headcount"], d["submitted"], d["ideas_per_employee"]) == (40, 2, 0.05)
    assert d["median_days_to_first_feedback"] == 4.0
    ch = (await reporting.get("/v1/kpis", t, year=2025, channel="staff_portal")).json()
    assert ch["submitted"] == 4 and ch["implemented"] == 1
    cat = (await reporting.get("/v1/kpis", t, year=2025, category="Miljö")).json()
    assert cat["submitted"] == 3 and cat["backlog"] == {"paused": 1, "deferred": 0}
    older = (await reporting.get("/v1/kpis", t, year=2024)).json()
    assert (
        older["submitted"] == 1 and older["headcount"] == 0 and older["ideas_per_employee"] is None
    )

    # Exports carry the same figures.
    csv_text = (await reporting.get("/v1/kpis/export", t, year=2025, format="csv")).text
    assert "total,ideas_per_employee,0.04" in csv_text.splitlines()
    xlsx = await reporting.get("/v1/kpis/export", t, year=2025, format="xlsx")
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(xlsx.content))["KPIs"]
    values = {row[0]: row[1] for row in ws.iter_rows(min_row=2, values_only=True)}
    assert values["submitted"] == 6 and values["median_days_to_first_feedback"] == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"year": 1999}, "year"),
        ({"year": "soon"}, "year"),
        ({"channel": "carrier_pigeon"}, "channel"),
        ({"org_unit": "nowhere"}, "org_unit"),
    ],
)
async def test_bad_query_parameters_name_the_field(reporting, tenants, params, field) -> None:
    r = await reporting.get("/v1/kpis", tenants.main, **params)
    assert r.status_code == 422
    assert r.json()["field"] == field
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_export_and_report_formats_are_validated(reporting, tenants) -> None:
    t = tenants.main
    r = await reporting.get("/v1/kpis/export", t, format="doc")
    assert r.status_code == 422 and r.json()["field"] == "format"
    r = await reporting.get("/v1/board-report", t, "innovation_group", **{"from": "2025-02-01"})
    assert r.status_code == 422 and r.json()["field"] == "to"
    r = await reporting.get(
        "/v1/board-report", t, "innovation_group", **{"from": "2025-02-01", "to": "2025-01-01"}
    )
    assert r.status_code == 422 and r.json()["field"] == "to"
    r = await reporting.client.get("/v1/kpis")
    assert r.status_code == 401
