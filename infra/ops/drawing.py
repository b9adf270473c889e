"""The state machine drawn from its own definition as plain SVG, with one execution's path on it.

Nothing is drawn by hand: states and transitions come from the Amazon States Language definition
the stack runs (``DescribeStateMachine``), so a state added to ``region_results.asl.json`` appears
here. The layout is layered: each state on the rank of its longest path from ``StartAt`` (a
transition back up, the poll loop, is drawn round the side), longer transitions through virtual
points, states ordered by the barycentre of their neighbours. An execution's path shows the
states it entered (how many times), the transitions it took, each wait's length and the failed
attempts that were retried, and where it ended. Every text is escaped; styling is presentation
attributes only (no ``<style>``, no script), so the drawing is safe inline in a page.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from infra.stack.history import Execution

NODE_HEIGHT = 34
RANK_GAP = 96  # from one rank's top to the next's
NODE_GAP = 30
VIRTUAL_WIDTH = 14
CHAR_WIDTH = 7.2  # of 12 px sans-serif, near enough to size a box
MARGIN = 28
LOOP_GAP = 26  # how far a transition back up runs beside the states it passes
TIMES = "\N{MULTIPLICATION SIGN}"
FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"

COLOURS = {
    "idle_fill": "#ffffff",
    "idle_stroke": "#a3a9b3",
    "idle_text": "#4b5563",
    "choice_fill": "#fdf6e3",
    "visited_fill": "#dbeafe",
    "visited_stroke": "#1d4ed8",
    "visited_text": "#0b2a6f",
    "edge": "#c3c8d0",
    "edge_taken": "#1d4ed8",
    "label": "#6b7280",
    "error": "#b91c1c",
    "ok": "#15803d",
    "running": "#c2410c",
}
END_COLOURS = {"SUCCEEDED": "ok", "RUNNING": "running"}  # any other ending: "error"


@dataclass(frozen=True)
class Transition:
    """One way out of a state: ``Next``, a Choice rule, a Choice's ``Default`` or a ``Catch``."""

    source: str
    target: str
    kind: str  # next, choice, default, catch
    label: str = ""


@dataclass(frozen=True)
class Path:
    """What one execution did, as the drawing shows it."""

    entered: Counter[str]
    taken: Counter[tuple[str, str]]
    waits: dict[str, list[int]]
    errors: dict[str, list[str]]
    last: str | None
    status: str

    @classmethod
    def of(cls, execution: Execution) -> Path:
        names = [step.name for step in execution.steps]
        waits: dict[str, list[int]] = {}
        errors: dict[str, list[str]] = {}
        for step in execution.steps:
            if step.wait_seconds is not None:
                waits.setdefault(step.name, []).append(step.wait_seconds)
            errors.setdefault(step.name, []).extend(step.errors)
        return cls(
            entered=Counter(names),
            taken=Counter(itertools.pairwise(names)),
            waits=waits,
            errors={k: v for k, v in errors.items() if v},
            last=names[-1] if names else None,
            status=execution.status,
        )


def transitions(definition: Mapping[str, Any]) -> list[Transition]:
    """Every transition of the definition, state by state in the order they are written."""
    found: list[Transition] = []
    for name, state in definition.get("States", {}).items():
        for rule in state.get("Choices", []):
            found.append(Transition(name, rule["Next"], "choice", choice_label(rule)))
        if "Default" in state:
            found.append(Transition(name, state["Default"], "default", "default"))
        if "Next" in state:
            found.append(Transition(name, state["Next"], "next"))
        for catcher in state.get("Catch", []):
            found.append(Transition(name, catcher["Next"], "catch", "catch"))
    return [t for t in found if t.target in definition.get("States", {})]


def choice_label(rule: Mapping[str, Any]) -> str:
    """A Choice rule in a few words: the values it compares with (``Completed``, ``Pending +3
    & giveUp``)."""
    values = list(_compared(rule))
    strings = [v for v in values if not v.startswith("?")]
    parts = [v[1:] for v in values if v.startswith("?")]
    if strings:
        parts.insert(0, strings[0] if len(strings) == 1 else f"{strings[0]} +{len(strings) - 1}")
    return " & ".join(parts)


def _compared(rule: Mapping[str, Any]) -> Iterable[str]:
    for key in ("And", "Or"):
        for inner in rule.get(key, []):
            yield from _compared(inner)
    if "Not" in rule:
        yield from (f"?not {v.lstrip('?')}" for v in _compared(rule["Not"]))
    variable = str(rule.get("Variable", "")).rsplit(".", 1)[-1]
    for key, value in rule.items():
        if key == "BooleanEquals":
            yield f"?{variable}" if value else f"?not {variable}"
        elif key.startswith(("String", "Numeric", "Timestamp")) and not key.endswith("Path"):
            yield str(value)


# --- layout ------------------------------------------------------------------------------------
@dataclass
class _Node:
    key: str  # a state's name, or a virtual point's own key
    kind: str  # the state's Type; "" for a virtual point
    width: float
    rank: int = 0
    order: float = 0.0
    x: float = 0.0  # centre
    up: list[str] = field(default_factory=list)  # neighbours one rank above
    down: list[str] = field(default_factory=list)  # and below

    @property
    def virtual(self) -> bool:
        return not self.kind

    @property
    def y(self) -> float:
        return MARGIN + 30 + self.rank * RANK_GAP

    @property
    def left(self) -> float:
        return self.x - self.width / 2

    @property
    def right(self) -> float:
        return self.x + self.width / 2


@dataclass
class _Layout:
    nodes: dict[str, _Node]
    routes: dict[Transition, list[str]]  # a forward transition's points, source to target
    loops: list[Transition]  # transitions back up, drawn round the side
    ranks: list[list[str]]

    @property
    def width(self) -> float:
        right = max((n.right for n in self.nodes.values()), default=0)
        return right + MARGIN + LOOP_GAP * (len(self.loops) + 1)


def layout(definition: Mapping[str, Any]) -> _Layout:
    states: dict[str, Any] = dict(definition.get("States", {}))
    edges = transitions(definition)
    loops = _loops(str(definition.get("StartAt", "")), states, edges)
    forward = [t for t in edges if t not in loops]
    ranks = _ranks(states, forward)
    nodes = {
        name: _Node(name, str(state.get("Type", "Task")), _width(name), ranks[name])
        for name, state in states.items()
    }
    routes: dict[Transition, list[str]] = {}
    for number, edge in enumerate(forward):
        points = [edge.source]
        for rank in range(ranks[edge.source] + 1, ranks[edge.target]):
            key = f"\0{number}:{rank}"
            nodes[key] = _Node(key, "", VIRTUAL_WIDTH, rank)
            points.append(key)
        points.append(edge.target)
        for upper, lower in itertools.pairwise(points):
            nodes[upper].down.append(lower)
            nodes[lower].up.append(upper)
        routes[edge] = points
    layers = _order(nodes, list(states))
    _place(nodes, layers)
    return _Layout(nodes, routes, loops, layers)


def _width(name: str) -> float:
    return max(120.0, len(name) * CHAR_WIDTH + 28)


def _loops(start: str, states: Mapping[str, Any], edges: list[Transition]) -> list[Transition]:
    """Transitions back to a state still being explored from ``start``: the loops."""
    out: dict[str, list[Transition]] = {}
    for edge in edges:
        out.setdefault(edge.source, []).append(edge)
    loops: list[Transition] = []
    on_path: set[str] = set()
    seen: set[str] = set()

    def visit(name: str) -> None:
        seen.add(name)
        on_path.add(name)
        for edge in out.get(name, []):
            if edge.target in on_path:
                loops.append(edge)
            elif edge.target not in seen:
                visit(edge.target)
        on_path.discard(name)

    for name in [start, *states]:
        if name in states and name not in seen:
            visit(name)
    return loops


def _ranks(states: Mapping[str, Any], forward: list[Transition]) -> dict[str, int]:
    """Each state's longest distance from a state nothing leads to."""
    rank = dict.fromkeys(states, 0)
    incoming = Counter(t.target for t in forward)
    ready = [name for name in states if incoming[name] == 0]
    while ready:
        name = ready.pop(0)
        for edge in (t for t in forward if t.source == name):
            rank[edge.target] = max(rank[edge.target], rank[name] + 1)
            incoming[edge.target] -= 1
            if incoming[edge.target] == 0:
                ready.append(edge.target)
    return rank


def _order(nodes: dict[str, _Node], written: list[str]) -> list[list[str]]:
    """Each rank's nodes left to right: as written first, then by the barycentre of their
    neighbours, sweeping down and up a few times."""
    for node in nodes.values():
        node.order = written.index(node.key) if node.key in written else len(written)
    depth = max((n.rank for n in nodes.values()), default=0) + 1
    layers: list[list[str]] = [[] for _ in range(depth)]
    for key, node in nodes.items():
        layers[node.rank].append(key)
    for layer in layers:
        layer.sort(key=lambda k: nodes[k].order)
        _renumber(nodes, layer)
    for sweep in range(6):
        going_down = sweep % 2 == 0
        sequence = layers[1:] if going_down else list(reversed(layers[:-1]))
        for layer in sequence:
            for key in layer:
                near = nodes[key].up if going_down else nodes[key].down
                if near:
                    nodes[key].order = sum(nodes[k].order for k in near) / len(near)
            layer.sort(key=lambda k: nodes[k].order)
            _renumber(nodes, layer)
    return layers


def _renumber(nodes: dict[str, _Node], layer: list[str]) -> None:
    for index, key in enumerate(layer):
        nodes[key].order = float(index)


def _place(nodes: dict[str, _Node], layers: list[list[str]]) -> None:
    """x of every node: packed, then pulled towards its neighbours' barycentre without
    overlapping, rank by rank down, up and down again."""
    for layer in layers:
        x = nodes[layer[0]].width / 2 if layer else 0.0
        for index, key in enumerate(layer):
            x += _gap(nodes, layer[index - 1], key) if index else 0.0
            nodes[key].x = x
    for going_down in (True, False, True):
        sequence = layers[1:] if going_down else list(reversed(layers[:-1]))
        for layer in sequence:
            wanted = {}
            for key in layer:
                near = nodes[key].up if going_down else nodes[key].down
                wanted[key] = sum(nodes[k].x for k in near) / len(near) if near else nodes[key].x
            _spread(nodes, layer, wanted)
    shift = MARGIN + LOOP_GAP - min(n.left for n in nodes.values())
    for node in nodes.values():
        node.x += shift


def _spread(nodes: dict[str, _Node], layer: list[str], wanted: dict[str, float]) -> None:
    """Put each node of a rank as near its wanted x as order and spacing allow: the mean of
    packing from the left (never left of where wanted) and from the right (never right of it)."""
    from_left: list[float] = []
    for index, key in enumerate(layer):
        x = wanted[key]
        if index:
            x = max(x, from_left[-1] + _gap(nodes, layer[index - 1], key))
        from_left.append(x)
    from_right: list[float] = [0.0] * len(layer)
    for index in reversed(range(len(layer))):
        x = wanted[layer[index]]
        if index < len(layer) - 1:
            x = min(x, from_right[index + 1] - _gap(nodes, layer[index], layer[index + 1]))
        from_right[index] = x
    for index, key in enumerate(layer):
        nodes[key].x = (from_left[index] + from_right[index]) / 2


def _gap(nodes: dict[str, _Node], left: str, right: str) -> float:
    """Distance between the centres of two neighbours: virtual points pack closer."""
    a, b = nodes[left], nodes[right]
    between = (
        NODE_GAP
        if not (a.virtual or b.virtual)
        else NODE_GAP / (2 if a.virtual != b.virtual else 4)
    )
    return a.width / 2 + between + b.width / 2


# --- drawing -----------------------------------------------------------------------------------
def render(
    definition: Mapping[str, Any],
    execution: Execution | None = None,
    *,
    title: str | None = None,
    id_prefix: str = "sm",
) -> str:
    """The definition as an SVG document; with ``execution``, its path highlighted."""
    shape = layout(definition)
    path = Path.of(execution) if execution is not None else None
    depth = len(shape.ranks)
    width = shape.width
    height = MARGIN * 2 + 30 + depth * RANK_GAP
    heading = title or "State machine" + (
        f": execution {execution.name}, {execution.status}" if execution else ""
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" font-family={quoteattr(FONT)} '
        f'role="img" aria-label={quoteattr(heading)} class="state-machine">',
        f"<title>{escape(heading)}</title>",
        _markers(id_prefix),
        _text(MARGIN, MARGIN + 4, heading, TITLE),
        '<g class="transitions">',
        *(_route(shape, edge, points, path, id_prefix) for edge, points in shape.routes.items()),
        *(_loop(shape, i, edge, path, id_prefix) for i, edge in enumerate(shape.loops)),
        "</g>",
        '<g class="states">',
        *(_state(node, path) for node in shape.nodes.values() if not node.virtual),
        "</g>",
        "</svg>",
    ]
    return "\n".join(parts)


def _markers(prefix: str) -> str:
    def marker(name: str, colour: str) -> str:
        return (
            f'<marker id="{prefix}-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" '
            f'orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        )

    return (
        f"<defs>{marker('arrow', COLOURS['edge'])}"
        f"{marker('arrow-taken', COLOURS['edge_taken'])}</defs>"
    )


def _edge_style(edge: Transition, times: int, prefix: str) -> str:
    taken = times > 0
    colour = COLOURS["edge_taken"] if taken else COLOURS["edge"]
    dash = ' stroke-dasharray="5 4"' if edge.kind == "catch" else ""
    marker = f"{prefix}-arrow-taken" if taken else f"{prefix}-arrow"
    return (
        f'fill="none" stroke="{colour}" stroke-width="{2.6 if taken else 1.3}"{dash} '
        f'marker-end="url(#{marker})" class="transition{" taken" if taken else ""}" '
        f"data-from={quoteattr(edge.source)} data-to={quoteattr(edge.target)} "
        f'data-times="{times}"'
    )


def _route(
    shape: _Layout, edge: Transition, points: list[str], path: Path | None, prefix: str
) -> str:
    nodes = shape.nodes
    source, target = nodes[points[0]], nodes[points[-1]]
    start = (_port(shape, source, points[1], "down"), source.y + NODE_HEIGHT)
    end = (_port(shape, target, points[-2], "up"), target.y)
    middle = [(nodes[k].x, nodes[k].y) for k in points[1:-1]]
    d = f"M{start[0]:.1f},{start[1]:.1f}"
    current = start
    for x, y in middle:
        d += _curve(current, (x, y)) + f" L{x:.1f},{y + NODE_HEIGHT:.1f}"
        current = (x, y + NODE_HEIGHT)
    d += _curve(current, end)
    times = path.taken[(edge.source, edge.target)] if path else 0
    drawn = [f'<path d="{d}" {_edge_style(edge, times, prefix)}/>']
    label = edge.label + (f" {TIMES}{times}" if times > 1 else "")
    if label:
        # Near the end that is this transition's own: a Choice's rules part at the Choice and
        # each meets a different state; the Catches of many states meet at one.
        if edge.kind in ("choice", "default"):
            before = (nodes[points[-2]].x, nodes[points[-2]].y + NODE_HEIGHT) if middle else start
            x, y = _along(before, end, 0.72)
        else:
            x, y = _along(start, middle[0] if middle else end, 0.4)
        colour = COLOURS["edge_taken"] if times else COLOURS["label"]
        drawn.append(_text(x, y + 4, label, replace(LABEL, fill=colour)))
    return "\n".join(drawn)


def _along(a: tuple[float, float], b: tuple[float, float], share: float) -> tuple[float, float]:
    return a[0] + (b[0] - a[0]) * share, a[1] + (b[1] - a[1]) * share


def _port(shape: _Layout, node: _Node, towards: str, side: str) -> float:
    """Where on ``node``'s bottom (``down``) or top (``up``) the line to ``towards`` meets it:
    spread along the side in the order of the other ends."""
    others = node.down if side == "down" else node.up
    ordered = sorted(dict.fromkeys(others), key=lambda k: shape.nodes[k].x)
    if len(ordered) <= 1 or node.virtual:
        return node.x
    span = node.width * 0.7
    index = ordered.index(towards)
    return node.x - span / 2 + span * index / (len(ordered) - 1)


def _curve(a: tuple[float, float], b: tuple[float, float]) -> str:
    middle = (a[1] + b[1]) / 2
    return f" C{a[0]:.1f},{middle:.1f} {b[0]:.1f},{middle:.1f} {b[0]:.1f},{b[1]:.1f}"


def _loop(shape: _Layout, index: int, edge: Transition, path: Path | None, prefix: str) -> str:
    """A transition back up: down out of its source, round the side of every state between
    (the side its source is nearer), and into the top of its target."""
    source, target = shape.nodes[edge.source], shape.nodes[edge.target]
    between = [n for n in shape.nodes.values() if target.rank <= n.rank <= source.rank]
    rank = [n for n in between if n.rank == source.rank]
    left = source.x - min(n.left for n in rank) < max(n.right for n in rank) - source.x
    offset = LOOP_GAP * (index + 1)
    side = min(n.left for n in between) - offset if left else max(n.right for n in between) + offset
    below = source.y + NODE_HEIGHT + 36  # under the notes on the source
    above = target.y - 16
    entry = target.x + target.width / 4 * (-1 if left else 1)
    d = (
        f"M{source.x:.1f},{source.y + NODE_HEIGHT:.1f} L{source.x:.1f},{below:.1f} "
        f"L{side:.1f},{below:.1f} L{side:.1f},{above:.1f} L{entry:.1f},{above:.1f} "
        f"L{entry:.1f},{target.y:.1f}"
    )
    times = path.taken[(edge.source, edge.target)] if path else 0
    label = (edge.label or "again") + (f" {TIMES}{times}" if times else "")
    colour = COLOURS["edge_taken"] if times else COLOURS["label"]
    # Written along the side, outwards of it.
    x, y = side + (-7 if left else 7), (below + above) / 2
    turn = -90 if left else 90
    return (
        f'<path d="{d}" stroke-linejoin="round" {_edge_style(edge, times, prefix)}/>\n'
        f'<g transform="rotate({turn} {x:.1f} {y:.1f})">'
        + _text(x, y, label, replace(LABEL, fill=colour))
        + "</g>"
    )


def _state(node: _Node, path: Path | None) -> str:
    entered = path.entered[node.key] if path else 0
    stroke, fill, text = COLOURS["idle_stroke"], COLOURS["idle_fill"], COLOURS["idle_text"]
    if node.kind == "Choice":
        fill = COLOURS["choice_fill"]
    if entered:
        stroke, fill, text = COLOURS["visited_stroke"], COLOURS["visited_fill"], "#0b2a6f"
    if node.kind == "Succeed":
        stroke = COLOURS["ok"] if not entered else stroke
    if node.kind == "Fail":
        stroke = COLOURS["error"] if not entered else stroke
    classes = ["state", node.kind.lower()]
    width = 1.3
    if entered:
        classes.append("visited")
        width = 2.2
    if path is not None and path.last == node.key:
        classes.append("last")
        stroke = COLOURS[END_COLOURS.get(path.status, "error")]
        width = 3.4
    rounded = NODE_HEIGHT / 2 if node.kind in ("Choice", "Succeed", "Fail") else 5
    dash = ' stroke-dasharray="4 3"' if node.kind == "Pass" else ""
    label = node.key
    drawn = [
        f"<g class={quoteattr(' '.join(classes))} data-state={quoteattr(node.key)} "
        f'data-entered="{entered}">',
        f"<title>{escape(f'{node.key} ({node.kind})')}</title>",
        f'<rect x="{node.left:.1f}" y="{node.y:.1f}" width="{node.width:.1f}" '
        f'height="{NODE_HEIGHT}" rx="{rounded:.0f}" fill="{fill}" stroke="{stroke}" '
        f'stroke-width="{width}"{dash}/>',
        _text(node.x, node.y + NODE_HEIGHT / 2 + 4, label, replace(NAME, fill=text)),
    ]
    if entered > 1:
        drawn.append(_badge(node.right - 4, node.y - 6, f"{TIMES}{entered}"))
    drawn.extend(_notes(node, path))
    drawn.append("</g>")
    return "\n".join(drawn)


def _notes(node: _Node, path: Path | None) -> list[str]:
    """Under a state: the waits it made, and the failed attempts retried in it."""
    if path is None:
        return []
    lines: list[tuple[str, str]] = []
    waits = path.waits.get(node.key)
    if waits:
        lines.append((f"waited {_seconds_list(waits)}", COLOURS["visited_stroke"]))
    errors = path.errors.get(node.key)
    if errors:
        counted = Counter(errors)
        shown = ", ".join(f"{name} {TIMES}{n}" if n > 1 else name for name, n in counted.items())
        lines.append((f"✗ {shown}, retried", COLOURS["error"]))
    y = node.y + NODE_HEIGHT + 13
    return [
        _text(node.x, y + 13 * i, text, replace(LABEL, fill=colour))
        for i, (text, colour) in enumerate(lines)
    ]


def _seconds_list(waits: Sequence[int]) -> str:
    shown = ", ".join(str(w) for w in waits[:8])
    more = f" … ({len(waits)} waits, {sum(waits)} s)" if len(waits) > 8 else ""
    return f"{shown} s{more}"


def _badge(x: float, y: float, text: str) -> str:
    width = len(text) * 7 + 10
    return (
        f'<rect x="{x - width:.1f}" y="{y:.1f}" width="{width}" height="15" rx="7.5" '
        f'fill="{COLOURS["visited_stroke"]}"/>' + _text(x - width / 2, y + 11, text, BADGE)
    )


@dataclass(frozen=True)
class _Font:
    size: float
    fill: str
    anchor: str = "start"
    weight: str = "400"
    halo: bool = False  # a white outline, so a label stays legible over a line


TITLE = _Font(14, "#111827", weight="600")
LABEL = _Font(10.5, COLOURS["label"], anchor="middle", halo=True)
NAME = _Font(12, COLOURS["idle_text"], anchor="middle")
BADGE = _Font(10, "#ffffff", anchor="middle")


def _text(x: float, y: float, text: str, font: _Font) -> str:
    outline = ' stroke="#ffffff" stroke-width="3.5" paint-order="stroke"' if font.halo else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{font.size}" fill="{font.fill}" '
        f'text-anchor="{font.anchor}" font-weight="{font.weight}"{outline}>{escape(text)}</text>'
    )
