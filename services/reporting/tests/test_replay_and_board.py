"""Replaying the stream rebuilds a read model equal to the live one; the board report renders."""

from __future__ import annotations

import asyncio
import csv
import io
import sys
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from ideabank_contracts.events import IdeaRedacted, IdeaRevised
from ideabank_infra.testing import create_postgres_database
from ideabank_reporting.store import READ_MODEL
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine


async def _dump(url: str) -> dict[str, list[tuple]]:
    engine = create_async_engine(url)
    out: dict[str, list[tuple]] = {}
    async with engine.connect() as conn:
        for table in READ_MODEL:
            rows = (await conn.execute(select(table))).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    await engine.dispose()
    return out


async def test_replay_equals_live(
    reporting,
    tenants,
    org,
    history,
    builders,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    t, peer, nw = tenants.main, tenants.peer, tenants.network
    ev = builders["event"]
    revised = IdeaRevised(
        idea_id="i6",
        actor_id=f"{t}-p1",
        org_unit_id=f"{t}-b1",
        administration_id=f"{t}-b",
        category="Digitalisering",
        title="Idea i6, sharper",
        description="d",
        problem="p",
        revised_at="2025-04-01T10:00:00Z",
    )
    redacted = IdeaRedacted(idea_id="i1", person_id=f"{t}-p1", redacted_at="2025-07-01T00:00:00Z")
    await reporting.publish(
        org(t, "Testkommun", network=nw)
        + org(peer, "Grannkommun", network=nw)
        + history(t)
        + [
            ev(t, revised),
            builders["adopted"](peer, "n1", "2025-06-01", t, "i1", nw),
            ev(t, redacted),
        ]
    )
    live = await _dump(reporting.db_url)
    assert len(live["idea_facts"]) == 8 and len(live["kpi_cells"]) > 5
    tl = (await reporting.get("/v1/ideas/i1/timeline", t)).json()
    assert tl["events"][0]["actor_id"] is None  # redacted

    if reporting.db_url.startswith("sqlite"):
        target = f"sqlite+aiosqlite:///{tmp_path / 'replayed.db'}"
    else:
        target = await create_postgres_database(request.getfixturevalue("postgres_admin_url"))
    # The real command, in its own process (a service's tests never import the CLI).
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ideabank_cli.main",
        "replay",
        "reporting",
        "--nats-url",
        reporting.nats_url,
        "--database-url",
        target,
        "--tenants",
        f"{t},{peer}",
        "--batch-size",
        "7",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    assert "ev/s" in err.decode() and "100.0%" in err.decode()
    assert "events/s" in out.decode()
    assert await _dump(target) == live


async def test_board_report_html_csv_and_pdf(reporting, tenants, org, history) -> None:
    t = tenants.main
    await reporting.publish(org(t, "Testkommun") + history(t))
    period = {"from": "2025-01-01", "to": "2025-06-30"}
    html = await reporting.get("/v1/board-report", t, "innovation_group", **period)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert html.text.count("<svg") == 2 and "Förankra tidigt" in html.text
    assert "Idea i1" in html.text and "Idea i3" in html.text and "Idea i2" not in html.text

    rows = list(
        csv.DictReader(
            io.StringIO(
                (
                    await reporting.get("/v1/board-report", t, "management", format="csv", **period)
                ).text
            )
        )
    )
    assert [(r["idea_id"], r["benefit_money"], r["benefit_hours"]) for r in rows] == [
        ("i3", "", ""),
        ("i1", "10000.50", "120.00"),
    ]
    assert rows[1]["lessons_learned"] == "Förankra tidigt"

    # Only ideas implemented or evaluated inside the period.
    march = await reporting.get(
        "/v1/board-report",
        t,
        "tenant_admin",
        format="csv",
        **{"from": "2025-03-01", "to": "2025-03-31"},
    )
    assert [r["idea_id"] for r in csv.DictReader(io.StringIO(march.text))] == ["i1"]
    assert (await reporting.get("/v1/board-report", t, "employee", **period)).status_code == 403

    pdf = await reporting.get("/v1/board-report", t, "innovation_group", format="pdf", **period)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    doc = pdfium.PdfDocument(pdf.content)
    try:
        assert len(doc) >= 1
        for page in doc:
            image = page.render(scale=1).to_pil().convert("L")
            darkest, _ = image.getextrema()
            assert darkest < 128, "a page of the board report is blank"
            # Text and charts: a fair share of the page is drawn on.
            drawn = sum(1 for px in image.getdata() if px < 200)
            assert drawn > 1000
            page.close()
    finally:
        doc.close()
