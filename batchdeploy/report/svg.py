"""Plots as inline SVG, pure: real axes with round ticks, labels and a title, at any number of points
(a curve of more points than pixels is thinned to one point per pixel column, keeping its extremes).

Drawn here rather than by a JavaScript plotting library: the page stays a few kB, opens with no network
and no script needed to see a plot, and batchdeploy adds no dependency."""

from __future__ import annotations

import math
from html import escape

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
W, H = 460, 280
LEFT, RIGHT, TOP, BOTTOM = 60, 12, 28, 42


def ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) inside [lo, hi], about `count` of them."""
    if hi == lo:
        lo, hi = lo - (abs(lo) or 1) * 0.5, hi + (abs(hi) or 1) * 0.5
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10)), key=lambda st: abs((hi - lo) / st - count))
    out, v = [], math.ceil(lo / step - 1e-9) * step
    while v <= hi + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


def label(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.1e}"
    return f"{v:.6g}"


def _padded(values: list[float]) -> tuple[float, float]:
    """The values' range widened by 5% each side, so no point sits on an axis."""
    lo, hi = min(values), max(values)
    if hi == lo:
        return lo - (abs(lo) or 1) * 0.5, hi + (abs(hi) or 1) * 0.5
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


class Frame:
    """Scales and axes of one plot."""

    def __init__(self, xs: list[float], ys: list[float], title: str, xlabel: str, ylabel: str):
        (self.x0, self.x1), (self.y0, self.y1) = _padded(xs), _padded(ys)
        self.xt, self.yt = ticks(self.x0, self.x1), ticks(self.y0, self.y1)
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel

    def x(self, v: float) -> float:
        return LEFT + (v - self.x0) / ((self.x1 - self.x0) or 1) * (W - LEFT - RIGHT)

    def y(self, v: float) -> float:
        return H - BOTTOM - (v - self.y0) / ((self.y1 - self.y0) or 1) * (H - TOP - BOTTOM)

    def axes(self) -> list[str]:
        out = [f'<text x="{W / 2}" y="16" class="title" text-anchor="middle">{escape(self.title)}</text>',
               f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" class="axis"/>',
               f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" class="axis"/>']
        for v in self.xt:
            x = self.x(v)
            out.append(f'<line x1="{x:.1f}" y1="{H - BOTTOM}" x2="{x:.1f}" y2="{H - BOTTOM + 4}" class="axis"/>'
                       f'<text x="{x:.1f}" y="{H - BOTTOM + 15}" text-anchor="middle">{label(v)}</text>')
        for v in self.yt:
            y = self.y(v)
            out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" class="grid"/>'
                       f'<text x="{LEFT - 5}" y="{y + 4:.1f}" text-anchor="end">{label(v)}</text>')
        out.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 6}" text-anchor="middle">{escape(self.xlabel)}</text>')
        out.append(f'<text transform="translate(12,{(TOP + H - BOTTOM) / 2}) rotate(-90)" '
                   f'text-anchor="middle">{escape(self.ylabel)}</text>')
        return out


def _svg(kind: str, body: list[str], legend: list[tuple[str, str]] = (), height: int = H, width: int = W) -> str:
    """The plot in a <figure>, its legend (when it has several colours) as the caption below it."""
    items = "".join(f'<span style="color:{c}">&#9632;</span> {escape(n)} ' for n, c in legend)
    caption = f'<figcaption>{items}</figcaption>' if len(legend) > 1 else ""
    return (f'<figure class="plot-box"><svg class="plot" data-plot="{kind}" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">' + "".join(body)
            + f"</svg>{caption}</figure>")


def scatter(groups: dict[str, list[tuple[float, float]]], title: str, xlabel: str, ylabel: str) -> str:
    """Points, one colour per group (a run)."""
    pts = [p for g in groups.values() for p in g]
    f = Frame([p[0] for p in pts], [p[1] for p in pts], title, xlabel, ylabel)
    body = f.axes()
    for (name, g), colour in zip(groups.items(), COLOURS * 8):
        body += [f'<circle cx="{f.x(x):.1f}" cy="{f.y(y):.1f}" r="4" fill="{colour}"><title>{escape(name)}: '
                 f'{label(x)}, {label(y)}</title></circle>' for x, y in g]
    return _svg("scatter", body, [(n, c) for n, c in zip(groups, COLOURS * 8)])


def thin(points: list[tuple[float, float]], columns: int = W) -> list[tuple[float, float]]:
    """At most about 2 points per pixel column (the lowest and highest of each), in order."""
    if len(points) <= columns * 2:
        return points
    lo, hi = points[0][0], points[-1][0]
    span = (hi - lo) or 1
    buckets: dict[int, list] = {}
    for p in points:
        buckets.setdefault(int((p[0] - lo) / span * (columns - 1)), []).append(p)
    out = []
    for b in sorted(buckets):
        group = buckets[b]
        pair = sorted({min(group, key=lambda p: p[1]), max(group, key=lambda p: p[1])})
        out += pair
    return out


def lines(curves: dict[str, list[tuple[float, float]]], title: str, xlabel: str, ylabel: str) -> str:
    """Curves overlaid, one colour each (a task)."""
    curves = {n: thin(sorted(c)) for n, c in curves.items() if c}
    pts = [p for c in curves.values() for p in c]
    f = Frame([p[0] for p in pts], [p[1] for p in pts], title, xlabel, ylabel)
    body = f.axes()
    for (name, c), colour in zip(curves.items(), COLOURS * 16):
        path = " ".join(f"{f.x(x):.1f},{f.y(y):.1f}" for x, y in c)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5">'
                    f'<title>{escape(name)}</title></polyline>')
    return _svg("lines", body, [(n, c) for n, c in zip(curves, COLOURS * 16)])


def timeline(bars: list[dict], title: str) -> str:
    """One row per task: queued (grey) then running (green, red when it failed), seconds from the first
    submission; each bar's tooltip holds its peak memory and CPU. bars: {name, queued, start, end, failed, note}."""
    t0 = min(b["queued"] for b in bars)
    t1 = max(b["end"] for b in bars)
    height = max(H, TOP + BOTTOM + 16 * len(bars))
    f = Frame([0, max(t1 - t0, 1)], [0, 1], title, "seconds since the first submission", "")
    f.x0, f.x1 = 0, max(t1 - t0, 1)  # time starts at 0: no padding before it
    f.xt = ticks(f.x0, f.x1)
    body = f.axes()[:1] + [f'<line x1="{LEFT}" y1="{height - BOTTOM}" x2="{W - RIGHT}" y2="{height - BOTTOM}" class="axis"/>']
    for v in f.xt:
        x = f.x(v)
        body.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{height - BOTTOM}" class="grid"/>'
                    f'<text x="{x:.1f}" y="{height - BOTTOM + 15}" text-anchor="middle">{label(v)}</text>')
    body.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{height - 6}" text-anchor="middle">{escape(f.xlabel)}</text>')
    row = (height - TOP - BOTTOM) / len(bars)
    for i, b in enumerate(bars):
        y = TOP + i * row + 2
        hgt = max(row - 4, 2)
        q, s, e = (f.x(b[k] - t0) for k in ("queued", "start", "end"))
        colour = "#d62728" if b["failed"] else "#2ca02c"
        body.append(f'<text x="{LEFT - 5}" y="{y + hgt / 2 + 4:.1f}" text-anchor="end">{escape(b["name"])}</text>'
                    f'<rect x="{q:.1f}" y="{y:.1f}" width="{max(s - q, 0.5):.1f}" height="{hgt:.1f}" fill="#bbb">'
                    f'<title>{escape(b["name"])}: queued {b["start"] - b["queued"]:.0f} s</title></rect>'
                    f'<rect x="{s:.1f}" y="{y:.1f}" width="{max(e - s, 1):.1f}" height="{hgt:.1f}" fill="{colour}">'
                    f'<title>{escape(b["name"])}: ran {b["end"] - b["start"]:.1f} s; {escape(b["note"])}</title></rect>')
    return _svg("timeline", body, height=height)


STATE_COLOURS = {"SUCCEEDED": "#2ca02c", "FAILED": "#d62728", "NOT RUN": "#bbbbbb", "NOT SUBMITTED": "#bbbbbb"}
BOX_W, BOX_H, GAP_X, GAP_Y = 132, 30, 44, 14


def graph(steps: list[dict], title: str) -> str:
    """A pipeline's steps as boxes in columns by depth (a step right of everything it depends on), an
    arrow from each dependency, each box coloured by its state (green succeeded, red failed, grey not
    run, blue anything else). steps: {name, depends_on, state, note}, in dependency order."""
    depth: dict[str, int] = {}
    for s in steps:
        depth[s["name"]] = 1 + max((depth[d] for d in s["depends_on"] if d in depth), default=-1)
    rows: dict[int, int] = {}
    where: dict[str, tuple[float, float]] = {}
    for s in steps:
        col = depth[s["name"]]
        where[s["name"]] = (12 + col * (BOX_W + GAP_X), TOP + 8 + rows.get(col, 0) * (BOX_H + GAP_Y))
        rows[col] = rows.get(col, 0) + 1
    width = max(W, 24 + (max(depth.values(), default=0) + 1) * (BOX_W + GAP_X))
    height = TOP + 24 + max(rows.values(), default=1) * (BOX_H + GAP_Y)
    body = ['<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
            'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#777"/></marker></defs>',
            f'<text x="12" y="16" class="title">{escape(title)}</text>']
    for s in steps:
        x, y = where[s["name"]]
        for d in s["depends_on"]:
            if d in where:
                dx, dy = where[d]
                body.append(f'<line x1="{dx + BOX_W:.0f}" y1="{dy + BOX_H / 2:.0f}" x2="{x - 2:.0f}" '
                            f'y2="{y + BOX_H / 2:.0f}" stroke="#777" marker-end="url(#arrow)"/>')
    for s in steps:
        x, y = where[s["name"]]
        fill = STATE_COLOURS.get(s["state"], "#1f77b4")
        name = s["name"] if len(s["name"]) <= 17 else s["name"][:16] + "\u2026"
        body.append(f'<g class="step" data-step="{escape(s["name"])}" data-state="{escape(s["state"])}">'
                    f'<title>{escape(s["name"])}: {escape(s["state"])}; {escape(s["note"])}</title>'
                    f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="4" fill="{fill}" '
                    f'fill-opacity="0.25" stroke="{fill}"/>'
                    f'<text x="{x + BOX_W / 2:.0f}" y="{y + BOX_H / 2 + 4:.0f}" text-anchor="middle">{escape(name)}</text></g>')
    return _svg("graph", body, height=height, width=width)
