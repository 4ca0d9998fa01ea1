"""Inline SVG charts rendered on the server: no script, readable by screen readers."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

INK = "#1f2937"
GRID = "#d1d5db"
LINE = "#1d4ed8"
TARGET = "#047857"
BASELINE = "#6b7280"
BAR = "#1d4ed8"


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.2f}"


def line_chart(
    title: str,
    points: Sequence[tuple[str, float]],
    *,
    target: float | None = None,
    baseline: float | None = None,
    labels: tuple[str, str] = ("target", "baseline"),
    width: int = 560,
    height: int = 220,
) -> Markup:
    """A line chart of ``(label, value)`` points with optional target and baseline lines."""
    values = [v for _, v in points]
    refs = [v for v in (target, baseline) if v is not None]
    if not values and not refs:
        return Markup("")
    lo = min([*values, *refs, 0.0])
    hi = max([*values, *refs, 1.0])
    if hi == lo:
        hi = lo + 1
    left, right, top, bottom = 52, 40, 22, 34
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (plot_w * i / max(1, len(points) - 1) if len(points) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    desc = "; ".join(f"{lab}: {_fmt(v)}" for lab, v in points)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}. {escape(desc)}" preserveAspectRatio="xMidYMid meet">',
    ]
    for frac in (0.0, 0.5, 1.0):
        v = lo + (hi - lo) * frac
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="{INK}">{_fmt(v)}</text>'
        )
    for value, colour, name, dash in (
        (target, TARGET, labels[0], "6 4"),
        (baseline, BASELINE, labels[1], "2 3"),
    ):
        if value is not None:
            parts.append(
                f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" '
                f'y2="{y(value):.1f}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>'
                f'<text x="{width - right}" y="{y(value) - 5:.1f}" text-anchor="end" '
                f'font-size="12" fill="{colour}">{escape(name)} {_fmt(value)}</text>'
            )
    if points:
        path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (_, v) in enumerate(points))
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="3" '
            'stroke-linejoin="round"/>'
        )
        step = max(1, len(points) // 6)
        for i, (lab, v) in enumerate(points):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="4" fill="{LINE}"/>')
            if i % step == 0 or i == len(points) - 1:
                parts.append(
                    f'<text x="{x(i):.1f}" y="{height - 10}" text-anchor="middle" '
                    f'font-size="12" fill="{INK}">{escape(lab)}</text>'
                )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it went through escape()


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float]],
    *,
    target: float | None = None,
    target_label: str = "target",
    width: int = 560,
    bar_height: int = 26,
) -> Markup:
    """Horizontal bars of ``(label, value)``, with an optional target line."""
    if not bars:
        return Markup("")
    label_w, right, top = 170, 60, 8
    height = top * 2 + bar_height * len(bars) + (18 if target is not None else 0)
    hi = max([v for _, v in bars] + ([target] if target is not None else []) + [1e-9])
    plot_w = width - label_w - right
    desc = "; ".join(f"{lab}: {_fmt(v)}" for lab, v in bars)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}. {escape(desc)}" preserveAspectRatio="xMidYMid meet">'
    ]
    for i, (lab, v) in enumerate(bars):
        y0 = top + i * bar_height
        w = plot_w * max(0.0, v) / hi
        short = lab if len(lab) <= 24 else lab[:23] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y0 + bar_height * 0.65:.1f}" text-anchor="end" '
            f'font-size="13" fill="{INK}">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y0 + 3}" width="{w:.1f}" height="{bar_height - 8}" '
            f'fill="{BAR}" rx="2"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y0 + bar_height * 0.65:.1f}" font-size="13" '
            f'fill="{INK}">{_fmt(v)}</text>'
        )
    if target is not None:
        tx = label_w + plot_w * target / hi
        parts.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{top}" y2="{height - 16}" stroke="{TARGET}" '
            f'stroke-width="2" stroke-dasharray="6 4"/>'
            f'<text x="{tx:.1f}" y="{height - 3}" text-anchor="middle" font-size="12" '
            f'fill="{TARGET}">{escape(target_label)} {_fmt(target)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it went through escape()
