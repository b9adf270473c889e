"""What the CLI shows about tasks, read through :class:`~infra.stack.session.StackSession`.

Each view is plain data with a ``to_json()`` (the stable ``--json`` shape, documented in the
README): a task's status, everything about one task, the dead letters, the fleet's breaker (recent
executions are :mod:`infra.ops.listing`'s, shared with the console). A view never holds recognised
text, except the regions' text of a :class:`TaskReport` read with ``show_text=True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.stack.dead_letters import DeadLetter
from infra.stack.fleet import BreakerState
from infra.stack.history import Execution, Step
from infra.stack.results import COMPLETED, StoredObject, recorded_outcome
from infra.stack.session import StackSession
from infra.stack.times import iso, seconds_between
from ocr_fetch.fleet import BREAKER_RUN

#: Content types whose bytes are text a person can read (``--show-text``).
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml")


# --- one execution -----------------------------------------------------------------------------
def step_json(step: Step, started: datetime | None) -> dict[str, Any]:
    return {
        "state": step.name,
        "type": step.kind,
        "enteredAt": iso(step.entered),
        "offsetSeconds": seconds_between(started, step.entered),
        "waitSeconds": step.wait_seconds,
        "poll": step.poll,
        "errors": list(step.errors),
    }


def execution_json(execution: Execution) -> dict[str, Any]:
    """An execution with each state it entered, its waits, its polls and its outcome event."""
    return {
        "name": execution.name,
        "arn": execution.arn,
        "status": execution.status,
        "startedAt": iso(execution.started),
        "stoppedAt": iso(execution.stopped),
        "seconds": seconds_between(execution.started, execution.stopped),
        "error": execution.error,
        "cause": execution.cause,
        "polls": execution.polls_made,
        "waits": execution.waits(),
        "steps": [step_json(step, execution.started) for step in execution.steps],
        "outcomeEvent": execution.outcome_event,
    }


@dataclass(frozen=True)
class Progress:
    """Where a running execution stands: its state, the last poll's answer, the next poll."""

    state: str | None
    polls: int
    last_poll: dict[str, Any] | None
    next_poll_in: int | None
    next_poll_at: datetime | None

    @classmethod
    def of(cls, execution: Execution) -> Progress:
        polls = execution.polls()
        last = execution.steps[-1] if execution.steps else None
        waiting = last is not None and last.wait_seconds is not None and execution.running
        next_at = None
        if waiting and last is not None and last.entered is not None:
            next_at = last.entered + timedelta(seconds=last.wait_seconds or 0)
        return cls(
            state=last.name if last else None,
            polls=execution.polls_made,
            last_poll=polls[-1] if polls else None,
            next_poll_in=last.wait_seconds if waiting and last else None,
            next_poll_at=next_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "polls": self.polls,
            "lastPoll": self.last_poll,
            "nextPollInSeconds": self.next_poll_in,
            "nextPollAt": iso(self.next_poll_at),
        }


# --- status ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskStatus:
    """The recorded outcome, or while there is none, where the task's execution stands."""

    task_id: str
    item: dict[str, Any] | None
    execution: Execution | None  # read only while no outcome is recorded

    @property
    def outcome(self) -> str | None:
        return str(self.item["status"]) if self.item else None

    @property
    def ended(self) -> bool:
        return self.item is not None or (self.execution is not None and not self.execution.running)

    @property
    def completed(self) -> bool:
        return self.outcome == COMPLETED

    def to_json(self) -> dict[str, Any]:
        item = self.item or {}
        execution = self.execution
        return {
            "taskId": self.task_id,
            "ended": self.ended,
            "outcome": outcome_json(item) if item else None,
            "execution": None
            if execution is None
            else {
                "name": execution.name,
                "arn": execution.arn,
                "status": execution.status,
                "startedAt": iso(execution.started),
                "stoppedAt": iso(execution.stopped),
                "error": execution.error,
                "cause": execution.cause,
                "progress": Progress.of(execution).to_json(),
            },
        }


def outcome_json(item: dict[str, Any]) -> dict[str, Any]:
    """The outcome and counts a table item records (never text: the item holds none)."""
    keys = (
        "status",
        "taskStatus",
        "responseStatusCode",
        "polls",
        "regionCount",
        "decodedCount",
        "errorCount",
        "countMismatch",
        "errorName",
        "errorMessage",
        "warnings",
        "correlationId",
        "createdAt",
        "recordedAt",
        "executionArn",
        "manifestKey",
        "rawKey",
    )
    return {key: item.get(key) for key in keys}


def task_status(session: StackSession, task_id: str) -> TaskStatus | None:
    """The task's status; None when the stack knows nothing of it."""
    item = recorded_outcome(session.item(task_id))
    if item is not None:
        return TaskStatus(task_id, item, None)
    described = session.describe_execution(task_id)
    if described is None:
        return None
    return TaskStatus(task_id, None, session.execution(str(described["executionArn"])))


# --- inspect -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Region:
    """One region as the manifest (or the item) lists it; its text only when asked for."""

    index: int
    name: str | None
    type: str | None
    content_type: str | None
    s3_key: str | None
    size: int | None
    error: str | None
    text: str | None = None

    @classmethod
    def of(cls, entry: dict[str, Any]) -> Region:
        return cls(
            index=int(entry.get("index", 0)),
            name=entry.get("name"),
            type=entry.get("type"),
            content_type=entry.get("contentType"),
            s3_key=entry.get("s3Key"),
            size=entry.get("bytes"),
            error=entry.get("error"),
        )

    @property
    def readable(self) -> bool:
        return bool(self.content_type and self.content_type.startswith(_TEXT_TYPES))

    def to_json(self, *, show_text: bool = False) -> dict[str, Any]:
        found = {
            "index": self.index,
            "name": self.name,
            "type": self.type,
            "contentType": self.content_type,
            "s3Key": self.s3_key,
            "bytes": self.size,
            "error": self.error,
        }
        if show_text:
            found["text"] = self.text
        return found


@dataclass(frozen=True)
class TaskReport:
    """Everything about one task: its item, stored objects, regions and executions."""

    task_id: str
    item: dict[str, Any] | None
    objects: tuple[StoredObject, ...]
    regions: tuple[Region, ...]
    executions: tuple[Execution, ...]  # newest first
    bucket: str
    show_text: bool = False

    @property
    def known(self) -> bool:
        return bool(self.item or self.objects or self.executions)

    @property
    def latest(self) -> Execution | None:
        return self.executions[0] if self.executions else None

    def to_json(self) -> dict[str, Any]:
        return {
            "taskId": self.task_id,
            "outcome": outcome_json(outcome) if (outcome := recorded_outcome(self.item)) else None,
            "item": self.item,
            "bucket": self.bucket,
            "objects": [
                {
                    "key": o.key,
                    "name": o.name,
                    "bytes": o.size,
                    "contentType": o.content_type,
                    "lastModified": iso(o.last_modified),
                }
                for o in self.objects
            ],
            "regions": [r.to_json(show_text=self.show_text) for r in self.regions],
            "executions": [execution_json(e) for e in self.executions],
        }


def inspect_task(session: StackSession, task_id: str, *, show_text: bool = False) -> TaskReport:
    """Read everything about ``task_id`` (``known`` is False when there is nothing)."""
    item = session.item(task_id)
    summaries = session.executions(task_id)
    executions = tuple(session.execution(str(s["executionArn"])) for s in summaries)
    regions = tuple(Region.of(entry) for entry in _region_entries(session, item))
    if show_text:
        regions = tuple(_with_text(session, region) for region in regions)
    return TaskReport(
        task_id=task_id,
        item=item,
        objects=tuple(session.stored_objects(task_id)),
        regions=regions,
        executions=executions,
        bucket=session.outputs.results_bucket,
        show_text=show_text,
    )


def _region_entries(session: StackSession, item: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The manifest's regions (all of them), else the item's (which may be cut short)."""
    if item and item.get("manifestKey"):
        manifest = session.manifest_at(str(item["manifestKey"]))
        if manifest is not None:
            return list(manifest.get("regions", []))
    return list((item or {}).get("regions", []))


def _with_text(session: StackSession, region: Region) -> Region:
    if not region.readable or not region.s3_key or region.error:
        return region
    body, _ = session.read_object(region.s3_key)
    return Region(
        region.index,
        region.name,
        region.type,
        region.content_type,
        region.s3_key,
        region.size,
        region.error,
        body.decode("utf-8", errors="replace"),
    )


# --- dead letters ------------------------------------------------------------------------------
def dead_letter_json(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter: why it is there, and whether sending it again could succeed."""
    return {
        "messageId": letter.message_id,
        "taskId": letter.task_id,
        "reason": letter.why,
        "redrivable": letter.problem is None,
        "problem": letter.problem,
        "receiveCount": letter.receive_count,
        "sentAt": iso(letter.sent),
        "body": letter.body,
    }


def dead_letters_json(letters: Sequence[DeadLetter]) -> list[dict[str, Any]]:
    return [dead_letter_json(letter) for letter in letters]


# --- the fleet's breaker -----------------------------------------------------------------------
def breaker_json(state: BreakerState) -> dict[str, Any]:
    """The breaker as ``breaker status`` shows it (times ISO 8601, UTC)."""
    view = state.view
    return {
        "breaker": view.breaker,
        "openedBy": view.opened_by if view.open else None,
        "openedAt": _epoch_iso(view.opened_at) if view.open else None,
        "nextProbeAt": _epoch_iso(state.next_probe_at),
        "nonAnswersInARow": view.failures,
        "opensAfter": BREAKER_RUN,
        "rateFactor": None if state.rate_factor is None else round(state.rate_factor, 3),
        "callsPerSecond": state.calls_per_second,
    }


def _epoch_iso(seconds: float | None) -> str | None:
    return None if seconds is None else iso(datetime.fromtimestamp(seconds, UTC))
