"""A small Step Functions interpreter, for tests that run the real ASL over the real handlers.

It reads everything from the definition itself: each Task's ``Parameters`` (``.$`` paths
resolved against the state data, ``$$.`` against the context object), ``ResultSelector`` and
``ResultPath``; each Choice's rules and ``Default``; each Wait's seconds; each Task's ``Retry``
(first matching retrier, its ``MaxAttempts``, interval and backoff) and ``Catch`` (the error as
``{"Error", "Cause"}`` at the catcher's ``ResultPath``). What it leaves out, because this
definition does not use it: intrinsic functions, ``InputPath``/``OutputPath`` other than ``$``,
Map and Parallel states, ``Timestamp`` waits, and the jitter of a retry (it waits the full delay).

Time is the caller's: :meth:`Interpreter.step` runs one state at ``now`` and says when the
execution may go on (after a Wait or a retry's delay). A Task's work is the caller's too (a
:class:`TaskRunner`), so the same interpreter runs Lambda handlers in-process or anything else.
A path that is not there fails the execution with ``States.Runtime``, as Step Functions does; it
is not retried or caught.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

_MISSING = object()
#: What a Choice rule may compare with, and how (a value of another type never matches).
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "StringEquals": lambda value, to: isinstance(value, str) and value == to,
    "BooleanEquals": lambda value, to: isinstance(value, bool) and value is to,
    "NumericEquals": lambda value, to: _number(value) and value == to,
    "NumericGreaterThan": lambda value, to: _number(value) and value > to,
    "NumericGreaterThanEquals": lambda value, to: _number(value) and value >= to,
    "NumericLessThan": lambda value, to: _number(value) and value < to,
    "NumericLessThanEquals": lambda value, to: _number(value) and value <= to,
    "IsNull": lambda value, to: (value is None) is to,
    "IsBoolean": lambda value, to: isinstance(value, bool) is to,
    "IsString": lambda value, to: isinstance(value, str) is to,
    "IsNumeric": lambda value, to: _number(value) is to,
}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class PathError(Exception):
    """A JSONPath that selects nothing (Step Functions fails the execution: States.Runtime)."""


class TaskFailed(Exception):
    """A Task's work failed with ``error`` (what Retry and Catch match) and ``cause``."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(error)
        self.error = error
        self.cause = cause


class TaskRunner(Protocol):
    """Does a Task's work: ``resource`` with its resolved ``Parameters``; returns the result
    (for ``lambda:invoke``, the ``{"Payload": ...}`` envelope) or raises :class:`TaskFailed`."""

    def __call__(self, execution: Execution, resource: str, parameters: Any) -> Any: ...


class Status(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class Step(StrEnum):
    """What one :meth:`Interpreter.step` did."""

    MOVED = "moved"  # a Choice, Pass or Wait: no work done
    WORKED = "worked"  # a Task did its work (successfully, caught, or to be retried)
    ENDED = "ended"


@dataclass
class Execution:
    """One execution: its state data, the state it is at, and when it may go on."""

    name: str
    arn: str
    input: Any
    started: datetime
    data: Any = None
    at: str | None = None
    status: Status = Status.RUNNING
    ready_at: datetime | None = None
    #: Attempts made so far by each retrier (by index) of the current state.
    attempts: dict[int, int] = field(default_factory=dict)
    error: str | None = None
    cause: str | None = None
    #: The Task state an uncaught error failed it at (what a redrive starts from).
    failed_at: str | None = None
    redrives: int = 0

    def context(self, state: str, now: datetime) -> dict[str, Any]:
        """The context object (``$$``) as a state sees it."""
        return {
            "Execution": {
                "Id": self.arn,
                "Name": self.name,
                "Input": self.input,
                "StartTime": self.started.isoformat(),
                "RedriveCount": self.redrives,
            },
            "State": {
                "Name": state,
                "EnteredTime": now.isoformat(),
                "RetryCount": sum(self.attempts.values()),
            },
        }


def read_path(data: Any, path: str) -> Any:
    """``$`` or ``$.a.b``: the value there; :class:`PathError` when there is none."""
    if path == "$":
        return data
    if not path.startswith("$."):
        raise PathError(f"unsupported path {path!r}")
    value = data
    for part in path[2:].split("."):
        value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING:
            raise PathError(f"the path {path!r} selects nothing")
    return value


def resolve(template: Any, data: Any, context: dict[str, Any]) -> Any:
    """A ``Parameters`` or ``ResultSelector`` template: each ``"key.$": path`` becomes
    ``"key": <value at path>`` (``$$.`` paths read the context object)."""
    if isinstance(template, dict):
        resolved: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str) or not value.startswith("$"):
                    raise NotImplementedError(f"intrinsic functions are not modelled: {value!r}")
                if value.startswith("$$"):
                    selected = read_path(context, value[1:])
                else:
                    selected = read_path(data, value)
                resolved[key[:-2]] = copy.deepcopy(selected)
            else:
                resolved[key] = resolve(value, data, context)
        return resolved
    if isinstance(template, list):
        return [resolve(value, data, context) for value in template]
    return template


def apply_result_path(state: dict[str, Any], data: Any, result: Any) -> Any:
    """The state data after ``result`` is placed at the state's ``ResultPath`` (``$`` when not
    given, the input unchanged when it is ``null``)."""
    if "ResultPath" in state and state["ResultPath"] is None:
        return data
    path = str(state.get("ResultPath", "$"))
    if path == "$":
        return result
    if not path.startswith("$."):
        raise PathError(f"unsupported ResultPath {path!r}")
    merged = copy.deepcopy(data) if isinstance(data, dict) else {}
    node = merged
    *parents, last = path[2:].split(".")
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = result
    return merged


def choice_matches(rule: dict[str, Any], data: Any) -> bool:
    """Whether a Choice rule (``And``/``Or``/``Not`` or a comparison) holds for ``data``."""
    if "And" in rule:
        return all(choice_matches(inner, data) for inner in rule["And"])
    if "Or" in rule:
        return any(choice_matches(inner, data) for inner in rule["Or"])
    if "Not" in rule:
        return not choice_matches(rule["Not"], data)
    variable = str(rule["Variable"])
    if "IsPresent" in rule:
        try:
            read_path(data, variable)
        except PathError:
            return rule["IsPresent"] is False
        return rule["IsPresent"] is True
    (operator,) = (key for key in rule if key not in ("Variable", "Next"))
    if operator not in _COMPARISONS:
        raise NotImplementedError(f"the Choice operator {operator} is not modelled")
    return _COMPARISONS[operator](read_path(data, variable), rule[operator])


def error_matches(names: list[str], error: str) -> bool:
    """Whether a Retry's or Catch's ``ErrorEquals`` takes ``error``."""
    if error == "States.Runtime":
        return False  # never retried nor caught
    wildcard = "States.ALL" in names or ("States.TaskFailed" in names and error != "States.Timeout")
    return wildcard or error in names


class Interpreter:
    """Runs executions of one definition, a state at a time (see the module)."""

    def __init__(
        self,
        definition: dict[str, Any],
        run_task: TaskRunner,
        observe: Callable[[Execution, str], None] = lambda execution, state: None,
    ) -> None:
        self.definition = definition
        self.states: dict[str, dict[str, Any]] = definition["States"]
        self._run_task = run_task
        #: Called with the execution and the state just left, after every transition.
        self._observe = observe

    def start(self, name: str, arn: str, execution_input: Any, now: datetime) -> Execution:
        execution = Execution(name, arn, execution_input, now, copy.deepcopy(execution_input))
        execution.at = str(self.definition["StartAt"])
        execution.ready_at = now
        self._observe(execution, "(start)")
        return execution

    def step(self, execution: Execution, now: datetime) -> Step:
        """Run the state the execution is at (it must be running and ready)."""
        name = execution.at
        if execution.status is not Status.RUNNING or name is None:
            raise ValueError(f"execution {execution.name} is not running")
        state = self.states[name]
        try:
            outcome = self._run(execution, name, state, now)
        except PathError as exc:
            self._fail(execution, "States.Runtime", f"{name}: {exc}", at=None)
            outcome = Step.ENDED
        self._observe(execution, name)
        return outcome

    def redrive(self, execution: Execution, now: datetime) -> None:
        """Go on from the Task state an uncaught error failed it at, retries counted afresh."""
        if execution.status is not Status.FAILED or execution.failed_at is None:
            raise ValueError(f"execution {execution.name} cannot be redriven")
        execution.status, execution.at = Status.RUNNING, execution.failed_at
        execution.error = execution.cause = execution.failed_at = None
        execution.attempts, execution.ready_at = {}, now
        execution.redrives += 1

    # --- one state ----------------------------------------------------------------------------
    def _run(self, execution: Execution, name: str, state: dict[str, Any], now: datetime) -> Step:
        kinds = {
            "Task": self._task,
            "Choice": self._choice,
            "Wait": self._wait,
            "Pass": self._pass,
            "Succeed": self._succeed,
            "Fail": self._fail_state,
        }
        if state["Type"] not in kinds:
            raise NotImplementedError(f"{state['Type']} states are not modelled")
        return kinds[state["Type"]](execution, name, state, now)

    def _choice(self, execution: Execution, name: str, state: dict[str, Any], _: datetime) -> Step:
        rules = state.get("Choices", [])
        chosen = next((r["Next"] for r in rules if choice_matches(r, execution.data)), None)
        if chosen is None and "Default" not in state:
            self._fail(execution, "States.NoChoiceMatched", name, at=None)
            return Step.ENDED
        execution.at = str(chosen or state["Default"])
        return Step.MOVED

    def _wait(self, execution: Execution, name: str, state: dict[str, Any], now: datetime) -> Step:
        seconds = state.get("Seconds")
        if seconds is None:
            seconds = read_path(execution.data, str(state["SecondsPath"]))
        if not _number(seconds) or seconds < 0:
            raise PathError(f"{name}: the wait {seconds!r} is not a number of seconds")
        execution.ready_at = now + timedelta(seconds=float(seconds))
        return self._next(execution, state)

    def _pass(self, execution: Execution, name: str, state: dict[str, Any], _: datetime) -> Step:
        result = state.get("Result", execution.data)
        execution.data = apply_result_path(state, execution.data, result)
        return self._next(execution, state)

    def _succeed(self, execution: Execution, name: str, state: dict[str, Any], _: datetime) -> Step:
        execution.status, execution.at = Status.SUCCEEDED, None
        return Step.ENDED

    def _fail_state(
        self, execution: Execution, name: str, state: dict[str, Any], _: datetime
    ) -> Step:
        error = state.get("Error") or read_path(execution.data, str(state.get("ErrorPath")))
        cause = state.get("Cause") or read_path(execution.data, str(state.get("CausePath")))
        if not isinstance(error, str) or not isinstance(cause, str):
            raise PathError(f"{name}: the error and cause must be strings")
        self._fail(execution, error, cause, at=None)
        return Step.ENDED

    def _task(self, execution: Execution, name: str, state: dict[str, Any], now: datetime) -> Step:
        context = execution.context(name, now)
        parameters = resolve(state.get("Parameters", {}), execution.data, context)
        try:
            result = self._run_task(execution, str(state["Resource"]), parameters)
        except TaskFailed as failure:
            self._handle_failure(execution, name, state, failure, now)
        else:
            if "ResultSelector" in state:
                result = resolve(state["ResultSelector"], result, context)
            execution.data = apply_result_path(state, execution.data, result)
            execution.attempts = {}
            self._next(execution, state)
        return Step.WORKED if execution.status is Status.RUNNING else Step.ENDED

    def _handle_failure(
        self,
        execution: Execution,
        name: str,
        state: dict[str, Any],
        failure: TaskFailed,
        now: datetime,
    ) -> None:
        for index, retrier in enumerate(state.get("Retry", [])):
            if not error_matches(retrier["ErrorEquals"], failure.error):
                continue
            made = execution.attempts.get(index, 0)
            if made < int(retrier.get("MaxAttempts", 3)):
                execution.attempts[index] = made + 1
                delay = float(retrier.get("IntervalSeconds", 1))
                delay *= float(retrier.get("BackoffRate", 2.0)) ** made
                delay = min(delay, float(retrier.get("MaxDelaySeconds", delay)))
                execution.ready_at = now + timedelta(seconds=delay)
                return
            break  # only the first matching retrier applies; its attempts are spent
        for catcher in state.get("Catch", []):
            if error_matches(catcher["ErrorEquals"], failure.error):
                caught = {"Error": failure.error, "Cause": failure.cause}
                execution.data = apply_result_path(catcher, execution.data, caught)
                execution.attempts, execution.at = {}, str(catcher["Next"])
                return
        self._fail(execution, failure.error, failure.cause, at=name)

    def _next(self, execution: Execution, state: dict[str, Any]) -> Step:
        if state.get("End"):
            execution.status, execution.at = Status.SUCCEEDED, None
            return Step.ENDED
        execution.at = str(state["Next"])
        return Step.MOVED

    @staticmethod
    def _fail(execution: Execution, error: str, cause: str, *, at: str | None) -> None:
        execution.status, execution.at = Status.FAILED, None
        execution.error, execution.cause, execution.failed_at = error, cause, at
