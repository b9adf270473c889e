"""One poll of a task, and what comes next: the logic of Check Task Status.

A final answer (``Completed``, ``Error``, an unknown status) is kept as received under this
execution's own key and only that key and its ETag travel on. An answer that says nothing about
the task (429, 5xx, a timeout, a dropped or cut-off answer, a body that is not JSON, credentials
unreadable for now) is "not yet", like a running task: the state machine waits (honouring
``Retry-After``) and polls again. Only a definite answer ends a task early; see
:mod:`ocr_fetch.polling` for the two clocks that bound the rest.

The fleet (:mod:`ocr_fetch.fleet`) comes first: with its breaker open, no call is made and the
task is ``Paused`` (unless this check is the probe); with a budget, each call waits for its
slot, or the poll is ``Throttled`` until the slot kept for it. The fleet's state is a safeguard:
when it cannot be read, the poll goes ahead as if nothing were open or budgeted.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from ocr_fetch.errors import (
    MAX_STATUS_CHARS,
    AsposeProtocolError,
    AsposeThrottledError,
    BreakerOpenError,
    BudgetWaitError,
    CredentialsNotConfigured,
    CredentialsUnavailableError,
    StorageError,
    TransientError,
    clip,
)
from ocr_fetch.fleet import BudgetGate, Fleet, FleetView, paused_wait
from ocr_fetch.history import HISTORY_ERRORS, PollingHistory
from ocr_fetch.learning import Observation
from ocr_fetch.model import OcrResponse, TaskStatus
from ocr_fetch.observability import count_by, logger, metrics
from ocr_fetch.poll_state import PAUSED, THROTTLED, UNAVAILABLE, CheckRequest, PollResult
from ocr_fetch.polling import PollDecision, PollingPolicy, Progress, next_poll, on_time

if TYPE_CHECKING:
    from ocr_fetch.bucket import ResultBucket
    from ocr_fetch.client import AsposeClient, Deadline

_FINAL_WITH_BODY = (TaskStatus.COMPLETED, TaskStatus.ERROR, TaskStatus.UNKNOWN)
_T = TypeVar("_T")


@dataclass(frozen=True)
class Checker:
    """What one poll needs besides the request: the service, the bucket and the policy."""

    client: AsposeClient
    bucket: ResultBucket
    policy: PollingPolicy
    cancel_on_give_up: bool = False
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: Where completed tasks' durations are learnt (None: not learning).
    history: PollingHistory | None = None
    sleep: Callable[[float], None] = time.sleep
    #: The fleet's breaker and budget (None: this task on its own).
    fleet: Fleet | None = None
    rand: Callable[[], float] = random.random


@dataclass(frozen=True)
class _Poll:
    """This poll's place in the schedule: its number, when it counts as made, and the running
    seconds up to it (the time since the previous poll counts if that one said "running")."""

    number: int
    made_at: float
    running_seconds: float

    @classmethod
    def start(cls, request: CheckRequest, made_at: float) -> _Poll:
        running = request.running_seconds
        if request.last_answered and request.last_poll_at is not None:
            running += max(made_at - request.last_poll_at, 0.0)
        return cls(request.polls + 1, made_at, running)


def check_task(request: CheckRequest, checker: Checker, deadline: Deadline) -> PollResult:
    """Poll once (unless the fleet's breaker holds it back) and decide what comes next."""
    poll = _Poll.start(request, _on_time(request, checker, deadline))
    view = _fleet_view(checker)
    if view is not None:
        # A gauge for the dashboard and the alarm: 1 while the breaker is open.
        metrics.add_metric(name="BreakerOpen", unit=MetricUnit.Count, value=int(view.open))
    if view is not None and view.open and not _probe(checker, view):
        return _paused(request, checker, poll, view)
    if view is not None and checker.fleet is not None and checker.fleet.budgeted:
        gate = BudgetGate(checker.fleet, view, request.slot_at, checker.sleep)
        deadline = replace(deadline, admit=gate)
    metrics.add_metric(name="Polls", unit=MetricUnit.Count, value=1)
    try:
        fetched = checker.client.fetch_result(request.task_id, deadline)
    except TransientError as exc:
        _fleet_heard_nothing(checker, view, exc)
        return _not_yet(request, checker, poll, exc)
    except CredentialsNotConfigured:
        # Every task would fail the same way: a metric the stack alarms on, and one clear line.
        metrics.add_metric(name="CredentialsNotConfigured", unit=MetricUnit.Count, value=1)
        logger.error("the stack's Aspose secret holds no usable clientId/clientSecret")
        raise
    response = fetched.response
    if response.task_id is not None and response.task_id.lower() != request.task_id.lower():
        raise AsposeProtocolError("the service answered for a different task id")
    _fleet_heard_an_answer(checker, view)
    elapsed = _elapsed(request, checker)
    status = response.task_status
    stored = (
        checker.bucket.put_answer(
            request.task_id, request.execution_name, poll.number, fetched.body
        )
        if status in _FINAL_WITH_BODY
        else None
    )
    running = status.is_running
    answered_polls = request.answered_polls + (1 if running else 0)
    decision = (
        next_poll(
            checker.policy,
            Progress(
                poll.number,
                poll.made_at,
                plan=request.plan,
                running_seconds=poll.running_seconds,
                answered_polls=answered_polls,
            ),
        )
        if running
        else None
    )
    if status is TaskStatus.COMPLETED:
        # At most this late: it finished after the last poll that saw it running.
        delay = max(elapsed - request.running_at, 0.0)
        metrics.add_metric(name="DetectionDelay", unit=MetricUnit.Seconds, value=delay)
        _learn(checker, request, elapsed)
    result = PollResult(
        status.value,
        request,
        poll.number,
        answered_polls,
        poll.running_seconds,
        poll.made_at,
        answered=running,
        decision=decision,
        poll_at=poll.made_at + decision.interval_seconds
        if decision and not decision.give_up
        else None,
        task_status=response.raw_task_status,
        response_status_code=response.response_status_code,
        answer=stored,
        error=_error(response),
        running_at=elapsed if running else request.running_at,
    )
    logger.info(
        "polled",
        extra={
            "polls": poll.number,
            "task_status": status.value,
            "response_status_code": clip(response.response_status_code, MAX_STATUS_CHARS),
            "wait": result.wait_seconds,
            "give_up": decision.give_up_reason if decision else None,
        },
    )
    if decision is not None and decision.give_up:
        _cancel_when_asked(request, checker, deadline)
    return result


def _not_yet(
    request: CheckRequest, checker: Checker, poll: _Poll, exc: TransientError
) -> PollResult:
    """No answer about the task this time: wait (at least Retry-After; exactly until the budget
    slot kept for the next poll) and poll again. The time without an answer counts against the
    results' lifetime only."""
    retry_after = exc.retry_after if isinstance(exc, AsposeThrottledError) else None
    slot = exc if isinstance(exc, BudgetWaitError) else None
    elapsed = _elapsed(request, checker)
    decision = _wait_without_answer(
        checker, request, (poll.number, elapsed), retry_after, slot.retry_after if slot else None
    )
    cause = {"name": type(exc).__name__, "message": str(exc)}
    if slot is None:
        metrics.add_metric(name="PollsNotAnswered", unit=MetricUnit.Count, value=1)
    count_by("TransientFaults", "cause", cause["name"])
    logger.warning(
        "poll not answered",
        extra={
            "polls": poll.number,
            "cause": cause["name"],
            "retry_after": retry_after,
            "wait": decision.wait_seconds,
            "give_up": decision.give_up_reason,
        },
    )
    throttled = isinstance(exc, AsposeThrottledError | BudgetWaitError)
    status = THROTTLED if throttled else UNAVAILABLE
    return _unanswered(
        status,
        request,
        (poll, poll.number, elapsed),
        decision,
        cause,
        slot_at=slot.slot if slot and not decision.give_up else None,
    )


def _paused(request: CheckRequest, checker: Checker, poll: _Poll, view: FleetView) -> PollResult:
    """The breaker is open and this check is not the probe: no call; wait, longer each time in a
    row, until the results' lifetime."""
    fleet = checker.fleet
    assert fleet is not None  # a view comes only from a fleet
    elapsed = _elapsed(request, checker)
    until_probe = view.next_probe_at - fleet.clock()
    wait = paused_wait(fleet.probe_seconds, request.paused, until_probe, checker.rand)
    decision = _wait_without_answer(checker, request, (request.polls, elapsed), exactly=wait)
    exc = BreakerOpenError(
        f"the fleet's circuit breaker is open (by {view.opened_by or 'the run of non-answers'}): "
        "this poll was not made"
    )
    metrics.add_metric(name="PollsPaused", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="PausedSeconds", unit=MetricUnit.Seconds, value=decision.interval_seconds
    )
    logger.info("poll paused", extra={"paused": request.paused + 1, "wait": decision.wait_seconds})
    cause = {"name": type(exc).__name__, "message": str(exc)}
    made = (poll, request.polls, elapsed)
    return _unanswered(PAUSED, request, made, decision, cause, paused=request.paused + 1)


def _wait_without_answer(
    checker: Checker,
    request: CheckRequest,
    made: tuple[int, float],
    retry_after: float | None = None,
    exactly: float | None = None,
) -> PollDecision:
    """The wait after a poll that got no answer (or was not made; ``made``: the polls so far and
    when, in seconds after submission): the policy's, or ``exactly`` that long (a kept budget
    slot, a paused wait); never past the results' lifetime."""
    polls, elapsed = made
    progress = Progress(
        polls,
        elapsed,
        retry_after,
        request.plan,
        answered_polls=request.answered_polls,
        answered=False,
    )
    decision = next_poll(checker.policy, progress)
    if exactly is None or decision.give_up:
        return decision
    left = checker.policy.lifetime_seconds - elapsed
    return PollDecision(max(1.0, min(exactly, left)))


def _unanswered(
    status: str,
    request: CheckRequest,
    made: tuple[_Poll, int, float],
    decision: PollDecision,
    cause: dict[str, str],
    **extra: Any,
) -> PollResult:
    """The result of a poll that got no answer about the task (``made``: the poll, the polls
    made so far and when, in seconds after submission)."""
    poll, polls, elapsed = made
    return PollResult(
        status,
        request,
        polls,
        request.answered_polls,
        poll.running_seconds,
        elapsed,
        answered=False,
        decision=decision,
        poll_at=None if decision.give_up else elapsed + decision.interval_seconds,
        transient_cause=cause,
        running_at=request.running_at,
        **extra,
    )


def _fleet_view(checker: Checker) -> FleetView | None:
    fleet = checker.fleet
    return None if fleet is None else _on_the_fleet(fleet.view, None)


def _probe(checker: Checker, view: FleetView) -> bool:
    """Whether this check is the fleet's one probe of the open breaker, for this slot."""
    fleet = checker.fleet
    assert fleet is not None
    claimed = _on_the_fleet(lambda: fleet.claim_probe(view), False)
    if claimed:
        logger.info("probing the open breaker")
        metrics.add_metric(name="BreakerProbes", unit=MetricUnit.Count, value=1)
    return claimed


def _fleet_heard_an_answer(checker: Checker, view: FleetView | None) -> None:
    fleet = checker.fleet
    if fleet is None or view is None:
        return
    if _on_the_fleet(lambda: fleet.answered(view), False):
        logger.warning("the fleet's circuit breaker closed: Aspose answered the probe")
        metrics.add_metric(name="BreakerClosed", unit=MetricUnit.Count, value=1)


def _fleet_heard_nothing(checker: Checker, view: FleetView | None, exc: TransientError) -> None:
    """A non-answer from Aspose grows the fleet's run (a budget wait or unreadable credentials
    are not Aspose's); a 429 also lowers the fleet's rate."""
    fleet = checker.fleet
    if fleet is None or view is None:
        return
    if isinstance(exc, BudgetWaitError | CredentialsUnavailableError):
        return

    def count_it() -> bool:
        if isinstance(exc, AsposeThrottledError):
            fleet.lower_rate(view)
        return fleet.not_answered()

    if _on_the_fleet(count_it, False):
        logger.warning("the fleet's circuit breaker opened: a run of polls got no answer")
        metrics.add_metric(name="BreakerOpened", unit=MetricUnit.Count, value=1)


def _on_the_fleet(action: Callable[[], _T], otherwise: _T) -> _T:
    """What ``action`` reads or writes of the fleet's state; ``otherwise`` when that state cannot
    be reached (said in a warning and a metric). The fleet is a safeguard: the poll goes on as if
    nothing were open, claimed or counted."""
    try:
        return action()
    except StorageError as exc:
        logger.warning("fleet state unavailable", extra={"cause": type(exc).__name__})
        metrics.add_metric(name="FleetStateErrors", unit=MetricUnit.Count, value=1)
        return otherwise


def _elapsed(request: CheckRequest, checker: Checker) -> float:
    return (checker.now() - request.submitted_at).total_seconds()


def _on_time(request: CheckRequest, checker: Checker, deadline: Deadline) -> float:
    """Make up what the Wait state's whole seconds left of the wait (about a second at most), so
    the poll is made when it was due: a second of Lambda time costs less than a tenth of one
    poll's state transitions. Returns when this poll counts as made (seconds after submission):
    when it was due if it is on time, so the schedule keeps to its times rather than drifting by
    each poll's latency."""
    now = _elapsed(request, checker)
    early, made_at = on_time(request.poll_at, now)
    if early and deadline.remaining() <= early + 1:
        return now
    if early:
        checker.sleep(early)
    return made_at


def _learn(checker: Checker, request: CheckRequest, elapsed: float) -> None:
    """Teach polling when this task finished, counted from when the product first saw it (not
    from the submitter's clock): after the last poll that saw it running and by this one. Only
    a first submission's own run, announced on time, teaches. Best effort: learning never fails
    a poll."""
    if checker.history is None or request.kind is None or not request.teach:
        return
    offset = (request.received_at - request.submitted_at).total_seconds()
    observation = Observation(max(request.running_at - offset, 0.0), max(elapsed - offset, 0.0))
    try:
        checker.history.record(request.kind, observation)
    except HISTORY_ERRORS as exc:
        logger.warning("polling history not updated", extra={"cause": type(exc).__name__})
        metrics.add_metric(name="PollingHistoryErrors", unit=MetricUnit.Count, value=1)


def _cancel_when_asked(request: CheckRequest, checker: Checker, deadline: Deadline) -> None:
    """Cancel a task the service said was still running when we gave up (``CancelOnGiveUp``):
    best effort, never changes the outcome. Off by default: cancelling deletes results that a
    deliberate re-fetch could still find."""
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
