"""Two interpreters' runs of the state machine, read as one shape and compared state by state.

moto's ``GetExecutionHistory`` and ``aws-local-stepfunctions``' event log say the same things in
different words. Each is read here as a :class:`Path`: the states entered, in order, each with the
errors of its failed attempts and the output it left with, and how the execution ended. Values that
differ between any two runs whatever the interpreter (ids, times, ETags) are replaced by named
placeholders first (:class:`Normaliser`, each replacement listed there), so that what is left to
differ is what the interpreters did.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Poll fields that are clock readings or durations measured by the check function: they differ
#: between any two runs (``lastPollAt``, ``pollAt``, ``runningAt`` are seconds after submission,
#: ``slotAt`` an epoch time, ``runningSeconds``/``elapsedSeconds`` measured).
POLL_TIMES = frozenset(
    {"lastPollAt", "pollAt", "runningAt", "slotAt", "runningSeconds", "elapsedSeconds"}
)
#: Input fields that are times: when the task was submitted and when the product saw it.
INPUT_TIMES = frozenset({"submittedAt", "receivedAt"})
#: A duration in a message ("after 3 polls and 38 s since submission"): measured, so it differs.
_SECONDS = re.compile(r"\b\d+(\.\d+)? s\b")
_FAULT = re.compile(r"\(fault [0-9a-f]{12}\)")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Step:
    """One state entered: its name, the error of each failed attempt inside it (a Task's
    retried or caught failures, in order), and its output (None: it never exited, as a Fail
    state or a state the execution failed in)."""

    name: str
    errors: tuple[str, ...] = ()
    output: Any = None
    exited: bool = False


@dataclass(frozen=True)
class Path:
    """What one execution did, as both interpreters can say it."""

    steps: tuple[Step, ...]
    status: str
    error: str | None = None
    cause: Any = None

    def names(self) -> list[str]:
        return [step.name for step in self.steps]


@dataclass
class _Builder:
    """Steps as the events arrive: a new one per state entered, errors and output added to the
    last one."""

    steps: list[Step] = field(default_factory=list)

    def enter(self, name: str) -> None:
        self.steps.append(Step(name))

    def fail(self, error: str) -> None:
        last = self.steps[-1]
        self.steps[-1] = Step(last.name, (*last.errors, error), last.output, last.exited)

    def exit(self, output: Any) -> None:
        last = self.steps[-1]
        self.steps[-1] = Step(last.name, last.errors, output, True)


def moto_path(history: Sequence[Mapping[str, Any]], status: str) -> Path:
    """moto's history (GetExecutionHistory's events, oldest first) as a :class:`Path`."""
    built = _Builder()
    error: str | None = None
    cause: Any = None
    for event in history:
        kind = str(event["type"])
        if kind.endswith("StateEntered"):
            built.enter(str(event["stateEnteredEventDetails"]["name"]))
        elif kind.endswith("StateExited"):
            built.exit(_parsed(event["stateExitedEventDetails"].get("output")))
        elif kind in ("TaskFailed", "LambdaFunctionFailed"):
            details = next(v for k, v in event.items() if k.endswith("EventDetails"))
            built.fail(str(details.get("error")))
        elif kind == "ExecutionFailed":
            details = event.get("executionFailedEventDetails") or {}
            error, cause = details.get("error"), details.get("cause")
    return Path(tuple(built.steps), status, error, cause)


def library_path(events: Sequence[Mapping[str, Any]], status: str) -> Path:
    """aws-local-stepfunctions' event log as a :class:`Path`. A ``StateFailed`` counts as a
    failed attempt of a Task only: the library also logs one when a Fail state (or any state)
    ends the execution, which Step Functions' history records as the execution's failure."""
    built = _Builder()
    error: str | None = None
    cause: Any = None
    for event in events:
        kind = event["type"]
        state = event.get("state") or {}
        if kind == "StateEntered":
            built.enter(str(state["name"]))
        elif kind == "StateExited":
            built.exit(state.get("output"))
        elif kind == "StateFailed" and state.get("type") == "Task":
            built.fail(str(event.get("Error")))
        elif kind == "ExecutionFailed":
            error, cause = event.get("Error"), event.get("Cause")
    return Path(tuple(built.steps), status, error, cause)


def moto_waits(history: Sequence[Mapping[str, Any]]) -> Iterator[tuple[float, Any]]:
    """Each Wait state in moto's history: how long it lasted, and its input's
    ``poll.waitSeconds`` (the definition's SecondsPath)."""
    entered: tuple[Any, Any] | None = None
    for event in history:
        if event["type"] == "WaitStateEntered":
            poll = _parsed(event["stateEnteredEventDetails"].get("input")).get("poll") or {}
            entered = (event["timestamp"], poll.get("waitSeconds"))
        elif event["type"] == "WaitStateExited" and entered is not None:
            yield (event["timestamp"] - entered[0]).total_seconds(), entered[1]
            entered = None


def library_waits(events: Sequence[Mapping[str, Any]]) -> Iterator[tuple[float, Any]]:
    """The same from the library's event log (times in epoch milliseconds)."""
    entered: tuple[float, Any] | None = None
    for event in events:
        state = event.get("state") or {}
        if state.get("type") != "Wait":
            continue
        if event["type"] == "StateEntered":
            poll = (state.get("input") or {}).get("poll") or {}
            entered = (float(event["timestamp"]), poll.get("waitSeconds"))
        elif event["type"] == "StateExited" and entered is not None:
            yield (float(event["timestamp"]) - entered[0]) / 1000, entered[1]
            entered = None


@dataclass(frozen=True)
class Normaliser:
    """Replaces what differs between any two runs, whatever the interpreter, by placeholders:

    - ``<execution-arn>``, ``<state-machine-arn>``, ``<execution>`` (the execution's name) and
      ``<task>`` (the task id) wherever they appear in a string (S3 keys, ARNs, messages);
    - any other UUID (a request id, an event id) by ``<uuid>``, and a duration in a message
      (``38 s since submission``) by ``<n> s``, or ``<n.n> s`` when written with a fraction
      (its spelling is kept: ``9.0 s`` is not ``9 s``);
    - the times of :data:`INPUT_TIMES` and the poll's :data:`POLL_TIMES`, when set, by
      ``<time>``: a time that is null on one side only still differs;
    - ``rawETag`` (the kept answer's ETag), when set, by ``<etag>``;
    - the id of a local-cloud fault in the message it injected (``(fault 8c9fb132452f)``) by
      ``(fault <id>)``.

    Nothing else: a ``Cause`` is compared as the text it is (its request id replaced as any
    UUID), numbers by their JSON spelling (``9`` is not ``9.0``).
    """

    task_id: str
    execution_name: str
    execution_arn: str
    state_machine_arn: str

    def value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._member(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def path(self, path: Path) -> Path:
        steps = tuple(Step(s.name, s.errors, self.value(s.output), s.exited) for s in path.steps)
        return Path(steps, path.status, path.error, self.value(path.cause))

    def text(self, text: str) -> str:
        for real, placeholder in (
            (self.execution_arn, "<execution-arn>"),
            (self.state_machine_arn, "<state-machine-arn>"),
            (self.execution_name, "<execution>"),
            (self.task_id, "<task>"),
        ):
            text = text.replace(real, placeholder)
        text = _FAULT.sub("(fault <id>)", _UUID.sub("<uuid>", text))
        return _SECONDS.sub(_seconds, text)

    def _member(self, key: str, value: Any) -> Any:
        if value is None:
            return None
        if key in INPUT_TIMES or key in POLL_TIMES:
            return "<time>"
        if key == "rawETag":
            return "<etag>"
        return self.value(value)


@dataclass(frozen=True)
class Difference:
    """One place where the two paths disagree: ``where`` names it (``step 3 'Check Task
    Status' output.poll.status``, ``execution error``...)."""

    scenario: str
    where: str
    moto: Any
    library: Any

    def __str__(self) -> str:
        return f"{self.scenario}: {self.where}: moto {self.moto!r} / library {self.library!r}"


def differences(scenario: str, moto: Path, library: Path) -> list[Difference]:
    """Every disagreement, state by state: the states entered (the first divergence ends the
    comparison: what follows it cannot be paired), each state's failed attempts and output,
    and how the execution ended."""
    found: list[Difference] = []
    for field_name in ("status", "error", "cause"):
        mine, theirs = getattr(moto, field_name), getattr(library, field_name)
        found += [
            Difference(scenario, f"execution {field_name}{where}", a, b)
            for where, a, b in _diff(mine, theirs)
        ]
    for index, (a, b) in enumerate(zip(moto.steps, library.steps, strict=False)):
        label = f"step {index} {a.name!r}"
        if a.name != b.name:
            found.append(Difference(scenario, f"step {index} state entered", a.name, b.name))
            return found
        if a.errors != b.errors:
            found.append(Difference(scenario, f"{label} errors", a.errors, b.errors))
        if a.exited != b.exited:
            found.append(Difference(scenario, f"{label} exited", a.exited, b.exited))
        found += [
            Difference(scenario, f"{label} output{where}", x, y)
            for where, x, y in _diff(a.output, b.output)
        ]
    if len(moto.steps) != len(library.steps):
        found.append(Difference(scenario, "states entered", moto.names(), library.names()))
    return found


def _diff(a: Any, b: Any, where: str = "") -> Iterator[tuple[str, Any, Any]]:
    """The leaves where two JSON values differ, each with its path (``.poll.status``,
    ``[2]``)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                yield f"{where}.{key}", a.get(key, "<absent>"), b.get(key, "<absent>")
            else:
                yield from _diff(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _diff(x, y, f"{where}[{index}]")
    elif a != b or type(a) is not type(b):
        # By JSON spelling: Python reads 9.0 as a float and 9 as an int, True == 1 in Python.
        yield where, a, b


def _seconds(match: re.Match[str]) -> str:
    return "<n.n> s" if match.group(1) else "<n> s"


def _parsed(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
