"""Calls to Aspose per second across a run, as plain SVG: for the README's fleet section.

A bar per second (the calls that arrived at the emulator in it), the outage as a shaded band,
the budget (``AsposeCallsPerSecond``) as a dashed line, and each phase's mean rate written over
it. No plotting library: the repository draws its SVG itself (``infra/ops/drawing.py``), and a
drawing made from numbers with text escaped and presentation attributes only is safe inline in
any page, and diffs as text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from infra.local.call_rate import CallRates

WIDTH = 860
HEIGHT = 340
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 56, 48
FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"
COLOURS = {
    "bar": "#2563eb",
    "outage": "#fee2e2",
    "outage_text": "#b91c1c",
    "budget": "#b91c1c",
    "axis": "#6b7280",
    "grid": "#e5e7eb",
    "text": "#111827",
}


@dataclass(frozen=True)
class _Scale:
    """Seconds and calls to pixels."""

    seconds: float
    calls: int

    def x(self, second: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * second / self.seconds

    def y(self, calls: float) -> float:
        return HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * calls / self.calls


def draw(rates: CallRates, title: str) -> str:
    """The SVG document of ``rates``' per-second series."""
    series = rates.per_second()
    top = max([*series, math.ceil(rates.budget or 0), 1]) + 1
    scale = _Scale(max(len(series), 1), top)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family={quoteattr(FONT)} font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        _text(LEFT, 22, title, size=15, weight="600"),
        *_outage(rates, scale),
        *_grid(scale),
        *_bars(series, scale),
        *_budget(rates, scale),
        *_phases(rates, scale),
        *_axes(scale),
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def _outage(rates: CallRates, scale: _Scale) -> list[str]:
    if rates.outage is None:
        return []
    start = scale.x(rates.outage.start - rates.origin)
    end = scale.x(rates.outage.end - rates.origin)
    return [
        _rect(start, TOP, end - start, HEIGHT - TOP - BOTTOM, COLOURS["outage"]),
        _text(
            (start + end) / 2,
            TOP + 14,
            f"outage: every answer 503 ({rates.outage.seconds:.0f} s)",
            colour=COLOURS["outage_text"],
            anchor="middle",
        ),
    ]


def _grid(scale: _Scale) -> list[str]:
    step = max(1, math.ceil(scale.calls / 6))
    lines = []
    for calls in range(0, scale.calls + 1, step):
        y = scale.y(calls)
        lines.append(_line((LEFT, y), (WIDTH - RIGHT, y), COLOURS["grid"]))
        lines.append(_text(LEFT - 8, y + 4, str(calls), colour=COLOURS["axis"], anchor="end"))
    return lines


def _bars(series: list[int], scale: _Scale) -> list[str]:
    width = max(scale.x(1) - scale.x(0) - 1, 1)
    return [
        _rect(scale.x(second), scale.y(count), width, scale.y(0) - scale.y(count), COLOURS["bar"])
        for second, count in enumerate(series)
        if count
    ]


def _budget(rates: CallRates, scale: _Scale) -> list[str]:
    if not rates.budget:
        return []
    y = scale.y(rates.budget)
    return [
        _line((LEFT, y), (WIDTH - RIGHT, y), COLOURS["budget"], dashed=True),
        _text(
            WIDTH - RIGHT,
            y - 6,
            f"budget: {rates.budget:g} calls/s (AsposeCallsPerSecond)",
            colour=COLOURS["budget"],
            anchor="end",
        ),
    ]


def _phases(rates: CallRates, scale: _Scale) -> list[str]:
    """Each phase's mean rate, over its middle, under the title."""
    spans = {"before": (rates.origin, rates.end)}
    if rates.outage is not None:
        spans = {
            "before": (rates.origin, rates.outage.start),
            "during": (rates.outage.start, rates.outage.end),
            "after": (rates.outage.end, rates.end),
        }
    texts = []
    for phase, value in rates.phases().items():
        if value is None:
            continue
        start, end = spans[phase]
        middle = scale.x((start + end) / 2 - rates.origin)
        label = f"{phase}: {value:.2f}/s" if rates.outage is not None else f"{value:.2f}/s"
        texts.append(_text(middle, TOP - 8, label, colour=COLOURS["text"], anchor="middle"))
    return texts


def _axes(scale: _Scale) -> list[str]:
    base = HEIGHT - BOTTOM
    parts = [_line((LEFT, base), (WIDTH - RIGHT, base), COLOURS["axis"])]
    step = next(s for s in (5, 10, 15, 30, 60, 120, 300, 600, 3600) if scale.seconds / s <= 12)
    for second in range(0, int(scale.seconds) + 1, step):
        x = scale.x(second)
        parts.append(_line((x, base), (x, base + 4), COLOURS["axis"]))
        parts.append(_text(x, base + 18, f"{second}", colour=COLOURS["axis"], anchor="middle"))
    parts.append(
        _text(
            (LEFT + WIDTH - RIGHT) / 2,
            HEIGHT - 10,
            "seconds since the tasks were announced",
            colour=COLOURS["axis"],
            anchor="middle",
        )
    )
    parts.append(
        f'<text x="16" y="{(TOP + base) / 2:.1f}" fill="{COLOURS["axis"]}" text-anchor="middle" '
        f'transform="rotate(-90 16 {(TOP + base) / 2:.1f})">calls to Aspose per second</text>'
    )
    return parts


def _rect(x: float, y: float, width: float, height: float, fill: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{max(height, 0):.1f}" '
        f'fill="{fill}"/>'
    )


def _line(
    start: tuple[float, float], end: tuple[float, float], colour: str, dashed: bool = False
) -> str:
    dash = ' stroke-dasharray="6 4" stroke-width="2"' if dashed else ""
    (x1, y1), (x2, y2) = start, end
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}"{dash}/>'
    )


def _text(x: float, y: float, text: str, **style: Any) -> str:
    """Escaped text at (x, y); ``colour``, ``anchor``, ``size``, ``weight`` as given."""
    attributes = [
        f'x="{x:.1f}"',
        f'y="{y:.1f}"',
        f'fill="{style.get("colour", COLOURS["text"])}"',
        f'text-anchor="{style.get("anchor", "start")}"',
    ]
    if "size" in style:
        attributes.append(f'font-size="{style["size"]}"')
    if "weight" in style:
        attributes.append(f'font-weight="{style["weight"]}"')
    return f"<text {' '.join(attributes)}>{escape(text)}</text>"
