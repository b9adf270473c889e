"""One execution's timeline as inline SVG: each state as a bar from its entry to the next one's,
the waits labelled with their length, each poll's answer as a dot, failed attempts as crosses,
and where it ended.

Presentation attributes only (no ``<style>``, no script), every text escaped, so it is safe
inline in a page, like :mod:`infra.ops.drawing`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from infra.ops.console.formats import duration
from infra.ops.console.markup import Html, el
from infra.stack.history import Execution, Step

WIDTH = 960
PAD = 18
BAR_Y = 58
BAR_HEIGHT = 20
HEIGHT = 118
FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"
#: Dot colours by the status a poll found (anything else: "other").
POLL_COLOURS = {
    "Completed": "#15803d",
    "Pending": "#2563eb",
    "Processing": "#2563eb",
    "NotChecked": "#2563eb",
    "Throttled": "#c2410c",
    "Unavailable": "#c2410c",
    "other": "#b91c1c",
}
END_COLOURS = {"SUCCEEDED": "#15803d", "RUNNING": "#c2410c"}  # any other end: red
BAR_COLOURS = {"Wait": "#bfdbfe", "Task": "#9ca3af", "other": "#e5e7eb"}
ERROR = "#b91c1c"
#: Tick spacings to choose from, seconds: the smallest giving at most ten ticks is used.
Scale = Callable[[float], float]  # seconds from the start to x
TICKS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


@dataclass(frozen=True)
class Span:
    """One state entered: from its entry to the next state's (or the end), in seconds from the
    execution's start."""

    step: Step
    start: float
    end: float


def spans(execution: Execution, now: datetime | None = None) -> list[Span]:
    """Every state the execution entered, timed; the last runs to the end (or ``now``)."""
    origin = execution.started
    if origin is None:
        return []
    end = execution.stopped or now or datetime.now(UTC)
    moments = [step.entered or origin for step in execution.steps] + [end]
    return [
        Span(step, _offset(origin, moments[i]), _offset(origin, moments[i + 1]))
        for i, step in enumerate(execution.steps)
    ]


def _offset(origin: datetime, moment: datetime) -> float:
    return max(0.0, (moment - origin).total_seconds())


def render(execution: Execution, now: datetime | None = None) -> Html:
    """The timeline as an ``<svg>`` element."""
    timed = spans(execution, now)
    total = max((s.end for s in timed), default=0.0) or 1.0
    scale = (WIDTH - 2 * PAD) / total

    def x(seconds: float) -> float:
        return PAD + seconds * scale

    parts = [
        *_axis(total, x),
        *(_bar(span, x) for span in timed if span.step.kind != "Choice"),
        *_polls(timed, x),
        *_errors(timed, x),
        _end(execution.status, total, x),
    ]
    label = f"Timeline of execution {execution.name}: {len(execution.polls())} polls"
    return el(
        "svg",
        el("title", label),
        *parts,
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {WIDTH} {HEIGHT}",
        width=WIDTH,
        height=HEIGHT,
        font_family=FONT,
        role="img",
        aria_label=label,
        class_="timeline",
    )


def _axis(total: float, x: Scale) -> Iterator[Html]:
    step = next((t for t in TICKS if total / t <= 10), TICKS[-1])
    yield el(
        "line",
        x1=x(0),
        y1=BAR_Y + BAR_HEIGHT + 8,
        x2=x(total),
        y2=BAR_Y + BAR_HEIGHT + 8,
        stroke="#9ca3af",
    )
    tick = 0
    while tick <= total + 1e-9:
        yield el(
            "text",
            f"+{duration(tick)}",
            x=f"{x(tick):.1f}",
            y=BAR_Y + BAR_HEIGHT + 22,
            font_size=10,
            fill="#6b7280",
            text_anchor="middle",
        )
        tick += step


def _bar(span: Span, x: Scale) -> Html:
    step = span.step
    width = max(1.5, x(span.end) - x(span.start))
    colour = BAR_COLOURS.get(step.kind, BAR_COLOURS["other"])
    what = f"{step.name}: {duration(span.end - span.start, precise=True)}"
    if step.wait_seconds is not None:
        took = duration(span.end - span.start, precise=True)
        what = f"{step.name} {step.wait_seconds} s (took {took})"
    parts: list[Html] = [
        el("title", what),
        el(
            "rect",
            x=f"{x(span.start):.1f}",
            y=BAR_Y,
            width=f"{width:.1f}",
            height=BAR_HEIGHT,
            fill=colour,
            stroke="#ffffff",
            stroke_width=0.5,
        ),
    ]
    if step.wait_seconds is not None and width > 26:
        parts.append(
            el(
                "text",
                f"{step.wait_seconds} s",
                x=f"{x(span.start) + width / 2:.1f}",
                y=BAR_Y + 14,
                font_size=11,
                fill="#1e3a8a",
                text_anchor="middle",
            )
        )
    return el("g", *parts, class_="span", data_kind=step.kind, data_state=step.name)


def _polls(timed: list[Span], x: Scale) -> Iterator[Html]:
    """A dot per poll answer, labelled while labels have room."""
    polls = [span for span in timed if span.step.poll is not None]
    room = min((x(b.start) - x(a.start) for a, b in itertools.pairwise(polls)), default=999)
    for span in polls:
        poll = span.step.poll or {}
        status = str(poll.get("status"))
        colour = POLL_COLOURS.get(status, POLL_COLOURS["other"])
        number = poll.get("polls")
        text = f"poll {number}: {status} at +{duration(span.start, precise=True)}"
        parts: list[Html] = [
            el("title", text),
            el("circle", cx=f"{x(span.start):.1f}", cy=BAR_Y - 12, r=6, fill=colour),
        ]
        if room > 70:
            parts.append(
                el(
                    "text",
                    f"#{number} {status}",
                    x=f"{x(span.start):.1f}",
                    y=BAR_Y - 24,
                    font_size=10.5,
                    fill=colour,
                    text_anchor="middle",
                )
            )
        yield el("g", *parts, class_="poll", data_status=status)


def _errors(timed: list[Span], x: Scale) -> Iterator[Html]:
    """A cross where an attempt failed inside a state (and was retried or caught)."""
    for span in timed:
        if span.step.errors:
            centre = x(span.end)
            yield el(
                "g",
                el("title", f"{span.step.name} failed: {', '.join(span.step.errors)}"),
                el(
                    "text",
                    "✗",
                    x=f"{centre:.1f}",
                    y=BAR_Y + BAR_HEIGHT + 2,
                    font_size=16,
                    font_weight=700,
                    fill=ERROR,
                    text_anchor="middle",
                ),
                class_="error",
            )


def _end(status: str, total: float, x: Scale) -> Html:
    colour = END_COLOURS.get(status, ERROR)
    at = x(total)
    return el(
        "g",
        el("title", f"{status} at +{duration(total, precise=True)}"),
        el(
            "line",
            x1=f"{at:.1f}",
            y1=BAR_Y - 8,
            x2=f"{at:.1f}",
            y2=BAR_Y + BAR_HEIGHT + 4,
            stroke=colour,
            stroke_width=3,
        ),
        el(
            "text",
            status,
            x=f"{min(at, WIDTH - PAD):.1f}",
            y=14,
            font_size=11,
            font_weight=600,
            fill=colour,
            text_anchor="end",
        ),
        class_="end",
    )


__all__ = ["Span", "render", "spans"]
