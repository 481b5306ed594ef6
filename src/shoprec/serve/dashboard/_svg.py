"""Plots as inline SVG: lines over days, estimates with intervals, bars and meters.

Drawn here rather than by a chart library so the pages need no script and no download. Every
plot scales to its container (``viewBox``), names itself for screen readers (``role="img"``,
``<title>``) and escapes every label it draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape

from markupsafe import Markup

__all__ = ["bar_chart", "interval_chart", "line_chart", "meter"]

PALETTE = ("#1f6feb", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#5c940d", "#0b7285")
# Drawn at 480 units wide: scaled to a phone's 350 px the 13-unit labels stay legible (9.5 px),
# and to a desktop half-column they grow only slightly.
_W, _H = 480, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 30, 30, 44
_LABEL = 20  # characters of a row label before it is cut (the full label is its tooltip)


def _open(title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg class="plot" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="{_LEFT}" y="16" class="plot-title">{escape(title)}</text>',
    ]


def _ticks(high: float, n: int = 4) -> list[float]:
    if high <= 0 or not math.isfinite(high):
        return [0.0, 1.0]
    step = 10 ** math.floor(math.log10(high / n))
    for factor in (1, 2, 2.5, 5, 10):
        if high / (step * factor) <= n:
            step *= factor
            break
    return [step * i for i in range(math.ceil(high / step) + 1)]


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.3g}"
    return f"{value:.2g}"


def _short_key(key: str) -> str:
    """An axis label: ``07:23`` for a minute, ``12-02 07h`` for an hour, ``12-02`` for a day."""
    if ":" in key:
        return key[11:]
    return key[5:] if len(key) > 5 else key


def line_chart(
    series: Mapping[str, Sequence[tuple[str, float]]],
    *,
    title: str,
    fmt: Callable[[float], str] = _fmt,
) -> Markup:
    """Lines over ordered string keys (days); ``series`` maps a legend name to its points.
    Missing points (NaN) break the line."""
    keys = sorted({k for points in series.values() for k, _ in points})
    values = [v for points in series.values() for _, v in points if math.isfinite(v)]
    out = _open(title, _W, _H)
    if not keys or not values:
        out.append(f'<text x="{_LEFT}" y="{_H // 2}" class="plot-empty">no data</text></svg>')
        return Markup("".join(out))
    ticks = _ticks(max(values))
    top = ticks[-1] or 1.0
    inner_w, inner_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(i: int) -> float:
        return _LEFT + (inner_w * i / (len(keys) - 1) if len(keys) > 1 else inner_w / 2)

    def y(v: float) -> float:
        return _TOP + inner_h * (1 - v / top)

    for t in ticks:
        out.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
            f'class="grid"/><text x="{_LEFT - 6}" y="{y(t) + 4:.1f}" class="tick" '
            f'text-anchor="end">{escape(fmt(t))}</text>'
        )
    step = max(1, math.ceil(len(keys) / 6))
    for i in range(0, len(keys), step):
        out.append(
            f'<text x="{x(i):.1f}" y="{_H - _BOTTOM + 16}" class="tick" '
            f'text-anchor="middle">{escape(_short_key(keys[i]))}</text>'
        )
    sparse = len(keys) <= 3
    radius = 4.5 if sparse else 2.5
    for n, (name, points) in enumerate(series.items()):
        color = PALETTE[n % len(PALETTE)]
        where = {k: v for k, v in points}
        path, pen = [], "M"
        for i, key in enumerate(keys):
            v = where.get(key, math.nan)
            if not math.isfinite(v):
                pen = "M"
                continue
            path.append(f"{pen}{x(i):.1f},{y(v):.1f}")
            pen = "L"
            out.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{radius}" fill="{color}">'
                f"<title>{escape(name)} {escape(key)}: {escape(fmt(v))}</title></circle>"
            )
            if sparse:  # too few points for a line to tell the value: write it
                out.append(
                    f'<text x="{x(i) + 8:.1f}" y="{y(v) + 4:.1f}" class="tick">'
                    f"{escape(fmt(v))}</text>"
                )
        out.append(f'<path d="{" ".join(path)}" fill="none" stroke="{color}" stroke-width="2"/>')
        lx = _LEFT + 120 * n
        out.append(
            f'<rect x="{lx}" y="{_H - 15}" width="11" height="11" fill="{color}"/>'
            f'<text x="{lx + 14}" y="{_H - 5}" class="legend">{escape(name)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def interval_chart(
    rows: Sequence[tuple[str, float, float, float]],
    *,
    title: str,
    fmt: Callable[[float], str] = _fmt,
    bars: bool = False,
) -> Markup:
    """One row per ``(label, value, low, high)``: the estimate as a dot, its interval as a bar
    (``bars``: the value as a bar from zero)."""
    height = _TOP + 28 * max(len(rows), 1) + 26
    out = _open(title, _W, height)
    finite = [v for r in rows for v in r[1:] if math.isfinite(v)]
    if not finite:
        out.append(f'<text x="{_LEFT}" y="{_TOP + 16}" class="plot-empty">no data</text></svg>')
        return Markup("".join(out))
    top = _ticks(max(finite))[-1] or 1.0
    longest = max((len(r[0]) for r in rows), default=1)
    left, right = min(24 + 7 * min(longest, _LABEL), 170), _W - 64

    def x(v: float) -> float:
        return left + (right - left) * max(v, 0.0) / top

    for i, (label, value, low, high) in enumerate(rows):
        cy = _TOP + 14 + 28 * i
        color = PALETTE[i % len(PALETTE)]
        short = label if len(label) <= _LABEL else label[: _LABEL - 1] + "\u2026"
        out.append(
            f'<text x="{left - 8}" y="{cy + 4}" class="tick" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(short)}</text>"
        )
        if bars and math.isfinite(value):
            out.append(
                f'<rect x="{left}" y="{cy - 8}" width="{x(value) - left:.1f}" height="16" '
                f'fill="{color}" fill-opacity="0.85"/>'
            )
        elif math.isfinite(low) and math.isfinite(high):
            out.append(
                f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{cy}" y2="{cy}" '
                f'stroke="{color}" stroke-width="4" stroke-opacity="0.45"/>'
            )
        if math.isfinite(value):
            dot = "" if bars else f'<circle cx="{x(value):.1f}" cy="{cy}" r="5" fill="{color}"/>'
            out.append(
                f'{dot}<text x="{right + 8}" y="{cy + 4}" class="tick">{escape(fmt(value))}</text>'
            )
    axis_y = _TOP + 28 * len(rows) + 4
    out.append(
        f'<line x1="{left}" x2="{right}" y1="{axis_y}" y2="{axis_y}" class="grid"/>'
        f'<text x="{left}" y="{axis_y + 14}" class="tick">0</text>'
        f'<text x="{right}" y="{axis_y + 14}" class="tick" text-anchor="end">'
        f"{escape(fmt(top))}</text></svg>"
    )
    return Markup("".join(out))


def bar_chart(rows: Sequence[tuple[str, float]], *, title: str) -> Markup:
    """Horizontal bars, one per ``(label, value)``."""
    rows4 = [(label, v, math.nan, math.nan) for label, v in rows]
    return interval_chart(rows4, title=title, bars=True)


def meter(value: float | None, *, label: str, high: float = 1.0) -> Markup:
    """A 0..``high`` meter with its value, for a drift distance or a share."""
    shown = "n/a" if value is None or not math.isfinite(value) else f"{value:.3f}"
    share = 0.0 if shown == "n/a" else min(max(float(value or 0) / high, 0.0), 1.0)
    tone = "ok" if share < 0.2 else "warn" if share < 0.5 else "bad"
    return Markup(
        f'<div class="meter"><span class="meter-label">{escape(label)}</span>'
        f'<svg viewBox="0 0 100 10" role="img" aria-label="{escape(label)} {shown}" '
        f'preserveAspectRatio="none"><rect width="100" height="10" class="meter-bg"/>'
        f'<rect width="{share * 100:.1f}" height="10" class="meter-{tone}"/></svg>'
        f'<span class="meter-value">{shown}</span></div>'
    )
