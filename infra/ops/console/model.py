"""What the console shows, read through :class:`StackSession`: recent executions, one execution.

Read-only: ListExecutions, DescribeExecution, GetExecutionHistory, DescribeStateMachine, the
table by key (never a scan) and the S3 listing of one task's prefix with each object's head. An
object's body is never read, so no recognised text can reach a page.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from infra.ops.listing import Query, Row, rows
from infra.stack.history import STATUSES, Execution
from infra.stack.results import StoredObject
from infra.stack.session import StackSession

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


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
class Listing:
    rows: list[Row]  # each described: its input names the task, its error is not in a listing
    counts: Counter[str]  # every execution of the state machine, by status
    matched: int  # executions matching the search, of which ``rows`` are the newest


def recent(session: StackSession, search: Search) -> Listing:
    """The newest executions matching ``search``, and how many there are of each status."""
    summaries = list(session.list_executions())
    counts = Counter(str(s["status"]) for s in summaries)
    matching = [s for s in summaries if search.matches(s)]
    query = Query(limit=search.limit, describe=True)
    return Listing(rows(session, matching[: search.limit], query), counts, len(matching))


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
