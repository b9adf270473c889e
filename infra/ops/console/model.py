"""What the console shows, read through :class:`StackSession`: recent executions, one execution.

Read-only: ListExecutions, DescribeExecution, GetExecutionHistory, DescribeStateMachine, the
table by key (never a scan) and the S3 listing of one task's prefix with each object's head. An
object's body is never read, so no recognised text can reach a page.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infra.stack.history import RUNNING, Execution
from infra.stack.results import StoredObject
from infra.stack.session import StackSession
from infra.stack.times import seconds_between

#: Step Functions' execution statuses, in the order the console lists their counts.
STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: On one page, at most this many executions whose task has no record of them (running ones,
#: say) have their polls counted from their history.
_HISTORIES_PER_PAGE = 20


class BadQuery(ValueError):
    """A query string the console cannot answer; the message says which parameter and why."""


@dataclass(frozen=True)
class Search:
    """Which executions to list: a task id or part of one, a status, how many."""

    text: str = ""
    status: str | None = None
    limit: int = DEFAULT_LIMIT

    @classmethod
    def parse(cls, query: dict[str, list[str]]) -> Search:
        """From a parsed query string (``?q=<task id or part>&status=FAILED&limit=50``)."""
        text = _single(query, "q").strip().lower()
        status = _single(query, "status").strip().upper() or None
        if status is not None and status not in STATUSES:
            raise BadQuery(f"status must be one of {', '.join(STATUSES)}")
        limit_text = _single(query, "limit").strip() or str(DEFAULT_LIMIT)
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
            raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}")
        if len(text) > 200:
            raise BadQuery("q is longer than any task id")
        return cls(text, status, int(limit_text))

    def matches(self, summary: dict[str, Any]) -> bool:
        return (self.status in (None, summary["status"])) and self.text in str(
            summary["name"]
        ).lower()


def _single(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name, [])
    if len(values) > 1:
        raise BadQuery(f"{name} is given {len(values)} times")
    return values[0] if values else ""


@dataclass(frozen=True)
class Row:
    """One execution in the list, with its task's record when this execution wrote it."""

    summary: dict[str, Any]
    task_id: str | None
    correlation_id: str | None
    record: dict[str, Any] | None
    polls: int | None

    @property
    def name(self) -> str:
        return str(self.summary["name"])

    @property
    def status(self) -> str:
        return str(self.summary["status"])

    @property
    def started(self) -> datetime | None:
        started: datetime | None = self.summary.get("startDate")
        return started

    @property
    def seconds(self) -> float | None:
        """Time to result: the execution's start to its end (to now while it runs)."""
        end = self.summary.get("stopDate") or (
            datetime.now(UTC) if self.status == RUNNING else None
        )
        return seconds_between(self.started, end)

    @property
    def outcome(self) -> str | None:
        return str(self.record["status"]) if self.record else None

    @property
    def problem(self) -> str | None:
        """What went wrong, in one line: the execution's error, else the task's recorded one."""
        error = self.summary.get("error")
        if error:
            return str(error)
        if self.record and self.record.get("errorName"):
            return str(self.record["errorName"])
        return None


@dataclass(frozen=True)
class Listing:
    rows: list[Row]
    counts: Counter[str]  # every execution of the state machine, by status
    matched: int  # executions matching the search, of which ``rows`` are the newest


def recent(session: StackSession, search: Search) -> Listing:
    """The newest executions matching ``search``, and how many there are of each status."""
    summaries = list(session.list_executions())
    counts = Counter(str(s["status"]) for s in summaries)
    matching = [s for s in summaries if search.matches(s)]
    return Listing(_rows(session, matching[: search.limit]), counts, len(matching))


def _rows(session: StackSession, summaries: Sequence[dict[str, Any]]) -> list[Row]:
    """Each execution described (its input names the task; its error is not in a listing), with
    its task's record, read by key for all of them at once."""
    described = [session.describe_execution(str(s["name"])) or s for s in summaries]
    inputs = [_input(d) for d in described]
    task_ids = [str(i["taskId"]) for i in inputs if isinstance(i.get("taskId"), str)]
    records = session.items(task_ids) if task_ids else {}
    rows = []
    histories = 0
    for summary, execution_input in zip(described, inputs, strict=True):
        task_id = _text(execution_input.get("taskId"))
        record = records.get(task_id) if task_id else None
        if record is not None and record.get("executionArn") != summary["executionArn"]:
            record = None  # the task's outcome was recorded by another of its executions
        polls = _int(record.get("polls")) if record else None
        if polls is None and histories < _HISTORIES_PER_PAGE:
            histories += 1
            polls = session.execution(str(summary["executionArn"])).polls_made
        correlation = _text(execution_input.get("correlationId"))
        rows.append(Row(summary, task_id, correlation, record, polls))
    return rows


def _input(described: dict[str, Any]) -> dict[str, Any]:
    """The execution's input (the submission the starter accepted), from DescribeExecution."""
    try:
        found = json.loads(str(described.get("input") or "{}"))
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Detail:
    """One execution and everything around it: its task's record, stored objects, the task's
    other executions, and the definition it ran."""

    execution: Execution
    task_id: str | None
    record: dict[str, Any] | None
    objects: list[StoredObject]
    siblings: list[dict[str, Any]]  # the task's other executions, newest first
    definition: dict[str, Any]

    @property
    def own_record(self) -> bool:
        """Whether the record was written by this execution (else by another of the task's)."""
        return self.record is not None and self.record.get("executionArn") == self.execution.arn


def detail(session: StackSession, name: str) -> Detail | None:
    """The execution named ``name``, or None when the state machine has none of that name."""
    described = session.describe_execution(name)
    if described is None:
        return None
    execution = session.execution(str(described["executionArn"]))
    task_id = execution.input.get("taskId")
    task_id = task_id if isinstance(task_id, str) else None
    return Detail(
        execution=execution,
        task_id=task_id,
        record=session.item(task_id) if task_id else None,
        objects=session.stored_objects(task_id) if task_id else [],
        siblings=[e for e in session.executions(task_id) if e["name"] != name] if task_id else [],
        definition=session.definition(),
    )
