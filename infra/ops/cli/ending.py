"""How a command that follows a task ends: progress on stderr until the task ends, its outcome
on stdout (or in the ``--json`` document), and exit code 3 unless it completed, 4 when the wait
timed out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from infra.ops.cli import actions, output, views
from infra.ops.cli.errors import CliError, ExitCode
from infra.ops.cli.output import Output
from infra.ops.cli.target import Target
from infra.stack.results import COMPLETED, recorded_outcome
from infra.stack.waiting import WaitTimeout


def wait(
    out: Output, target: Target, task: actions.Followed, timeout: float, document: dict[str, Any]
) -> None:
    """Follow the task to its end, then print its outcome (with ``document`` for ``--json``);
    exit code 3 when it did not complete, 4 when the wait timed out (the document printed with
    ``outcome: null`` and the execution so far)."""
    outcome: dict[str, Any] | None = None
    try:
        outcome = _follow(out, target, task, timeout)
    finally:
        if out.as_json:
            execution = views.execution_json(task.execution) if task.execution else None
            out.document(document | {"outcome": outcome, "execution": execution})
    exit_unless_completed(outcome, task.task_id)


def _follow(
    out: Output, target: Target, task: actions.Followed, timeout: float
) -> dict[str, Any] | None:
    """Follow one task to its end, showing progress on stderr; its recorded outcome (JSON)."""
    progress = output.ProgressLines(out.note, datetime.now(UTC))
    try:
        with out.waiting(f"waiting for task {task.task_id}"):
            outcomes = actions.follow(target.session, [task], progress, timeout=timeout)
    except WaitTimeout:
        if task.execution is None:
            raise CliError(
                f"--wait timed out after {timeout:g} s and no execution {task.execution_name} "
                "was started: is the announcement in the dead-letter queue (ocr-results dlq list)?",
                ExitCode.WAIT_TIMED_OUT,
            ) from None
        raise CliError(
            f"--wait timed out after {timeout:g} s; task {task.task_id} is still going "
            f"(ocr-results status {task.task_id})",
            ExitCode.WAIT_TIMED_OUT,
        ) from None
    item = recorded_outcome(outcomes[task.task_id].item)
    if not out.as_json:
        status = views.TaskStatus(task.task_id, item, task.execution)
        for line in output.status_lines(status):
            out.line(line)
    return views.outcome_json(item) if item else None


def exit_unless_completed(outcome: dict[str, Any] | None, task_id: str) -> None:
    """Exit code 3, naming the outcome and its error, unless the task completed."""
    status = (outcome or {}).get("status")
    if status != COMPLETED:
        error = (outcome or {}).get("errorName")
        raise CliError(
            f"task {task_id} ended {status or 'without recording an outcome'}"
            + (f" ({error})" if error else ""),
            ExitCode.NOT_COMPLETED,
        )
