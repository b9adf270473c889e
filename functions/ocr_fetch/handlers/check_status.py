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
from ocr_fetch.model import TaskStatus
from ocr_fetch.observability import logger, metrics, tracer
from ocr_fetch.polling import PollingPolicy, next_poll
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
        return _result(
            THROTTLED, None, None, polls, elapsed, decision.wait_seconds, decision.give_up_reason
        )
    response = fetched.response
    if response.task_id is not None and response.task_id.lower() != request.task_id.lower():
        raise AsposeProtocolError("the service answered for a different task id")
    elapsed = (now() - request.submitted_at).total_seconds()
    status = response.task_status
    raw_key = store.put_raw(request.task_id, fetched.body) if status in _FINAL_WITH_BODY else None
    wait, reason = 0, None
    if status.is_running:
        decision = next_poll(policy, polls, elapsed)
        wait, reason = decision.wait_seconds, decision.give_up_reason
    error = None
    if status is TaskStatus.ERROR:
        error = {
            "name": "RecognitionError",
            "message": "; ".join(response.messages) or "the service reported Error",
        }
    elif status is TaskStatus.UNKNOWN:
        said = clip(response.raw_task_status or "null", MAX_STATUS_CHARS)
        error = {"name": "UnknownTaskStatus", "message": f"unknown taskStatus {said!r}"}
    metrics.add_metric(name="Polls", unit=MetricUnit.Count, value=1)
    logger.info(
        "polled",
        extra={
            "polls": polls,
            "task_status": status.value,
            "response_status_code": response.response_status_code,
            "wait": wait,
            "give_up": reason,
        },
    )
    return _result(
        status.value,
        response.raw_task_status,
        response.response_status_code,
        polls,
        elapsed,
        wait,
        reason,
        raw_key=raw_key,
        error=error,
    )


def _result(
    status: str,
    task_status: str | None,
    code: str | None,
    polls: int,
    elapsed: float,
    wait: int,
    give_up_reason: str | None,
    *,
    raw_key: str | None = None,
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "status": status,
        "taskStatus": clip(task_status, MAX_STATUS_CHARS),
        "responseStatusCode": code,
        "polls": polls,
        "waitSeconds": wait,
        "giveUp": give_up_reason is not None,
        "giveUpReason": give_up_reason,
        "elapsedSeconds": int(elapsed),
        "rawKey": raw_key,
        "error": error,
    }


@logger.inject_lambda_context(correlation_id_path="taskId")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = CheckRequest.parse(event)
    return check_task(
        request, client=aspose_client(), store=results_store(), policy=get_settings().polling
    )
