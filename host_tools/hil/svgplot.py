"""Small inline-SVG charts for the HIL HTML report: lines, grouped bars and a histogram.

No dependencies beyond numpy, no scripts, no external resources: each function returns one
`<svg>` element (or a "no data" block) as a string, with axes, ticks, labels and a legend.
Every SVG carries `class="plot"` and `data-points="N"` (the number of data marks drawn).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948", "#9c755f",
           "#ff9da7", "#bab0ac")
WIDTH = 600
HEIGHT = 300
_FONT = 'font-family="system-ui, -apple-system, Segoe UI, DejaVu Sans, sans-serif" font-size="12"'
_CHAR_W = 6.8  # average glyph width at 12px, for laying out the legend


@dataclass(frozen=True)
class Line:
    """One series of a line chart: (x, y) points, drawn in the order given."""
    label: str
    points: Sequence[tuple[float, float]]


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 × 10^k) covering [lo, hi]; first and last tick
    bound the axis."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"axis bounds must be finite, got {lo}..{hi}")
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(1, target)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = mag * 10
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if (hi - lo) / (m * mag) <= target:
            step = m * mag
            break
    start = math.floor(lo / step + 1e-9) * step
    end = math.ceil(hi / step - 1e-9) * step
    n = int(round((end - start) / step))
    return [round(start + i * step, 12) for i in range(n + 1)]


def fmt_tick(v: float, ticks: Sequence[float]) -> str:
    """A tick label with as many decimals as the tick step needs."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    if step >= 1 or step == 0:
        return f"{v:.0f}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if round(step * 10 ** decimals, 6) % 1:
        decimals += 1
    return f"{v:.{decimals}f}"


def no_data(title: str, why: str = "no data") -> str:
    """The block shown instead of a chart when there is nothing to plot."""
    return (f'<div class="plot nodata" role="img" aria-label="{_e(title)}: {_e(why)}">'
            f'<div class="plot-title">{_e(title)}</div><p>{_e(why)}</p></div>')


class _Frame:
    """Plot area, data domain and the legend rows above it."""

    def __init__(self, title: str, x_label: str, y_label: str, legend: Sequence[str],
                 width: int = WIDTH, height: int = HEIGHT) -> None:
        self.title, self.x_label, self.y_label = title, x_label, y_label
        self.width, self.height = width, height
        self.legend = list(legend)
        self.left, self.right, self.bottom = 64, 18, 46
        self._legend_rows = self._layout_legend()
        self.top = 34 + 18 * len(self._legend_rows)
        self.x0, self.x1, self.y0, self.y1 = 0.0, 1.0, 0.0, 1.0

    def _layout_legend(self) -> list[list[tuple[int, str]]]:
        rows: list[list[tuple[int, str]]] = []
        row: list[tuple[int, str]] = []
        used = 0.0
        avail = self.width - self.left - self.right
        for i, label in enumerate(self.legend):
            w = 22 + _CHAR_W * len(label) + 16
            if row and used + w > avail:
                rows.append(row)
                row, used = [], 0.0
            row.append((i, label))
            used += w
        if row:
            rows.append(row)
        return rows

    @property
    def pw(self) -> float:
        return float(self.width - self.left - self.right)

    @property
    def ph(self) -> float:
        return float(self.height - self.top - self.bottom)

    def sx(self, x: float) -> float:
        return self.left + (x - self.x0) / ((self.x1 - self.x0) or 1.0) * self.pw

    def sy(self, y: float) -> float:
        return self.top + self.ph - (y - self.y0) / ((self.y1 - self.y0) or 1.0) * self.ph

    def open(self, n_points: int) -> list[str]:
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" viewBox="0 0 {self.width} {self.height}" '
               f'width="{self.width}" height="{self.height}" role="img" data-points="{n_points}" {_FONT}>',
               f'<title>{_e(self.title)}</title>',
               f'<rect x="0" y="0" width="{self.width}" height="{self.height}" fill="#fff"/>',
               f'<text x="{self.width / 2:.1f}" y="20" text-anchor="middle" font-size="14" font-weight="600" '
               f'fill="#222">{_e(self.title)}</text>']
        for r, row in enumerate(self._legend_rows):
            x = float(self.left)
            y = 34 + 18 * r + 4
            for i, label in row:
                color = PALETTE[i % len(PALETTE)]
                out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="14" height="10" rx="2" fill="{color}"/>')
                out.append(f'<text x="{x + 19:.1f}" y="{y:.1f}" fill="#333">{_e(label)}</text>')
                x += 22 + _CHAR_W * len(label) + 16
        return out

    def y_axis(self, ticks: Sequence[float]) -> list[str]:
        out: list[str] = []
        for t in ticks:
            y = self.sy(t)
            out.append(f'<line x1="{self.left}" y1="{y:.1f}" x2="{self.left + self.pw:.1f}" y2="{y:.1f}" '
                       f'stroke="#e3e3e3"/>')
            out.append(f'<line x1="{self.left - 4}" y1="{y:.1f}" x2="{self.left}" y2="{y:.1f}" stroke="#555"/>')
            out.append(f'<text x="{self.left - 7}" y="{y + 4:.1f}" text-anchor="end" fill="#444">'
                       f'{fmt_tick(t, ticks)}</text>')
        cy = self.top + self.ph / 2
        out.append(f'<text x="14" y="{cy:.1f}" text-anchor="middle" transform="rotate(-90 14 {cy:.1f})" '
                   f'fill="#333">{_e(self.y_label)}</text>')
        out.append(f'<line x1="{self.left}" y1="{self.top}" x2="{self.left}" y2="{self.top + self.ph:.1f}" '
                   f'stroke="#555"/>')
        return out

    def x_axis(self, ticks: Sequence[float] | None, labels: Sequence[tuple[float, str]] = ()) -> list[str]:
        base = self.top + self.ph
        out = [f'<line x1="{self.left}" y1="{base:.1f}" x2="{self.left + self.pw:.1f}" y2="{base:.1f}" stroke="#555"/>']
        marks = [(self.sx(t), fmt_tick(t, ticks)) for t in ticks] if ticks else [(x, s) for x, s in labels]
        for x, s in marks:
            out.append(f'<line x1="{x:.1f}" y1="{base:.1f}" x2="{x:.1f}" y2="{base + 4:.1f}" stroke="#555"/>')
            out.append(f'<text x="{x:.1f}" y="{base + 17:.1f}" text-anchor="middle" fill="#444">{_e(s)}</text>')
        out.append(f'<text x="{self.left + self.pw / 2:.1f}" y="{self.height - 8}" text-anchor="middle" '
                   f'fill="#333">{_e(self.x_label)}</text>')
        return out


def line_chart(title: str, lines: Sequence[Line], x_label: str, y_label: str, *,
               y_from_zero: bool = True, width: int = WIDTH, height: int = HEIGHT) -> str:
    """One polyline per series (with point markers when there are few points)."""
    clean = [(ln.label, [(float(x), float(y)) for x, y in ln.points if _finite(x) and _finite(y)]) for ln in lines]
    clean = [(label, pts) for label, pts in clean if pts]
    n = sum(len(p) for _, p in clean)
    if n == 0:
        return no_data(title)
    xs = [x for _, p in clean for x, _ in p]
    ys = [y for _, p in clean for _, y in p]
    f = _Frame(title, x_label, y_label, [label for label, _ in clean], width, height)
    xt = nice_ticks(min(xs), max(xs))
    yt = nice_ticks(min(0.0, min(ys)) if y_from_zero else min(ys), max(ys))
    f.x0, f.x1, f.y0, f.y1 = xt[0], xt[-1], yt[0], yt[-1]
    out = f.open(n) + f.y_axis(yt) + f.x_axis(xt)
    for i, (label, pts) in enumerate(clean):
        color = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{f.sx(x):.1f},{f.sy(y):.1f}" for x, y in pts)
        out.append(f'<polyline class="series" data-label="{_e(label)}" points="{coords}" fill="none" '
                   f'stroke="{color}" stroke-width="2" stroke-linejoin="round"/>')
        if len(pts) <= 40:
            out.extend(f'<circle cx="{f.sx(x):.1f}" cy="{f.sy(y):.1f}" r="2.6" fill="{color}"/>' for x, y in pts)
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(title: str, categories: Sequence[str], groups: Sequence[tuple[str, Sequence[float | None]]],
              y_label: str, *, x_label: str = "", y_max: float | None = None, value_format: str = "{:.2f}",
              width: int = WIDTH, height: int = HEIGHT) -> str:
    """Grouped bars: one group per category, one bar per (label, values) series; None = no bar."""
    vals = [float(v) for _, vs in groups for v in vs if v is not None and math.isfinite(v)]
    if not categories or not vals:
        return no_data(title)
    f = _Frame(title, x_label, y_label, [label for label, _ in groups], width, height)
    yt = nice_ticks(0.0, max(max(vals), y_max or 0.0))
    f.y0, f.y1 = yt[0], yt[-1]
    slot = f.pw / len(categories)
    bar_w = min(48.0, slot * 0.8 / max(1, len(groups)))
    centers = [f.left + slot * (i + 0.5) for i in range(len(categories))]
    out = f.open(len(vals)) + f.y_axis(yt) + f.x_axis(None, list(zip(centers, categories)))
    for g, (label, values) in enumerate(groups):
        color = PALETTE[g % len(PALETTE)]
        for c, cx in enumerate(centers):
            v = values[c] if c < len(values) else None
            x = cx - bar_w * len(groups) / 2 + bar_w * g
            if not _finite(v):
                out.append(f'<text x="{x + bar_w / 2:.1f}" y="{f.sy(0) - 4:.1f}" text-anchor="middle" '
                           f'font-size="10" fill="#888">n/a</text>')
                continue
            assert v is not None
            y = f.sy(v)
            out.append(f'<rect class="bar" data-label="{_e(label)}" x="{x + 1:.1f}" y="{y:.1f}" '
                       f'width="{bar_w - 2:.1f}" height="{f.sy(0) - y:.1f}" fill="{color}">'
                       f'<title>{_e(label)} {_e(categories[c])}: {_e(value_format.format(v))}</title></rect>')
            out.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="11" '
                       f'fill="#333">{_e(value_format.format(v))}</text>')
    out.append("</svg>")
    return "\n".join(out)


def histogram(title: str, values: Sequence[float], x_label: str, *, y_label: str = "count",
              markers: Sequence[tuple[str, float]] = (), width: int = WIDTH, height: int = HEIGHT) -> str:
    """Distribution of values, with optional labelled vertical markers (e.g. p50, p95)."""
    data = np.array([float(v) for v in values if _finite(v)], dtype=float)
    if data.size == 0:
        return no_data(title)
    lo, hi = float(data.min()), float(data.max())
    # bins on round boundaries, about 1.6·sqrt(n) of them
    edges = np.array(nice_ticks(lo, hi, int(min(24, max(6, round(1.6 * math.sqrt(data.size)))))))
    counts, _ = np.histogram(data, bins=edges)
    xt = nice_ticks(float(edges[0]), float(edges[-1]))
    f = _Frame(title, x_label, y_label, [], width, height)
    yt = nice_ticks(0.0, float(max(1, int(counts.max()))) * 1.15)  # headroom for the marker labels
    if len(yt) > 1 and yt[1] - yt[0] < 1:  # counts are whole numbers
        yt = [float(i) for i in range(int(math.ceil(yt[-1])) + 1)]
    f.x0, f.x1, f.y0, f.y1 = xt[0], xt[-1], yt[0], yt[-1]
    out = f.open(int(data.size)) + f.y_axis(yt) + f.x_axis(xt)
    for i, count in enumerate(counts):
        if count == 0:
            continue
        x0, x1 = f.sx(float(edges[i])), f.sx(float(edges[i + 1]))
        y = f.sy(float(count))
        out.append(f'<rect class="bar" x="{x0 + 0.5:.1f}" y="{y:.1f}" width="{max(1.0, x1 - x0 - 1):.1f}" '
                   f'height="{f.sy(0) - y:.1f}" fill="{PALETTE[0]}"><title>{edges[i]:.4g}–{edges[i + 1]:.4g}: '
                   f'{int(count)}</title></rect>')
    for j, (label, v) in enumerate(markers):
        if not _finite(v):
            continue
        x = f.sx(v)
        color = PALETTE[(j + 1) % len(PALETTE)]
        out.append(f'<line x1="{x:.1f}" y1="{f.top}" x2="{x:.1f}" y2="{f.top + f.ph:.1f}" stroke="{color}" '
                   f'stroke-width="2" stroke-dasharray="5 3"/>')
        anchor = "end" if x > f.left + f.pw * 0.8 else "start"
        dx = -4 if anchor == "end" else 4
        out.append(f'<text x="{x + dx:.1f}" y="{f.top + 12 + 15 * j:.1f}" text-anchor="{anchor}" fill="{color}" '
                   f'font-weight="600" stroke="#fff" stroke-width="3" paint-order="stroke">{_e(label)} {v:.4g}</text>')
    out.append("</svg>")
    return "\n".join(out)
