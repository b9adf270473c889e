"""Record an outcome other than Completed: a recognition error, an unknown task, giving up, an
unknown status or a failure caught in the workflow.

Input ``{"kind", "reason", "input": <state>, "executionArn", "executionName"}``; output the
``$.outcome`` payload. A later run never replaces a better or equal recorded outcome
(``recorded`` is then false).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ocr_fetch.errors import MAX_QUOTED_CHARS, InvalidEventError, clip
from ocr_fetch.handlers.wiring import result_table, state_machine_task
from ocr_fetch.handlers.workflow_state import WorkflowState, failure_message, outcome_payload
from ocr_fetch.layout import run_prefix
from ocr_fetch.observability import logger, metrics
from ocr_fetch.outcome import Outcome, OutcomeKind
from ocr_fetch.polling import GiveUpReason
from ocr_fetch.settings import RecordSettings
from ocr_fetch.table import ResultTable

#: The keys this function reads from its payload, and those it requires: ``make lint`` checks
#: the state machine's Payload against them.
PAYLOAD_KEYS = frozenset({"kind", "reason", "input", "executionArn", "executionName"})
REQUIRED_PAYLOAD_KEYS = frozenset({"kind", "reason", "input", "executionName"})
REASONS = {"RecognitionError", "TaskNotFound", "GaveUp", "UnknownTaskStatus", "WorkflowError"}


def build_outcome(kind: OutcomeKind, reason: str, state: WorkflowState, bucket: str) -> Outcome:
    """Name the error and say what happened, from the state data alone."""
    poll = state.poll
    raw_error = poll.get("error")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    if reason == "WorkflowError":
        name, message = failure_message(state.failure)
    elif reason == "TaskNotFound":
        name = "TaskNotFound"
        message = "Aspose.OCR Cloud has no such task: the id is wrong or its results expired"
    elif reason == "GaveUp":
        name, message = _gave_up(state)
    else:
        name = str(error.get("name") or reason)
        message = str(error.get("message") or reason)
    answer = state.answer
    return Outcome(
        task_id=state.task_id,
        kind=kind,
        task_status=poll.get("taskStatus") or None,
        response_status_code=poll.get("responseStatusCode") or None,
        execution_arn=state.execution_arn,
        prefix=run_prefix(state.task_id, state.execution_name),
        polls=state.polls,
        bucket=bucket if answer else None,
        raw_key=answer.key if answer else None,
        expected_region_count=state.region_count,
        error_name=name,
        error_message=message,
        correlation_id=state.correlation_id,
        metadata=state.metadata,
    )


def _gave_up(state: WorkflowState) -> tuple[str, str]:
    """Which clock ended the polling, as the error's name: the service still saying "running"
    past the deadline or the poll budget, or the results' lifetime reached; the message says how
    long and, when the last poll got no answer about the task, why not."""
    poll = state.poll
    reason = str(poll.get("giveUpReason") or "GaveUp")
    spent = f"gave up ({reason}) after {state.polls} polls and {poll.get('elapsedSeconds')} s"
    if reason == GiveUpReason.LIFETIME:
        spent += " since submission: the results' lifetime was reached"
    else:
        running = poll.get("runningSeconds")
        said = f"{running:g}" if isinstance(running, int | float) else "?"
        spent += f", {said} s of them with the service saying it was running"
    cause = poll.get("transientCause")
    if isinstance(cause, dict) and cause.get("name"):
        return (
            reason,
            f"{spent}; the last poll got no answer ({cause['name']}: {cause.get('message')})",
        )
    return reason, f"{spent}; the task was still {poll.get('taskStatus') or poll.get('status')}"


def record(event: Any, *, table: ResultTable, bucket: str) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidEventError("record input must be an object")
    try:
        kind = OutcomeKind(str(event.get("kind")))
    except ValueError:
        kind_given = clip(str(event.get("kind")), MAX_QUOTED_CHARS)
        raise InvalidEventError(f"unknown outcome kind {kind_given!r}") from None
    reason = event.get("reason")
    if reason not in REASONS:
        raise InvalidEventError(f"unknown outcome reason {clip(str(reason), MAX_QUOTED_CHARS)!r}")
    state = WorkflowState.parse(event)
    outcome = build_outcome(kind, reason, state, bucket)
    recorded = table.record(outcome)
    metrics.add_dimension(name="outcome", value=kind.value)
    metrics.add_metric(name="TasksNotCompleted", unit=MetricUnit.Count, value=1)
    logger.info(
        "outcome recorded" if recorded else "outcome superseded by an earlier one",
        extra={"outcome": kind.value, "reason": reason, "error_name": outcome.error_name},
    )
    return outcome_payload(outcome, recorded=recorded, state_bytes=state.size_bytes)


#: Read once per Lambda container.
settings = cache(RecordSettings.from_env)


@state_machine_task(correlation_id_path="input.taskId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = settings()
    table = result_table(config.results_table, config.retention_days)
    return record(event, table=table, bucket=config.results_bucket)
