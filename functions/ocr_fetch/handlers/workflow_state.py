"""The execution's state data as the handlers read it, and the outcome they hand back.

State data is ids, labels, counters and S3 keys (see ``statemachine/region_results.asl.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ocr_fetch.errors import (
    MAX_ERROR_MESSAGE_CHARS,
    MAX_ERROR_NAME_CHARS,
    InvalidEventError,
    clip,
)
from ocr_fetch.events import build_outcome_detail, encoded_size
from ocr_fetch.outcome import Outcome, TaskRun
from ocr_fetch.submission import parse_timestamp, validate_task_id

#: The most an execution's state data may hold, in UTF-8 bytes of JSON: region names and
#: per-region details are kept by reference, so it holds whatever the number of regions; the
#: outcome event's region list gets what is left (:func:`outcome_payload`).
STATE_BUDGET_BYTES = 8 * 1024
#: An outcome event's detail is never cut below this: ids, counts, keys and the error.
MIN_DETAIL_BYTES = 1024


@dataclass(frozen=True)
class WorkflowState:
    task_id: str
    execution_arn: str | None
    #: How many regions were submitted (None: not said), and where their names are kept.
    region_count: int | None
    region_names_key: str | None
    #: Names carried in the state itself, as executions started before names were kept by
    #: reference still carry them (None otherwise): a deployment never drops their labels.
    inline_region_names: tuple[str | None, ...] | None
    correlation_id: str | None
    metadata: dict[str, Any] | None
    submitted_at: datetime | None
    poll: dict[str, Any]
    failure: dict[str, Any] | None
    #: The state data's size as received (UTF-8 bytes of compact JSON).
    size_bytes: int = 0

    @classmethod
    def parse(cls, event: Any) -> WorkflowState:
        """Parse ``{"input": <state>, "executionArn": ...}`` as the state machine sends it."""
        if not isinstance(event, dict) or not isinstance(event.get("input"), dict):
            raise InvalidEventError("handler input must be an object with an 'input' object")
        state: dict[str, Any] = event["input"]
        count = state.get("regionCount")
        names_key = state.get("regionNamesKey")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
            raise InvalidEventError("state regionCount must be a whole number or null")
        if names_key is not None and not isinstance(names_key, str):
            raise InvalidEventError("state regionNamesKey must be a string or null")
        regions = state.get("regions")
        inline = (
            tuple(r.get("name") if isinstance(r, dict) else None for r in regions)
            if isinstance(regions, list)
            else None
        )
        if count is None and inline is not None:
            count = len(inline)
        poll = state.get("poll")
        failure = state.get("failure")
        metadata = state.get("metadata")
        correlation_id = state.get("correlationId")
        execution_arn = event.get("executionArn")
        return cls(
            task_id=validate_task_id(state.get("taskId")),
            execution_arn=execution_arn if isinstance(execution_arn, str) else None,
            region_count=count,
            region_names_key=names_key,
            inline_region_names=inline,
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
        return polls if isinstance(polls, int) else 0

    @property
    def run(self) -> TaskRun:
        return TaskRun(
            self.task_id,
            execution_arn=self.execution_arn,
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
    manifest's key, when they do not fit; the manifest lists every region regardless).
    """
    payload: dict[str, Any] = {
        "kind": outcome.kind.value,
        "recorded": recorded,
        "detailType": outcome.kind.detail_type,
        "detail": {},
        "error": fail_state_error(outcome.error_name),
        "cause": outcome.error_message,
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
    """The error name and message of a caught failure (``{"Error", "Cause"}``)."""
    if not failure:
        return "WorkflowError", "the workflow failed without an error report"
    name = clip(str(failure.get("Error") or "WorkflowError"), MAX_ERROR_NAME_CHARS)
    cause = failure.get("Cause")
    message = cause if isinstance(cause, str) else ""
    # A Lambda failure's Cause is its error payload as JSON; keep only the message.
    try:
        parsed = json.loads(message)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        message = parsed["errorMessage"]
    return name, clip(message or name, MAX_ERROR_MESSAGE_CHARS)
