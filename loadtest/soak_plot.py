#!/usr/bin/env python3
"""Plot a soak CSV (loadtest/soak.sh) as one SVG, written by hand (no plotting library needed).

    loadtest/soak_plot.py SOAK.csv [--summary SOAK-summary.json] --svg OUT.svg

Three panels on one time axis: server RSS (MiB, with the start level and the pass bound from the
summary), server CPU (% of one core, so 200 % = both cores here), and open fds / established TCP
connections. The settle + check phase after the load is shaded.
"""
import argparse
import csv
import json
import math
from html import escape

W = 900
LEFT, RIGHT = 70, 20
PANELS = [  # (key, height, title)
    ("rss", 280, "server RSS (MiB)"),
    ("cpu", 130, "server CPU (% of one core)"),
    ("fds", 130, "server open fds / established TCP connections"),
]
TOP, GAP, BOTTOM = 84, 34, 46
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'
COLORS = {"rss": "#1f77b4", "cpu": "#d62728", "fds": "#2ca02c", "tcp": "#9467bd"}


def nice_step(span, target):
    raw = span / max(target, 1)
    if raw <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def ticks(lo, hi, target):
    step = nice_step(hi - lo, target)
    t = math.floor(lo / step) * step
    out = []
    while t <= hi + 1e-9:
        if t >= lo - 1e-9:
            out.append(round(t, 10))
        t += step
    return out, step


def fmt(v, step):
    if step >= 1:
        return f"{v:,.0f}"
    return f"{v:.{max(0, -math.floor(math.log10(step)))}f}"


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--summary")
    ap.add_argument("--svg", required=True)
    a = ap.parse_args()

    rows = list(csv.DictReader(open(a.csv)))
    t = [float(r["t_s"]) for r in rows]
    series = {
        "rss": [None if num(r["rss_kb"]) is None else num(r["rss_kb"]) / 1024 for r in rows],
        "cpu": [num(r["cpu_pct"]) for r in rows],
        "fds": [num(r["fds"]) for r in rows],
        "tcp": [num(r["tcp_estab"]) for r in rows],
    }
    phases = [r["phase"] for r in rows]
    summ = json.load(open(a.summary)) if a.summary else None

    t_max = max(t) if t else 1
    minutes = t_max > 180
    xs = 60.0 if minutes else 1.0
    x_hi = t_max / xs
    xt, xstep = ticks(0, x_hi, 10)
    if xt[-1] < x_hi:
        xt.append(xt[-1] + xstep)
    x_hi = xt[-1]
    pw = W - LEFT - RIGHT

    def X(v):
        return LEFT + v / xs / x_hi * pw

    H = TOP + sum(h for _, h, _ in PANELS) + GAP * (len(PANELS) - 1) + BOTTOM
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" {FONT} font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>']
    title = "ringcast soak: churn + echo + fan-out"
    sub = []
    if summ:
        m, r = summ["meta"], summ["rss_kb"]
        title += f" for {m['duration_s']} s"
        errs = sum(summ[k]["runs_with_errors"] for k in ("churn", "echo", "fanout"))
        sub = [f"RSS start {r['start']/1024:.1f} MiB, peak {r['peak']/1024:.1f} MiB, end of load {r['load_end']/1024:.1f} MiB, "
               f"end (after {m['settle_s']} s idle) {r['end']/1024:.1f} MiB; pass bound {r['bound']/1024:.1f} MiB",
               f"{summ['churn']['cycles']:,} churn cycles, {summ['echo']['acks']:,} echo acks, "
               f"{summ['fanout']['deliveries']:,} fan-out deliveries; runs with errors: {errs}; "
               f"{m['nproc']} cores ({m['cpu']}), {m['date'][:10]}, commit {m['commit']}"]
    o.append(f'<text x="{LEFT}" y="20" font-size="15" font-weight="bold">{escape(title)}</text>')
    for i, line in enumerate(sub):
        o.append(f'<text x="{LEFT}" y="{38 + 15 * i}" font-size="11" fill="#444">{escape(line)}</text>')

    # start of the settle phase (first sample not in "load")
    t_settle = next((t[i] for i, p in enumerate(phases) if p != "load"), None)
    if summ and summ["meta"].get("load_end_s") is not None:
        t_settle = summ["meta"]["load_end_s"]

    y0 = TOP
    for key, h, ptitle in PANELS:
        keys = [key] + (["tcp"] if key == "fds" else [])
        vals = [v for k in keys for v in series[k] if v is not None]
        extra = []
        if key == "rss" and summ:
            extra = [summ["rss_kb"]["start"] / 1024, summ["rss_kb"]["bound"] / 1024]
        hi = max(vals + extra + [1.0])
        if key == "cpu" and hi <= 200:
            hi = 200.0 / 1.05  # both cores of this machine = top of the panel
        yt, ystep = ticks(0, hi * 1.05, 5)
        if yt[-1] < hi * 1.05 - 1e-6:
            yt.append(yt[-1] + ystep)
        y_hi = yt[-1]

        def Y(v, y0=y0, h=h, y_hi=y_hi):
            return y0 + h - v / y_hi * h

        o.append(f'<text x="{LEFT}" y="{y0 - 6}" font-size="12" font-weight="bold">{escape(ptitle)}</text>')
        if t_settle is not None:
            xa = X(t_settle)
            xb = X(t_max)
            o.append(f'<rect x="{xa:.1f}" y="{y0}" width="{max(xb - xa, 1):.1f}" height="{h}" fill="#eeeeee"/>')
            if key == "rss":
                o.append(f'<text x="{xa + 3:.1f}" y="{y0 + h - 6}" font-size="10" fill="#666">idle + checks</text>')
        for v in yt:
            yy = Y(v)
            o.append(f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{LEFT + pw}" y2="{yy:.1f}" stroke="#dddddd"/>')
            o.append(f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#333">{fmt(v, ystep)}</text>')
        for v in xt:
            xx = LEFT + v / x_hi * pw
            o.append(f'<line x1="{xx:.1f}" y1="{y0}" x2="{xx:.1f}" y2="{y0 + h}" stroke="#f0f0f0"/>')
        o.append(f'<rect x="{LEFT}" y="{y0}" width="{pw}" height="{h}" fill="none" stroke="#888"/>')
        if key == "rss" and summ:
            for v, label, dash in ((extra[0], "start", "4,3"), (extra[1], "bound (pass below)", "8,4")):
                yy = Y(v)
                o.append(f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{LEFT + pw}" y2="{yy:.1f}" stroke="#555" stroke-dasharray="{dash}"/>')
                o.append(f'<text x="{LEFT + pw - 4}" y="{yy - 4:.1f}" text-anchor="end" font-size="10" fill="#555">{label} {v:.1f} MiB</text>')
        for k in keys:
            pts = [(X(tt), Y(v)) for tt, v in zip(t, series[k]) if v is not None]
            if pts:
                d = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
                o.append(f'<polyline points="{d}" fill="none" stroke="{COLORS[k]}" stroke-width="1.6"/>')
        if key == "fds":
            lx = LEFT + 10
            for k, label in (("fds", "open fds"), ("tcp", "established TCP")):
                o.append(f'<line x1="{lx}" y1="{y0 + 14}" x2="{lx + 18}" y2="{y0 + 14}" stroke="{COLORS[k]}" stroke-width="2"/>')
                o.append(f'<text x="{lx + 22}" y="{y0 + 18}" font-size="10">{label}</text>')
                lx += 130
        y0 += h + GAP
    y_axis = y0 - GAP
    for v in xt:
        xx = LEFT + v / x_hi * pw
        o.append(f'<text x="{xx:.1f}" y="{y_axis + 16}" text-anchor="middle" fill="#333">{fmt(v, xstep)}</text>')
    o.append(f'<text x="{LEFT + pw / 2}" y="{y_axis + 36}" text-anchor="middle">time ({"minutes" if minutes else "seconds"})</text>')
    o.append("</svg>")
    with open(a.svg, "w") as f:
        f.write("\n".join(o) + "\n")


if __name__ == "__main__":
    main()
