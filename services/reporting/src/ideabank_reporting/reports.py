"""Renders the board report (HTML, CSV, PDF, with charts) and the KPI exports (CSV, XLSX).

Charts are SVG drawn here, so the HTML needs no script or external file and the PDF embeds
the very same drawing (fpdf2 renders SVG natively).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from html import escape
from typing import Any

from ideabank_reporting.handlers import BoardReport

_BAR = "#2f6f9f"
_BAR2 = "#d08a2c"


def bar_chart_svg(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    width: int = 560,
    height: int = 240,
    color: str = _BAR,
) -> str:
    """A labelled vertical bar chart as a standalone SVG document."""
    left, right, top, bottom = 50, 10, 30, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for _, v in items), default=0) or 1
    n = max(len(items), 1)
    slot = plot_w / n
    bar = min(max(slot * 0.7, 1), 60)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left}" y="18" font-family="Helvetica" font-size="13" '
        f'fill="#222222">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#555555" stroke-width="1"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" '
        'stroke="#555555" stroke-width="1"/>',
        f'<text x="{left - 6}" y="{top + 4}" font-family="Helvetica" font-size="9" '
        f'text-anchor="end" fill="#555555">{_num(peak)}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" font-family="Helvetica" font-size="9" '
        'text-anchor="end" fill="#555555">0</text>',
    ]
    for i, (label, value) in enumerate(items):
        h = plot_h * (value / peak) if peak else 0
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{color}"/>'
        )
        if value:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" font-family="Helvetica" '
                f'font-size="9" text-anchor="middle" fill="#222222">{_num(value)}</text>'
            )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 14}" font-family="Helvetica" '
            f'font-size="9" text-anchor="middle" fill="#222222">{escape(label[:14])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _num(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ") if value >= 100 else f"{value:g}"


def _charts(report: BoardReport) -> list[str]:
    return [
        bar_chart_svg(
            "Implemented ideas per month",
            [(m, float(n)) for m, n in report.implemented_per_month],
        ),
        bar_chart_svg(
            f"Realised benefit per administration ({report.currency})",
            [(a, float(m)) for a, m, _ in report.benefit_per_administration],
            color=_BAR2,
        ),
    ]


def _amount(value: Decimal | None) -> str:
    return "" if value is None else format(value, ".2f")


COLUMNS = (
    "idea_id",
    "title",
    "administration",
    "org_unit",
    "category",
    "implemented_on",
    "evaluated_on",
    "benefit_money",
    "currency",
    "benefit_hours",
    "benefit_description",
    "lessons_learned",
)


def _cells(report: BoardReport) -> list[list[str]]:
    return [
        [
            i.idea_id,
            i.title,
            i.administration,
            i.org_unit,
            i.category,
            i.implemented_on.isoformat() if i.implemented_on else "",
            i.evaluated_on.isoformat() if i.evaluated_on else "",
            _amount(i.benefit_money),
            i.currency or "",
            _amount(i.benefit_hours),
            i.benefit_description or "",
            i.lessons_learned or "",
        ]
        for i in report.ideas
    ]


def board_csv(report: BoardReport) -> str:
    """The board report's ideas as CSV (one row per idea)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(_cells(report))
    return out.getvalue()


def board_html(report: BoardReport) -> str:
    """The board report as one self-contained HTML page with inline SVG charts."""
    rows = "".join(
        "<tr>"
        f"<td>{escape(i.title)}</td><td>{escape(i.administration)}</td>"
        f"<td>{escape(i.category)}</td>"
        f"<td>{i.implemented_on or ''}</td><td>{i.evaluated_on or ''}</td>"
        f"<td class=n>{_amount(i.benefit_money)} {escape(i.currency or '')}</td>"
        f"<td class=n>{_amount(i.benefit_hours)}</td>"
        f"<td>{escape(i.benefit_description or '')}</td>"
        f"<td>{escape(i.lessons_learned or '')}</td>"
        "</tr>"
        for i in report.ideas
    )
    charts = "".join(f"<figure>{svg}</figure>" for svg in _charts(report))
    return f"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8">
<title>Board report {escape(report.tenant_name)} {report.start} – {report.end}</title>
<style>
body{{font-family:Helvetica,Arial,sans-serif;margin:2em;color:#222}}
table{{border-collapse:collapse;width:100%;font-size:.9em}}
th,td{{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}}
td.n{{text-align:right;white-space:nowrap}} figure{{display:inline-block;margin:0 1em 1em 0}}
</style></head><body>
<h1>Implemented and evaluated ideas — {escape(report.tenant_name)}</h1>
<p>Period {report.start} – {report.end}. Compiled by the innovation group for the board
(servicenämnden).</p>
<ul>
<li>Ideas in the report: {len(report.ideas)}</li>
<li>Realised benefit: {_amount(report.total_money)} {escape(report.currency)} per year</li>
<li>Working hours saved: {_amount(report.total_hours)} per year</li>
</ul>
{charts}
<table><thead><tr><th>Idea</th><th>Administration</th><th>Category</th><th>Implemented</th>
<th>Evaluated</th><th>Benefit</th><th>Hours</th><th>Other benefits</th><th>Lessons learned</th>
</tr></thead><tbody>{rows}</tbody></table>
</body></html>
"""


def _latin1(text: str) -> str:
    # The PDF's core fonts cover Latin-1 (å, ä, ö, æ, ø are in it); anything else is replaced
    # rather than failing the report.
    return text.encode("latin-1", "replace").decode("latin-1")


def _line(pdf: Any, height: float, text: str) -> None:
    pdf.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")


def board_pdf(report: BoardReport) -> bytes:
    """The board report as a PDF: summary, both charts, then one block per idea."""
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_title(_latin1(f"Board report {report.tenant_name}"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    _line(pdf, 8, _latin1(f"Implemented and evaluated ideas - {report.tenant_name}"))
    pdf.set_font("Helvetica", "", 10)
    _line(
        pdf,
        6,
        _latin1(
            f"Period {report.start} - {report.end}. Ideas: {len(report.ideas)}. "
            f"Realised benefit: {_amount(report.total_money)} {report.currency} per year; "
            f"hours saved: {_amount(report.total_hours)} per year."
        ),
    )
    for svg in _charts(report):
        pdf.image(io.BytesIO(svg.encode()), w=170)
        pdf.ln(2)
    for i in report.ideas:
        pdf.set_font("Helvetica", "B", 11)
        _line(pdf, 6, _latin1(i.title))
        pdf.set_font("Helvetica", "", 9)
        facts = [
            f"{i.administration} / {i.org_unit} - {i.category}",
            f"Implemented {i.implemented_on or '-'}; evaluated {i.evaluated_on or '-'}",
            f"Benefit: {_amount(i.benefit_money) or '-'} {i.currency or ''}; "
            f"hours: {_amount(i.benefit_hours) or '-'}",
        ]
        if i.benefit_description:
            facts.append(f"Other benefits: {i.benefit_description}")
        if i.lessons_learned:
            facts.append(f"Lessons learned: {i.lessons_learned}")
        for line in facts:
            _line(pdf, 5, _latin1(line))
        pdf.ln(2)
    return bytes(pdf.output())


# ------------------------------------------------------------------------------ KPI export


def kpi_rows(kpis: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """The KPI document flattened to (section, measure, value) rows."""
    rows: list[tuple[str, str, Any]] = []
    for key, value in kpis.items():
        if key.startswith("by_") or key == "filters":
            continue
        if isinstance(value, dict):
            rows.extend(("total", f"{key}.{k}", v) for k, v in value.items())
        else:
            rows.append(("total", key, value))
    for key in ("by_month", "by_administration", "by_channel", "by_category"):
        dim = key.removeprefix("by_")
        for entry in kpis.get(key, []):
            label = str(entry.get(dim))
            for measure in ("submitted", "screened", "implemented", "evaluated"):
                rows.append((f"{dim}={label}", measure, entry[measure]))
    return rows


def kpi_csv(kpis: dict[str, Any]) -> str:
    """KPIs as CSV: section, measure, value."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("section", "measure", "value"))
    writer.writerows((s, m, "" if v is None else v) for s, m, v in kpi_rows(kpis))
    return out.getvalue()


def kpi_xlsx(kpis: dict[str, Any]) -> bytes:
    """KPIs as an Excel workbook: a sheet of totals and one sheet per breakdown."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "KPIs"
    ws.append(["measure", "value"])
    for section, measure, value in kpi_rows(kpis):
        if section == "total":
            ws.append([measure, value])
    for key in ("by_month", "by_administration", "by_channel", "by_category"):
        sheet = wb.create_sheet(key.removeprefix("by_"))
        entries = kpis.get(key, [])
        header = list(entries[0]) if entries else [key.removeprefix("by_"), "submitted"]
        sheet.append(header)
        for entry in entries:
            sheet.append([entry.get(h) for h in header])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
