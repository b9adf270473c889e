"""Which keys the state data has at each state of a JSONPath state machine, on every path to it.

A path to a key the state never has fails at run time (``States.Runtime``), on AWS as on any
emulator, but only on the path that reaches it, which tests may never take. Here the state's
shape is carried through the definition: the execution input, then what each state's
``InputPath``, ``Parameters``, ``ResultSelector``, ``ResultPath`` and ``OutputPath`` make of it,
met (keys present on every path) where paths join, until nothing changes. Every JSONPath a state
reads is then looked up in the shape it receives.

A shape is a ``dict`` of known keys, :data:`ANY` (JSON nothing is known about: every path into
it is accepted) or :data:`LEAF` (a value with no keys: a string, number, list or null).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


class _Opaque:
    """A shape with no keys to follow: :data:`ANY` or :data:`LEAF`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


ANY: Any = _Opaque("ANY")
LEAF: Any = _Opaque("LEAF")
Shape = Any  # dict[str, Shape] | ANY | LEAF

#: The context object (``$$``), as Step Functions documents it.
CONTEXT: Shape = {
    "Execution": {
        "Id": LEAF,
        "Input": ANY,
        "Name": LEAF,
        "RoleArn": LEAF,
        "StartTime": LEAF,
        "RedriveCount": LEAF,
        "RedriveTime": LEAF,
    },
    "State": {"EnteredTime": LEAF, "Name": LEAF, "RetryCount": LEAF},
    "StateMachine": {"Id": LEAF, "Name": LEAF},
    "Task": {"Token": LEAF},
    "Map": {"Item": {"Index": LEAF, "Value": ANY}},
}
ERROR_OUTPUT: Shape = {"Error": LEAF, "Cause": LEAF}


def shape_of(value: Any) -> Shape:
    """The shape of a JSON value."""
    if isinstance(value, dict):
        return {key: shape_of(item) for key, item in value.items()}
    return LEAF


def meet(left: Shape, right: Shape) -> Shape:
    """What both shapes surely have (paths join here)."""
    if left is ANY:
        return right
    if right is ANY:
        return left
    if isinstance(left, dict) and isinstance(right, dict):
        return {key: meet(left[key], right[key]) for key in left.keys() & right.keys()}
    return LEAF


# -- JSONPath -------------------------------------------------------------------------------------
_SEGMENT = re.compile(r"\.([^.\[]+)|\['([^']*)'\]|\[(\d+|\*)\]")


def segments(path: str) -> list[str | int] | None:
    """``$.a['b'][0]`` as ``['a', 'b', 0]``; None for what is not a plain path (deep scans,
    filters, slices), which is not checked."""
    rest = path[1:] if path.startswith("$") else None
    if rest is None or ".." in rest:
        return None
    parts: list[str | int] = []
    while rest:
        match = _SEGMENT.match(rest)
        if match is None:
            return None
        name, quoted, index = match.groups()
        parts.append(name if name is not None else quoted if quoted is not None else _index(index))
        rest = rest[match.end() :]
    return parts


def _index(text: str) -> int:
    return -1 if text == "*" else int(text)


def lookup(shape: Shape, path: str) -> tuple[Shape, str | None]:
    """The shape at ``path`` and None, or ANY and why the path finds nothing."""
    parts = segments(path)
    if parts is None:
        return ANY, None
    here = "$"
    for part in parts:
        if shape is ANY:
            return ANY, None
        if isinstance(part, int):
            if shape is LEAF:  # a list, or null
                shape, here = ANY, f"{here}[{part}]"
                continue
            return ANY, f"{here} is an object, not a list"
        if not isinstance(shape, dict) or part not in shape:
            return ANY, f"no key '{part}' at {here}"
        shape, here = shape[part], f"{here}.{part}"
    return shape, None


def assign(shape: Shape, path: str | None, value: Shape) -> Shape:
    """``shape`` with ``value`` put at ``path`` (a ResultPath); ``None`` discards it."""
    if path is None:
        return shape
    parts = segments(path)
    if not parts:
        return value
    if any(isinstance(part, int) for part in parts):
        return ANY
    head, tail = str(parts[0]), "$" + "".join(f"['{p}']" for p in parts[1:])
    base = dict(shape) if isinstance(shape, dict) else {}
    base[head] = assign(base.get(head, {}), tail, value) if len(parts) > 1 else value
    return base


_QUOTED = re.compile(r"'(?:\\.|[^'])*'")
_ARGUMENT_PATH = re.compile(r"\$\$?(?:\.[^\s,()]+|\[[^\]]*\])*")


def read_paths(value: str) -> list[str]:
    """The paths a ``.$`` value reads: itself, or an intrinsic function's path arguments."""
    if value.startswith("$"):
        return [value]
    if value.startswith("States."):
        return _ARGUMENT_PATH.findall(_QUOTED.sub("''", value))
    return []


def check_path(path: str, state: Shape) -> str | None:
    """Why ``path`` finds nothing in the state (or the context object), or None."""
    if path.startswith("$$"):
        return lookup(CONTEXT, path[1:])[1]
    return lookup(state, path)[1]


# -- templates: Parameters, ResultSelector --------------------------------------------------------
@dataclass(frozen=True)
class Read:
    """One JSONPath a state reads, where in the state it is written, and what it reads from."""

    field: str  # e.g. "Parameters.Payload.taskId.$"
    path: str
    against: str = "state"  # "state" or "result" (a ResultSelector reads the task's result)


def template_reads(template: Any, field: str, against: str = "state") -> Iterator[Read]:
    """The paths a payload template (``Parameters``, ``ResultSelector``) reads."""
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$") and isinstance(value, str):
                yield from (Read(f"{field}.{key}", p, against) for p in read_paths(value))
            else:
                yield from template_reads(value, f"{field}.{key}", against)
    elif isinstance(template, list):
        for index, item in enumerate(template):
            yield from template_reads(item, f"{field}[{index}]", against)


def template_shape(template: Any, source: Shape) -> Shape:
    """The shape a payload template produces from ``source``."""
    if not isinstance(template, dict):
        return LEAF
    shaped: dict[str, Shape] = {}
    for key, value in template.items():
        if key.endswith(".$") and isinstance(value, str):
            shaped[key[:-2]] = lookup(source, value)[0] if value.startswith("$") else ANY
        else:
            shaped[key] = template_shape(value, source)
    return shaped


# -- the definition -------------------------------------------------------------------------------
ResultShape = Callable[[str, Mapping[str, Any]], Shape]


@dataclass(frozen=True)
class UnknownPath:
    """A read in ``state`` that finds nothing in the state some path brings there, and why."""

    state: str
    read: Read
    why: str


class Flow:
    """The state's shape at each state of one definition (``States``, ``StartAt``), from the
    execution input's shape; ``result_shape(state_name, state)`` is a Task's raw result."""

    def __init__(self, definition: Mapping[str, Any], result_shape: ResultShape) -> None:
        self.states: Mapping[str, Any] = definition["States"]
        self.start = str(definition["StartAt"])
        self._result_shape = result_shape
        self.arriving: dict[str, Shape] = {}

    def run(self, execution_input: Shape) -> None:
        """Carry the input through every state until the shapes settle."""
        todo = [(self.start, execution_input)]
        while todo:
            name, shape = todo.pop()
            before = self.arriving.get(name)
            after = shape if before is None else meet(before, shape)
            if after != before:
                self.arriving[name] = after
                todo += self.successors(name, after)

    def successors(self, name: str, shape: Shape) -> list[tuple[str, Shape]]:
        """Each next state and the shape it receives from ``name``."""
        state = self.states[name]
        found = [(str(c["Next"]), _catch(shape, c)) for c in state.get("Catch", [])]
        if state.get("Type") == "Choice":
            rules = [*state.get("Choices", []), {"Next": state.get("Default")}]
            passed = self.output(name, shape)
            return found + [(str(r["Next"]), passed) for r in rules if r.get("Next")]
        if "Next" in state:
            found.append((str(state["Next"]), self.output(name, shape)))
        return found

    def output(self, name: str, shape: Shape) -> Shape:
        """The state's output for ``shape`` arriving."""
        state = self.states[name]
        effective = _select(shape, state.get("InputPath", "$"))
        kind = state.get("Type")
        if kind in ("Task", "Pass", "Map", "Parallel"):
            result = self._result(name, state, effective)
            shape = assign(shape, state.get("ResultPath", "$"), result)
        else:
            shape = effective
        return _select(shape, state.get("OutputPath", "$"))

    def _result(self, name: str, state: Mapping[str, Any], effective: Shape) -> Shape:
        kind = state.get("Type")
        if kind == "Pass":
            if "Result" in state:
                return shape_of(state["Result"])
            if "Parameters" in state:
                return template_shape(state["Parameters"], effective)
            return effective
        if kind != "Task":
            return ANY  # Map and Parallel: their branches are not followed
        raw = self._result_shape(name, state)
        return template_shape(state["ResultSelector"], raw) if "ResultSelector" in state else raw

    def unknown_paths(self) -> list[UnknownPath]:
        """Every path read somewhere that the state arriving there does not have."""
        found: list[UnknownPath] = []
        for name, shape in self.arriving.items():
            state = self.states[name]
            effective = _select(shape, state.get("InputPath", "$"))
            raw = self._result_shape(name, state) if state.get("Type") == "Task" else ANY
            for read in state_reads(state):
                why = check_path(read.path, raw if read.against == "result" else effective)
                if why:
                    found.append(UnknownPath(name, read, why))
        return found

    def unreached(self) -> list[str]:
        return [name for name in self.states if name not in self.arriving]


def _select(shape: Shape, path: str | None) -> Shape:
    return {} if path is None else lookup(shape, path)[0]


def _catch(shape: Shape, catcher: Mapping[str, Any]) -> Shape:
    return assign(shape, catcher.get("ResultPath", "$"), ERROR_OUTPUT)


_PATH_FIELDS = ("SecondsPath", "TimestampPath", "ErrorPath", "CausePath", "ItemsPath")


def state_reads(state: Mapping[str, Any]) -> Iterator[Read]:
    """Every JSONPath a state reads from its input (or, for ResultSelector, its result)."""
    for field in ("Parameters", "ItemSelector"):
        yield from template_reads(state.get(field), field)
    yield from template_reads(state.get("ResultSelector"), "ResultSelector", "result")
    for field in _PATH_FIELDS:
        value = state.get(field)
        if isinstance(value, str):
            yield from (Read(field, path) for path in read_paths(value) or [value])
    for index, rule in enumerate(state.get("Choices", [])):
        yield from _rule_reads(rule, f"Choices[{index}]")


def _rule_reads(rule: Mapping[str, Any], field: str) -> Iterator[Read]:
    """A Choice rule's paths; a rule testing ``IsPresent`` may name a key that is absent."""
    for combinator in ("And", "Or"):
        for index, inner in enumerate(rule.get(combinator, [])):
            yield from _rule_reads(inner, f"{field}.{combinator}[{index}]")
    if "Not" in rule:
        yield from _rule_reads(rule["Not"], f"{field}.Not")
    if "Variable" in rule and "IsPresent" not in rule:
        yield Read(f"{field}.Variable", str(rule["Variable"]))
    for key, value in rule.items():
        if key.endswith("Path") and isinstance(value, str):
            yield Read(f"{field}.{key}", value)
