"""Check Task Status: one poll of the task; on a final answer the raw response goes to S3.

Input ``{"taskId", "submittedAt", "polls", "plan", "kind", "runningAt", "pollAt"}``; output
(every key always present, for the state machine's ResultSelector) ``{"status", "taskStatus",
"responseStatusCode", "polls", "waitSeconds", "pollAt", "giveUp", "giveUpReason",
"elapsedSeconds", "rawKey", "error", "transientCause", "plan", "kind", "runningAt"}``. ``plan``,
``kind`` and ``runningAt`` carry what polling learns from (:mod:`ocr_fetch.learning`): a
completed task teaches the history when it finished, between the last poll that saw it running
and this one.

``status`` is a TaskStatus value, or the poll got no answer about the task: ``Throttled`` (HTTP
429) or ``Unavailable`` (5xx, a timeout, a dropped or truncated answer, a body that is not JSON,
the credentials unreadable for now). Those are "not yet", like a running task: the state machine
waits (honouring ``Retry-After``) and polls again until the deadline or the poll budget, and a
task that gives up that way ends TimedOut naming the last such cause. Only a definite answer ends
a task early. Every request must be over ``_MARGIN_SECONDS`` before the invocation's own timeout,
so a slow service is a transient answer, never a killed function.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ocr_fetch.client import AsposeClient, Deadline
from ocr_fetch.errors import (
    MAX_STATUS_CHARS,
    AsposeProtocolError,
    AsposeThrottledError,
    CredentialsNotConfigured,
    InvalidEventError,
    TransientError,
    clip,
)
from ocr_fetch.handlers.wiring import aspose_client, results_store
from ocr_fetch.history import HISTORY_ERRORS, PollingHistory
from ocr_fetch.learning import MAX_PLAN_POLLS, Observation
from ocr_fetch.model import OcrResponse, TaskStatus
from ocr_fetch.observability import count_by, logger, metrics
from ocr_fetch.polling import (
    WAIT_ALLOWANCE_SECONDS,
    PollDecision,
    PollingPolicy,
    Progress,
    next_poll,
    on_time,
    whole_wait,
)
from ocr_fetch.settings import get_settings
from ocr_fetch.storage import ResultStore
from ocr_fetch.submission import parse_timestamp, validate_task_id

#: The keys this function reads from its payload, and those it requires: `make lint` checks the
#: state machine's Payload against them.
PAYLOAD_KEYS = frozenset(
    {"taskId", "submittedAt", "polls", "plan", "kind", "runningAt", "pollAt"}
)
REQUIRED_PAYLOAD_KEYS = frozenset({"taskId", "submittedAt"})
THROTTLED = "Throttled"
UNAVAILABLE = "Unavailable"
_FINAL_WITH_BODY = (TaskStatus.COMPLETED, TaskStatus.ERROR, TaskStatus.UNKNOWN)
#: Left at the end of an invocation for storing a final answer (one S3 PUT) and returning.
_MARGIN_SECONDS = 5.0


@dataclass(frozen=True)
class CheckRequest:
    task_id: str
    submitted_at: datetime
    polls: int
    #: The learnt plan and the kind it was learnt for (:mod:`ocr_fetch.learning`), and when a poll
    #: last saw the task running (seconds after submission): carried from poll to poll.
    plan: tuple[int, ...] = ()
    kind: str | None = None
    running_at: float = 0.0
    #: When this poll is due, in seconds after submission (the Wait state counts whole seconds).
    poll_at: float = 0.0

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
        plan = event.get("plan") or []
        if not isinstance(plan, list) or not all(
            isinstance(at, int) and not isinstance(at, bool) and at >= 0 for at in plan
        ):
            raise InvalidEventError("check input plan must be a list of whole seconds")
        kind = event.get("kind")
        running_at = event.get("runningAt") or 0
        if not isinstance(running_at, int | float) or isinstance(running_at, bool):
            raise InvalidEventError("check input runningAt must be a number of seconds")
        poll_at = event.get("pollAt") or 0
        if not isinstance(poll_at, int | float) or isinstance(poll_at, bool):
            raise InvalidEventError("check input pollAt must be a number of seconds")
        return cls(
            validate_task_id(event.get("taskId")),
            submitted_at,
            polls,
            plan=tuple(plan[:MAX_PLAN_POLLS]),
            kind=kind if isinstance(kind, str) and kind else None,
            running_at=float(running_at),
            poll_at=float(poll_at),
        )


@dataclass(frozen=True)
class PollResult:
    """One poll's answer to the state machine: its status and, for a running task, what next."""

    status: str
    polls: int
    elapsed_seconds: float
    #: The wait before the next poll (or giving up); None when the task is not running any more.
    decision: PollDecision | None = None
    #: When the next poll is due, in seconds after submission (None: no next poll).
    poll_at: float | None = None
    task_status: str | None = None
    response_status_code: str | None = None
    raw_key: str | None = None
    error: dict[str, str] | None = None
    #: Why this poll got no answer about the task (``Throttled``/``Unavailable`` only).
    transient_cause: dict[str, str] | None = None
    #: Carried on from the request (``running_at`` updated when this poll saw the task running).
    plan: tuple[int, ...] = ()
    kind: str | None = None
    running_at: float = 0.0

    @property
    def wait_seconds(self) -> int:
        """The Wait state's whole seconds: short of the due time by what it takes from a Wait's
        end to the next poll's start, which the check function then makes up."""
        if self.poll_at is None or self.decision is None or self.decision.give_up:
            return 0
        # After no answer (a Retry-After, say) the whole wait is waited: never early.
        allowance = 0.0 if self.transient_cause else WAIT_ALLOWANCE_SECONDS
        return whole_wait(self.poll_at, self.elapsed_seconds, allowance)

    def to_state(self) -> dict[str, Any]:
        """The handler's output: every key always present."""
        return {
            "status": self.status,
            "taskStatus": clip(self.task_status, MAX_STATUS_CHARS),
            "responseStatusCode": self.response_status_code,
            "polls": self.polls,
            "waitSeconds": self.wait_seconds,
            "pollAt": None if self.poll_at is None else round(self.poll_at, 3),
            "giveUp": self.decision.give_up if self.decision else False,
            "giveUpReason": self.decision.give_up_reason if self.decision else None,
            "elapsedSeconds": int(self.elapsed_seconds),
            "rawKey": self.raw_key,
            "error": self.error,
            "transientCause": self.transient_cause,
            "plan": list(self.plan),
            "kind": self.kind,
            "runningAt": int(self.running_at),
        }


@dataclass(frozen=True)
class Checker:
    """What one poll needs besides the request: the service, the store and the policy."""

    client: AsposeClient
    store: ResultStore
    policy: PollingPolicy
    cancel_on_give_up: bool = False
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: Where completed tasks' durations are learnt (None: not learning).
    history: PollingHistory | None = None
    sleep: Callable[[float], None] = time.sleep


def _on_time(request: CheckRequest, checker: Checker, deadline: Deadline) -> float:
    """Make up what the Wait state's whole seconds left of the wait (about a second at most), so
    the poll is made when it was due, not up to a second later: a second of Lambda time costs
    less than a tenth of one poll's state transitions, and every second a result waits costs
    the user. Returns when this poll counts as made (seconds after submission): when it was due
    if it is on time, so the schedule keeps to its times rather than drifting by each poll's
    latency."""
    now = (checker.now() - request.submitted_at).total_seconds()
    early, made_at = on_time(request.poll_at, now)
    if early and deadline.remaining() <= early + 1:
        return now
    if early:
        checker.sleep(early)
    return made_at


def check_task(request: CheckRequest, checker: Checker, deadline: Deadline) -> dict[str, Any]:
    """Poll once and decide what comes next."""
    polls = request.polls + 1
    scheduled = _on_time(request, checker, deadline)
    metrics.add_metric(name="Polls", unit=MetricUnit.Count, value=1)
    try:
        fetched = checker.client.fetch_result(request.task_id, deadline)
    except TransientError as exc:
        return _not_yet(request, checker, deadline, polls, exc).to_state()
    except CredentialsNotConfigured:
        # Every task would fail the same way: a metric the stack alarms on, and one clear line.
        metrics.add_metric(name="CredentialsNotConfigured", unit=MetricUnit.Count, value=1)
        logger.error("the stack's Aspose secret holds no usable clientId/clientSecret")
        raise
    response = fetched.response
    if response.task_id is not None and response.task_id.lower() != request.task_id.lower():
        raise AsposeProtocolError("the service answered for a different task id")
    elapsed = (checker.now() - request.submitted_at).total_seconds()
    status = response.task_status
    raw_key = (
        checker.store.put_raw(request.task_id, fetched.body) if status in _FINAL_WITH_BODY else None
    )
    progress = Progress(polls, scheduled, plan=request.plan)
    decision = next_poll(checker.policy, progress) if status.is_running else None
    poll_at = scheduled + decision.interval_seconds if decision and not decision.give_up else None
    if status is TaskStatus.COMPLETED:
        # At most this late: it finished after the last poll that saw it running.
        delay = max(elapsed - request.running_at, 0.0)
        metrics.add_metric(name="DetectionDelay", unit=MetricUnit.Seconds, value=delay)
        _learn(checker, request, elapsed)
    result = PollResult(
        status.value,
        polls,
        elapsed,
        decision=decision,
        poll_at=poll_at,
        task_status=response.raw_task_status,
        response_status_code=response.response_status_code,
        raw_key=raw_key,
        error=_error(response),
        plan=request.plan,
        kind=request.kind,
        running_at=elapsed if status.is_running else request.running_at,
    )
    logger.info(
        "polled",
        extra={
            "polls": polls,
            "task_status": status.value,
            "response_status_code": response.response_status_code,
            "wait": result.wait_seconds,
            "give_up": decision.give_up_reason if decision else None,
        },
    )
    if decision is not None and decision.give_up:
        _cancel_when_asked(request, checker, deadline)
    return result.to_state()


def _not_yet(
    request: CheckRequest, checker: Checker, deadline: Deadline, polls: int, exc: TransientError
) -> PollResult:
    """No answer about the task this time: wait (at least Retry-After) and poll again."""
    retry_after = exc.retry_after if isinstance(exc, AsposeThrottledError) else None
    elapsed = (checker.now() - request.submitted_at).total_seconds()
    decision = next_poll(checker.policy, Progress(polls, elapsed, retry_after, request.plan))
    cause = {"name": type(exc).__name__, "message": str(exc)}
    metrics.add_metric(name="PollsNotAnswered", unit=MetricUnit.Count, value=1)
    count_by("TransientFaults", "cause", cause["name"])
    logger.warning(
        "poll not answered",
        extra={
            "polls": polls,
            "cause": cause["name"],
            "retry_after": retry_after,
            "wait": decision.wait_seconds,
            "give_up": decision.give_up_reason,
        },
    )
    if decision.give_up:
        _cancel_when_asked(request, checker, deadline)
    status = THROTTLED if isinstance(exc, AsposeThrottledError) else UNAVAILABLE
    return PollResult(
        status,
        polls,
        elapsed,
        decision,
        poll_at=None if decision.give_up else elapsed + decision.interval_seconds,
        transient_cause=cause,
        plan=request.plan,
        kind=request.kind,
        running_at=request.running_at,
    )


def _learn(checker: Checker, request: CheckRequest, elapsed: float) -> None:
    """Teach polling when this task finished: after the last poll that saw it running and by
    this one. Best effort: learning never fails a poll."""
    if checker.history is None or request.kind is None:
        return
    try:
        checker.history.record(request.kind, Observation(request.running_at, elapsed))
    except HISTORY_ERRORS as exc:
        logger.warning("polling history not updated", extra={"cause": type(exc).__name__})
        metrics.add_metric(name="PollingHistoryErrors", unit=MetricUnit.Count, value=1)


def _cancel_when_asked(request: CheckRequest, checker: Checker, deadline: Deadline) -> None:
    """Cancel a task we gave up on (``CancelOnGiveUp``): best effort, never changes the outcome.

    Off by default: cancelling deletes results that a deliberate re-fetch could still find.
    """
    if not checker.cancel_on_give_up:
        return
    try:
        checker.client.cancel(request.task_id, deadline)
    except Exception as exc:  # the outcome is TimedOut either way
        logger.warning("cancel on give-up failed", extra={"cause": type(exc).__name__})
    else:
        logger.info("cancelled on give-up")


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


@cache
def _history(table: str) -> PollingHistory:
    return PollingHistory(table)


@logger.inject_lambda_context(correlation_id_path="taskId")
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = CheckRequest.parse(event)
    settings = get_settings()
    table = settings.polling_history_table
    checker = Checker(
        aspose_client(),
        results_store(),
        settings.polling,
        settings.cancel_on_give_up,
        history=_history(table) if table else None,
    )
    left = context.get_remaining_time_in_millis() / 1000 - _MARGIN_SECONDS
    return check_task(request, checker, Deadline.after(left))
