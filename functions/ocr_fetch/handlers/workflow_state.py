"""The execution's state data as the storing and recording functions read it, and the outcome
they hand back, within the state's byte budget on every path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ocr_fetch import jsonlimits
from ocr_fetch.bucket import StoredAnswer
from ocr_fetch.errors import (
    MAX_ERROR_NAME_CHARS,
    MAX_STATE_MESSAGE_BYTES,
    InvalidEventError,
    clip,
    clip_bytes,
)
from ocr_fetch.events import build_outcome_detail, encoded_size
from ocr_fetch.outcome import Outcome, TaskRun
from ocr_fetch.submission import parse_timestamp, validate_execution_name, validate_task_id

#: The most an execution's state data may hold, in UTF-8 bytes of JSON, on every path: region
#: names and per-region details are kept by reference, every message and cause is clipped, and
#: the outcome event's region list gets what is left (:func:`outcome_payload`).
STATE_BUDGET_BYTES = 8 * 1024
#: An outcome event's detail is never cut below this: ids, counts, keys and the error.
MIN_DETAIL_BYTES = 1024
#: A Catch's ``Cause`` is read at most this long (a Lambda error's JSON, bounded by the handlers).
_MAX_CAUSE_BYTES = 32 * 1024


@dataclass(frozen=True)
class WorkflowState:
    task_id: str
    execution_arn: str | None
    execution_name: str
    #: How many regions were submitted (None: not said), and where the task's submitted facts
    #: (their names among them) are kept.
    region_count: int | None
    submitted_key: str | None
    correlation_id: str | None
    metadata: dict[str, Any] | None
    submitted_at: datetime | None
    poll: dict[str, Any]
    failure: dict[str, Any] | None
    #: The state data's size as received (UTF-8 bytes of compact JSON).
    size_bytes: int = 0

    @classmethod
    def parse(cls, event: Any) -> WorkflowState:
        """Parse ``{"input": <state>, "executionArn", "executionName"}`` as the state machine
        sends it."""
        if not isinstance(event, dict) or not isinstance(event.get("input"), dict):
            raise InvalidEventError("handler input must be an object with an 'input' object")
        state: dict[str, Any] = event["input"]
        count = state.get("regionCount")
        submitted = state.get("submittedKey")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
            raise InvalidEventError("state regionCount must be a whole number or null")
        if submitted is not None and not isinstance(submitted, str):
            raise InvalidEventError("state submittedKey must be a string or null")
        poll = state.get("poll")
        failure = state.get("failure")
        metadata = state.get("metadata")
        correlation_id = state.get("correlationId")
        execution_arn = event.get("executionArn")
        return cls(
            task_id=validate_task_id(state.get("taskId")),
            execution_arn=execution_arn if isinstance(execution_arn, str) else None,
            execution_name=validate_execution_name(event.get("executionName")),
            region_count=count,
            submitted_key=submitted,
            correlation_id=correlation_id if isinstance(correlation_id, str) else None,
            metadata=metadata if isinstance(metadata, dict) else None,
            submitted_at=parse_timestamp(state.get("submittedAt")),
            poll=poll if isinstance(poll, dict) else {},
            failure=failure if isinstance(failure, dict) else None,
            size_bytes=encoded_size(state),
        )

    @property
    def polls(self) -> int:
        polls = self.poll.get("polls")
        return polls if isinstance(polls, int) and not isinstance(polls, bool) else 0

    @property
    def answer(self) -> StoredAnswer | None:
        """The final answer the check kept for this run (its key and ETag), if any."""
        key, etag = self.poll.get("rawKey"), self.poll.get("rawETag")
        if not isinstance(key, str) or not key:
            return None
        return StoredAnswer(key, etag if isinstance(etag, str) else "")

    @property
    def run(self) -> TaskRun:
        return TaskRun(
            self.task_id,
            execution_arn=self.execution_arn,
            execution_name=self.execution_name,
            polls=self.polls,
            correlation_id=self.correlation_id,
            metadata=self.metadata,
        )

    def seconds_since_submission(self) -> float | None:
        if self.submitted_at is None:
            return None
        return (datetime.now(UTC) - self.submitted_at).total_seconds()


def outcome_payload(outcome: Outcome, *, recorded: bool, state_bytes: int = 0) -> dict[str, Any]:
    """What the state machine keeps as ``$.outcome``: the event to publish and the Fail reason.

    It joins a state of ``state_bytes``; the event's detail gets what is left of
    :data:`STATE_BUDGET_BYTES` (its region list is cut, with ``regionsTruncated`` and the
    manifest's key, when they do not fit; the manifest lists every region regardless). The Fail
    state's ``Cause`` is clipped like every message in state.
    """
    payload: dict[str, Any] = {
        "kind": outcome.kind.value,
        "recorded": recorded,
        "detailType": outcome.kind.detail_type,
        "detail": {},
        "error": fail_state_error(outcome.error_name),
        "cause": clip_bytes(outcome.error_message, MAX_STATE_MESSAGE_BYTES),
    }
    room = STATE_BUDGET_BYTES - state_bytes - encoded_size(payload) - len(',"outcome":')
    payload["detail"] = build_outcome_detail(outcome, max_bytes=max(room, MIN_DETAIL_BYTES))
    return payload


def fail_state_error(name: str | None) -> str | None:
    """The name a Fail state may carry: ``States.*`` names are reserved for Step Functions, so a
    caught ``States.Runtime`` ends the execution as ``Workflow.Runtime`` (the event keeps it)."""
    if name and name.startswith("States."):
        return "Workflow." + name.removeprefix("States.")
    return name


def failure_message(failure: dict[str, Any] | None) -> tuple[str, str]:
    """The error name and message of a caught failure (``{"Error", "Cause"}``), bounded."""
    if not failure:
        return "WorkflowError", "the workflow failed without an error report"
    name = clip(str(failure.get("Error") or "WorkflowError"), MAX_ERROR_NAME_CHARS)
    cause = failure.get("Cause")
    message = cause if isinstance(cause, str) else ""
    # A Lambda failure's Cause is its error payload as JSON; keep only the message.
    try:
        parsed = jsonlimits.loads(message, max_bytes=_MAX_CAUSE_BYTES, what="the cause")
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        message = parsed["errorMessage"]
    return name, clip_bytes(message or name, MAX_STATE_MESSAGE_BYTES)
