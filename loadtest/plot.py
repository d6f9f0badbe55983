#!/usr/bin/env python3
"""Tiny hand-written SVG charts for docs/benchmarks.md (no matplotlib).

Used by loadtest/report.py; `grouped_bars` draws bars per group and series on a log-10 axis,
with min-max whiskers when given.
"""

import math
from html import escape

COLORS = {
    "ringcast": "#d9480f",
    "node": "#2f9e44",
    "socketioxide": "#1971c2",
}
FALLBACK = ["#862e9c", "#e67700", "#495057"]


def si(v):
    """1234567 -> '1.23M'."""
    if v is None:
        return "-"
    a = abs(v)
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            x = v / div
            return (f"{x:.3g}" if x < 100 else f"{x:.0f}") + suf
    return f"{v:.3g}" if a < 100 else f"{v:.0f}"


def us(v):
    """Microseconds -> '850 µs' / '12.3 ms' / '1.2 s'."""
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.3g} s"
    if v >= 1e3:
        return f"{v / 1e3:.3g} ms"
    return f"{v:.3g} µs"


def grouped_bars(
    path, title, groups, series, values, lo=None, hi=None, fmt=si, ylabel="", note="", labels=None
):
    """values[g][s] (None = no bar); lo/hi: whiskers with the same shape; labels: legend names."""
    labels = labels or {}
    width, height = 760, 400
    left, right, top, bottom = 70, 20, 48, 92
    pw, ph = width - left - right, height - top - bottom
    flat = [v for row in values for v in row if v]
    for extra in (lo, hi):
        if extra:
            flat += [v for row in extra for v in row if v]
    if not flat:
        return
    # at least a factor 2 of room under the smallest bar
    d0 = math.floor(math.log10(min(flat) / 2))
    d1 = math.ceil(math.log10(max(flat)))
    if d1 == d0:
        d1 += 1

    def y(v):
        return top + ph - (math.log10(v) - d0) / (d1 - d0) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">'
        f"{escape(title)}</text>",
    ]
    # decades and 2x / 5x minor lines
    for d in range(d0, d1 + 1):
        yy = y(10**d)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ccc"/>')
        out.append(
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{escape(fmt(10**d))}</text>'
        )
        if d < d1:
            for m in (2, 5):
                ym = y(m * 10**d)
                out.append(
                    f'<line x1="{left}" x2="{left + pw}" y1="{ym:.1f}" y2="{ym:.1f}" '
                    f'stroke="#eee"/>'
                )
    out.append(
        f'<text transform="translate(16,{top + ph / 2}) rotate(-90)" text-anchor="middle">'
        f"{escape(ylabel)} (log scale)</text>"
    )
    gw = pw / len(groups)
    bw = min(44, gw * 0.8 / len(series))
    for gi, g in enumerate(groups):
        gx = left + gi * gw + (gw - bw * len(series)) / 2
        for si_, s in enumerate(series):
            v = values[gi][si_]
            if not v:
                continue
            x = gx + si_ * bw
            color = COLORS.get(s, FALLBACK[si_ % len(FALLBACK)])
            yv = y(v)
            out.append(
                f'<rect x="{x + 1:.1f}" y="{yv:.1f}" width="{bw - 2:.1f}" '
                f'height="{top + ph - yv:.1f}" fill="{color}"><title>{escape(s)} {escape(g)}: '
                f"{escape(fmt(v))}</title></rect>"
            )
            if lo and hi and lo[gi][si_] and hi[gi][si_]:
                cx = x + bw / 2
                y1, y2 = y(lo[gi][si_]), y(hi[gi][si_])
                out.append(
                    f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" stroke="black"/>'
                )
                for yy in (y1, y2):
                    out.append(
                        f'<line x1="{cx - 4:.1f}" x2="{cx + 4:.1f}" y1="{yy:.1f}" y2="{yy:.1f}" '
                        f'stroke="black"/>'
                    )
            ytext = yv
            if hi and hi[gi][si_]:
                ytext = min(yv, y(hi[gi][si_]))
            out.append(
                f'<text x="{x + bw / 2:.1f}" y="{ytext - 4:.1f}" text-anchor="middle" '
                f'font-size="10">{escape(fmt(v))}</text>'
            )
        lines = g.split("\n")
        for li, line in enumerate(lines):
            out.append(
                f'<text x="{left + gi * gw + gw / 2:.1f}" y="{top + ph + 18 + 14 * li}" '
                f'text-anchor="middle">{escape(line)}</text>'
            )
    out.append(
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="black"/>'
    )
    # legend
    lx = left
    ly = height - 22
    for si_, s in enumerate(series):
        color = COLORS.get(s, FALLBACK[si_ % len(FALLBACK)])
        out.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{color}"/>')
        name = labels.get(s, s)
        out.append(f'<text x="{lx + 16}" y="{ly}">{escape(name)}</text>')
        lx += 40 + 7 * len(name)
    if note:
        out.append(
            f'<text x="{width - right}" y="{ly}" text-anchor="end" fill="#555" font-size="11">'
            f"{escape(note)}</text>"
        )
    out.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
