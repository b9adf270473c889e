"""Check Task Status: one poll of the task; on a final answer the raw response goes to S3.

Input ``{"taskId", "submittedAt", "polls"}``; output (every key always present, for the state
machine's ResultSelector) ``{"status", "taskStatus", "responseStatusCode", "polls", "waitSeconds",
"giveUp", "giveUpReason", "elapsedSeconds", "rawKey", "error"}``. ``status`` is a TaskStatus value
or ``Throttled`` (HTTP 429: waited out like a running task, honouring ``Retry-After``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ocr_fetch.client import AsposeClient
from ocr_fetch.errors import (
    MAX_STATUS_CHARS,
    AsposeProtocolError,
    AsposeThrottledError,
    InvalidEventError,
    clip,
)
from ocr_fetch.handlers.wiring import aspose_client, results_store
from ocr_fetch.model import OcrResponse, TaskStatus
from ocr_fetch.observability import logger, metrics
from ocr_fetch.polling import PollDecision, PollingPolicy, next_poll
from ocr_fetch.settings import get_settings
from ocr_fetch.storage import ResultStore
from ocr_fetch.submission import parse_timestamp, validate_task_id

THROTTLED = "Throttled"
_FINAL_WITH_BODY = (TaskStatus.COMPLETED, TaskStatus.ERROR, TaskStatus.UNKNOWN)


@dataclass(frozen=True)
class CheckRequest:
    task_id: str
    submitted_at: datetime
    polls: int

    @classmethod
    def parse(cls, event: Any) -> CheckRequest:
        if not isinstance(event, dict):
            raise InvalidEventError("check input must be an object")
        polls = event.get("polls", 0)
        if not isinstance(polls, int) or polls < 0:
            raise InvalidEventError("check input polls must be a non-negative integer")
        submitted_at = parse_timestamp(event.get("submittedAt"))
        if submitted_at is None:
            raise InvalidEventError("check input submittedAt must be ISO 8601")
        return cls(validate_task_id(event.get("taskId")), submitted_at, polls)


@dataclass(frozen=True)
class PollResult:
    """One poll's answer to the state machine: its status and, for a running task, what next."""

    status: str
    polls: int
    elapsed_seconds: float
    #: The wait before the next poll (or giving up); None when the task is not running any more.
    decision: PollDecision | None = None
    task_status: str | None = None
    response_status_code: str | None = None
    raw_key: str | None = None
    error: dict[str, str] | None = None

    def to_state(self) -> dict[str, Any]:
        """The handler's output: every key always present."""
        return {
            "status": self.status,
            "taskStatus": clip(self.task_status, MAX_STATUS_CHARS),
            "responseStatusCode": self.response_status_code,
            "polls": self.polls,
            "waitSeconds": self.decision.wait_seconds if self.decision else 0,
            "giveUp": self.decision.give_up if self.decision else False,
            "giveUpReason": self.decision.give_up_reason if self.decision else None,
            "elapsedSeconds": int(self.elapsed_seconds),
            "rawKey": self.raw_key,
            "error": self.error,
        }


def check_task(
    request: CheckRequest,
    *,
    client: AsposeClient,
    store: ResultStore,
    policy: PollingPolicy,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Poll once and decide what comes next."""
    polls = request.polls + 1
    try:
        fetched = client.fetch_result(request.task_id)
    except AsposeThrottledError as exc:
        elapsed = (now() - request.submitted_at).total_seconds()
        decision = next_poll(policy, polls, elapsed, exc.retry_after)
        logger.warning(
            "poll throttled",
            extra={"polls": polls, "retry_after": exc.retry_after, "wait": decision.wait_seconds},
        )
        return PollResult(THROTTLED, polls, elapsed, decision).to_state()
    response = fetched.response
    if response.task_id is not None and response.task_id.lower() != request.task_id.lower():
        raise AsposeProtocolError("the service answered for a different task id")
    elapsed = (now() - request.submitted_at).total_seconds()
    status = response.task_status
    raw_key = store.put_raw(request.task_id, fetched.body) if status in _FINAL_WITH_BODY else None
    result = PollResult(
        status.value,
        polls,
        elapsed,
        decision=next_poll(policy, polls, elapsed) if status.is_running else None,
        task_status=response.raw_task_status,
        response_status_code=response.response_status_code,
        raw_key=raw_key,
        error=_error(response),
    )
    metrics.add_metric(name="Polls", unit=MetricUnit.Count, value=1)
    logger.info(
        "polled",
        extra={
            "polls": polls,
            "task_status": status.value,
            "response_status_code": response.response_status_code,
            "wait": result.decision.wait_seconds if result.decision else 0,
            "give_up": result.decision.give_up_reason if result.decision else None,
        },
    )
    return result.to_state()


def _error(response: OcrResponse) -> dict[str, str] | None:
    """The error a final answer other than Completed carries on to the recording state."""
    if response.task_status is TaskStatus.ERROR:
        return {
            "name": "RecognitionError",
            "message": "; ".join(response.messages) or "the service reported Error",
        }
    if response.task_status is TaskStatus.UNKNOWN:
        said = clip(response.raw_task_status or "null", MAX_STATUS_CHARS)
        return {"name": "UnknownTaskStatus", "message": f"unknown taskStatus {said!r}"}
    return None


@logger.inject_lambda_context(correlation_id_path="taskId")
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = CheckRequest.parse(event)
    return check_task(
        request, client=aspose_client(), store=results_store(), policy=get_settings().polling
    )
