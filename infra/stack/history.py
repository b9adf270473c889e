"""The path an execution took, read from its history: the states it entered, in order, with the
waits, each poll's answer and the failed attempts; and the outcome event it published.

Pure functions of GetExecutionHistory's events: nothing here calls AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infra.stack.times import iso
from infra.stack.values import integer, json_object, json_value

#: The Choice state that routes each poll's answer: its input holds the poll just made.
POLL_ROUTER = "Route On Task Status"
#: The state entered once the outcome event is on the bus.
AFTER_PUBLISHING = "Is Recognition Completed?"
RUNNING = "RUNNING"
#: Step Functions' execution statuses (ListExecutions filters on them), in the order shown.
STATUSES = (RUNNING, "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")


@dataclass(frozen=True)
class Step:
    """One state an execution entered, in order: a poll, a wait, a task, an end."""

    name: str
    kind: str  # the history's state type: Task, Wait, Choice, Pass, Succeed, Fail
    entered: datetime | None
    wait_seconds: int | None = None  # a Wait state's length
    poll: dict[str, Any] | None = None  # what a poll found (at the router: status, polls, ...)
    errors: tuple[str, ...] = ()  # errors of failed attempts inside this state (retried/caught)


@dataclass(frozen=True)
class Execution:
    """One execution: its status, error and the path it took."""

    arn: str
    name: str
    status: str
    started: datetime | None
    stopped: datetime | None
    error: str | None
    cause: str | None
    steps: tuple[Step, ...]
    history: tuple[dict[str, Any], ...] = field(repr=False)

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    def states_entered(self) -> list[str]:
        return [step.name for step in self.steps]

    def waits(self) -> list[int]:
        return [step.wait_seconds for step in self.steps if step.wait_seconds is not None]

    def polls(self) -> list[dict[str, Any]]:
        return [step.poll for step in self.steps if step.poll is not None]

    @property
    def polls_made(self) -> int:
        """How many polls it has made so far: the last poll's own count (a retried invocation
        enters the state again without polling again), else the polls in the history."""
        polls = self.polls()
        counted = integer(polls[-1].get("polls")) if polls else 0
        return counted if counted is not None else len(polls)

    @property
    def input(self) -> dict[str, Any]:
        """The execution input as the starter sent it: ids, the regions' count and where their
        names are kept, labels, and how polling starts (never the names themselves)."""
        for event in self.history:
            if event["type"] == "ExecutionStarted":
                return json_object(event["executionStartedEventDetails"].get("input"))
        return {}

    @property
    def outcome_event(self) -> dict[str, Any] | None:
        """The outcome event this execution published, as EventBridge delivers it (``id``,
        ``source``, ``detail-type``, ``time``, ``detail``), read back from the history; None
        when it published none (yet)."""
        return published_event(list(self.history))


def execution_path(history: list[dict[str, Any]]) -> tuple[Step, ...]:
    """The states entered, in order, with wait lengths, poll answers and failed attempts."""
    steps: list[Step] = []
    errors: list[str] = []
    for event in history:
        kind = str(event["type"])
        if kind in ("TaskFailed", "LambdaFunctionFailed") and steps:
            details: dict[str, Any] = next(
                (v for k, v in event.items() if k.endswith("EventDetails")), {}
            )
            errors.append(str(details.get("error", "error")))
            steps[-1] = _with_errors(steps[-1], errors)
            continue
        if not kind.endswith("StateEntered"):
            continue
        errors = []
        steps.append(_entered(kind, event))
    return tuple(steps)


def _entered(kind: str, event: dict[str, Any]) -> Step:
    details = event["stateEnteredEventDetails"]
    poll = json_object(details.get("input")).get("poll")
    poll = poll if isinstance(poll, dict) else None
    return Step(
        name=str(details["name"]),
        kind=kind.removesuffix("StateEntered"),
        entered=event.get("timestamp"),
        wait_seconds=integer(poll.get("waitSeconds"))
        if kind == "WaitStateEntered" and poll is not None
        else None,
        poll=poll if details["name"] == POLL_ROUTER else None,
    )


def published_event(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The event a successful ``events:putEvents`` task of the history put on the bus."""
    entry: dict[str, Any] | None = None
    for event in history:
        details = event.get("taskScheduledEventDetails") or {}
        if details.get("resource") == "putEvents":
            entries = json_object(details.get("parameters")).get("Entries")
            entry = entries[0] if isinstance(entries, list) and entries else None
            continue
        succeeded = event.get("taskSucceededEventDetails") or {}
        if entry is not None and succeeded.get("resource") == "putEvents":
            answer = json_object(succeeded.get("output"))
            ids = [e.get("EventId") for e in answer.get("Entries", [])]
            detail = entry.get("Detail")
            return {
                "id": ids[0] if ids else None,
                "source": entry.get("Source"),
                "detail-type": entry.get("DetailType"),
                "time": iso(event.get("timestamp")),
                "detail": json_value(detail) if isinstance(detail, str) else detail,
            }
    return None


def _with_errors(step: Step, errors: list[str]) -> Step:
    return Step(step.name, step.kind, step.entered, step.wait_seconds, step.poll, tuple(errors))
