"""Recent executions as the operator tools list them (``ocr-results list``, the console's list):
from ListExecutions, with each task's recorded outcome read by key, never a scan of the table.

Polls come from the outcome an execution recorded; an execution that recorded none (one still
running, one that failed before recording, a re-fetch whose outcome did not win) has its history
read instead, for at most :data:`HISTORIES` rows of a listing. Twenty keeps a listing's
GetExecutionHistory calls a small share of Step Functions' burst (250 in most Regions, then 5 a
second), so a listing never throttles the stack, and covers the running executions a page of 50
shows in practice (the CLI read ten and the console twenty: twenty it is, for both).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.stack.executions import task_id_of
from infra.stack.history import RUNNING
from infra.stack.results import recorded_outcome
from infra.stack.session import StackSession
from infra.stack.times import iso, seconds_between
from infra.stack.values import integer, json_object, text

#: At most this many rows of one listing have their polls read from their history.
HISTORIES = 20
#: Summaries whose tasks' items are read in one BatchGetItem.
_PAGE = 100


@dataclass(frozen=True)
class Row:
    """One execution, with its task's recorded outcome (written by it or another of the task's
    executions) and its polls."""

    summary: dict[str, Any]  # ListExecutions' summary, or DescribeExecution's when described
    task_id: str
    correlation_id: str | None
    item: dict[str, Any] | None
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
        """The task's recorded outcome, whichever of its executions recorded it."""
        return str(self.item["status"]) if self.item else None

    @property
    def record(self) -> dict[str, Any] | None:
        """The task's record when this execution wrote it."""
        own = self.item is not None and self.item.get("executionArn") == self.arn
        return self.item if own else None

    @property
    def arn(self) -> str:
        return str(self.summary["executionArn"])

    @property
    def problem(self) -> str | None:
        """What went wrong, in one line: the execution's error (known once it is described),
        else the error its record names."""
        error = self.summary.get("error") or (self.record or {}).get("errorName")
        return str(error) if error else None

    def to_json(self) -> dict[str, Any]:
        return {
            "taskId": self.task_id,
            "execution": self.name,
            "executionArn": self.arn,
            "status": self.status,
            "outcome": self.outcome,
            "startedAt": iso(self.started),
            "stoppedAt": iso(self.summary.get("stopDate")),
            "seconds": self.seconds,
            "polls": self.polls,
            "correlationId": self.correlation_id,
        }


@dataclass(frozen=True)
class Query:
    """Which executions to list, of those given: a recorded outcome, a correlation id, how many;
    and whether each is described (its input and error: the console shows them)."""

    #: A recorded outcome (``Completed``...): only the executions of tasks that recorded it.
    outcome: str | None = None
    correlation_id: str | None = None
    limit: int = 50
    describe: bool = False

    def matches(self, row: Row) -> bool:
        return self.correlation_id in (None, row.correlation_id) and self.outcome in (
            None,
            row.outcome,
        )


def started_after(since: timedelta | None) -> datetime | None:
    """The start a listing of the last ``since`` goes back to."""
    return datetime.now(UTC) - since if since else None


def rows(session: StackSession, summaries: Iterable[dict[str, Any]], query: Query) -> list[Row]:
    """The executions of ``summaries`` (newest first) that match ``query``, at most its limit."""
    found: list[Row] = []
    histories = itertools.count()
    for page in _batched(summaries, _PAGE):
        described = [_described(session, s) if query.describe else s for s in page]
        items = session.items([_task_id(s) for s in described])
        for summary in described:
            row = _row(summary, items.get(_task_id(summary)))
            if query.correlation_id is not None and row.correlation_id is None:
                row = _row(_described(session, summary), row.item)
            if not query.matches(row):
                continue
            if row.polls is None and next(histories) < HISTORIES:
                row = replace(row, polls=session.execution(row.arn).polls_made)
            found.append(row)
            if len(found) >= query.limit:
                return found
    return found


def _row(summary: dict[str, Any], item: dict[str, Any] | None) -> Row:
    item = recorded_outcome(item)
    execution_input = json_object(summary.get("input"))
    # The item is the task's; its polls are this execution's only if this execution recorded it.
    own = item is not None and item.get("executionArn") == summary["executionArn"]
    return Row(
        summary,
        _task_id(summary),
        text((item or {}).get("correlationId")) or text(execution_input.get("correlationId")),
        item,
        integer(item.get("polls")) if own and item is not None else None,
    )


def _task_id(summary: dict[str, Any]) -> str:
    """The task id the input names (once described), else the one the name carries."""
    return text(json_object(summary.get("input")).get("taskId")) or task_id_of(summary["name"])


def _described(session: StackSession, summary: dict[str, Any]) -> dict[str, Any]:
    """The execution described (its input and error are not in a listing), else the summary."""
    return session.describe_execution(str(summary["name"])) or summary


def _batched(values: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(values)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
