"""Starter: one Step Functions execution per submitted task, named after the task id.

Fed by the start queue, reporting partial batch failures (``ReportBatchItemFailures``). The first
accepted submission of a task fixes what it was submitted with (its facts, kept once in the
bucket); a duplicate or a re-fetch reads them and never changes them. A duplicate event for a
task whose execution is running or finished starts nothing and is not an error. A malformed
event starts nothing and is moved to the dead-letter queue at once with its reason (retrying it
cannot help); other failures go back to the queue, and on the last delivery to the dead-letter
queue with theirs, so nothing is lost without a reason. AWS throttling (Step Functions, S3) is
waited out instead: on the last delivery the event is sent to the start queue again, delayed,
until it starts or becomes too old to start (the event's age is checked on each delivery).

A batch keeps within its invocation's time: records on their last delivery go first, and none is
begun without time left for a slow one. Those not reached come back; on their last delivery they
are sent to the start queue again instead, so an invocation that runs out of time never leaves
SQS to dead-letter a batch without a reason (ten records at half a second each, or four while S3
throttles, would outlast the starter's 10 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from ocr_fetch import aws
from ocr_fetch.bucket import ResultBucket
from ocr_fetch.errors import (
    MAX_ERROR_MESSAGE_CHARS,
    InvalidEventError,
    StorageError,
    aws_error_code,
    clip,
    is_throttling,
)
from ocr_fetch.history import HISTORY_ERRORS, PollingHistory
from ocr_fetch.learning import (
    DurationSummary,
    PlanSettings,
    PollStart,
    history_key,
    plan_start,
    task_kind,
)
from ocr_fetch.observability import logger, metrics
from ocr_fetch.settings import StarterSettings
from ocr_fetch.submission import SubmittedFacts, SubmittedTask, parse_submitted_event

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


#: How long a throttled event waits before it is delivered again (SQS's longest delay).
REQUEUE_DELAY_SECONDS = 900
#: How long an event the invocation had no time for waits: long enough for what slowed the batch
#: (AWS, a busy account) to pass, short against a task's results lifetime.
NOT_REACHED_DELAY_SECONDS = 60
#: The time a record may take when AWS is slow: three throttled attempts of a call and their
#: backoff. No record is begun with less left than this, or than the slowest so far, plus
#: :data:`SEND_RESERVE_SECONDS`.
RECORD_RESERVE_SECONDS = 3.0
#: Kept for sending the records not reached on their last delivery back to the queue (one call).
SEND_RESERVE_SECONDS = 1.5


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Planner:
    """How each execution starts polling: from what was learnt of tasks of its kind in its
    scope (when a history table is set), the submitter's hint, and how long ago the task was
    submitted."""

    history: PollingHistory | None = None
    settings: PlanSettings = field(default_factory=PlanSettings)
    clock: Callable[[], datetime] = _utc_now

    def __call__(self, task: SubmittedTask, facts: SubmittedFacts) -> PollStart:
        kind = history_key(facts.history_scope, task_kind(facts.region_count or 0))
        learnt = DurationSummary()
        if self.history is not None:
            try:
                learnt = self.history.summary(kind)
            except HISTORY_ERRORS as exc:
                # Learning is an optimisation: without it the task is polled by the defaults.
                logger.warning("polling history unreadable", extra={"cause": type(exc).__name__})
                metrics.add_metric(name="PollingHistoryErrors", unit=MetricUnit.Count, value=1)
        age = (self.clock() - facts.submitted_at).total_seconds()
        return plan_start(kind, learnt, task.expected_seconds, age, self.settings)


@dataclass
class Starter:
    """Starts executions; clients are injectable, real ones by default."""

    state_machine_arn: str
    dead_letter_queue_url: str
    #: The start queue's maxReceiveCount: on the last receive a failure is dead-lettered here,
    #: with its reason, rather than by SQS without one.
    max_receives: int = 5
    #: Where a throttled event goes again, delayed (None: dead-lettered like any failure).
    start_queue_url: str | None = None
    sfn: Any = None
    sqs: Any = None
    planner: Callable[[SubmittedTask, SubmittedFacts], PollStart] = field(default_factory=Planner)
    #: Keeps each task's submitted facts, written once (None: not kept; the store function then
    #: labels regions by index only).
    bucket: ResultBucket | None = None
    clock: Callable[[], datetime] = _utc_now

    def __post_init__(self) -> None:
        self.sfn = self.sfn or aws.client("stepfunctions")
        self.sqs = self.sqs or aws.client("sqs")

    def handle(self, body: str, message_id: str | None = None, receives: int = 1) -> str:
        """Start the workflow for one message; return ``started``, ``duplicate`` or ``rejected``.

        A failure raises, so the message comes back for another try; on its last receive it goes
        to the dead-letter queue with the reason instead.
        """
        try:
            task = parse_submitted_event(body, self.clock())
        except InvalidEventError as exc:
            self._dead_letter(body, str(exc), message_id)
            return "rejected"
        try:
            return self.start(task)
        except Exception as exc:
            if receives < self.max_receives:
                raise
            if is_throttling(exc) and self.start_queue_url:
                self._again_later(body, exc)
                return "requeued"
            self._dead_letter(body, _why_not_started(exc, receives), message_id)
            return "rejected"

    def start(self, task: SubmittedTask) -> str:
        logger.set_correlation_id(task.task_id)
        facts = task.facts()
        if self.bucket is not None:
            facts, first = self.bucket.keep_facts(facts)
            if not first:
                logger.info("submitted facts kept from the first submission")
        start = self.planner(task, facts)
        try:
            answer = self.sfn.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=task.execution_name,
                input=task.execution_input_json(facts, start),
            )
        except ClientError as exc:
            if aws_error_code(exc) == "ExecutionAlreadyExists":
                logger.info(
                    "duplicate submission: execution exists",
                    extra={"execution_name": task.execution_name},
                )
                metrics.add_metric(name="DuplicateSubmissions", unit=MetricUnit.Count, value=1)
                return "duplicate"
            raise
        logger.info(
            "execution started",
            extra={
                "execution_arn": answer["executionArn"],
                "kind": start.kind,
                "plan": list(start.plan),
                "first_wait": start.first_wait_seconds,
            },
        )
        metrics.add_metric(name="ExecutionsStarted", unit=MetricUnit.Count, value=1)
        return "started"

    def _again_later(self, body: str, exc: Exception) -> None:
        """AWS asked us to slow down on every delivery: the event goes to the start queue again,
        delayed (a new message, so SQS counts its deliveries afresh)."""
        logger.warning(
            "throttled on every delivery: sent again later", extra={"cause": aws_error_code(exc)}
        )
        metrics.add_metric(name="SubmissionsRequeued", unit=MetricUnit.Count, value=1)
        self.sqs.send_message(
            QueueUrl=self.start_queue_url,
            MessageBody=_sendable(body),
            DelaySeconds=REQUEUE_DELAY_SECONDS,
        )

    def send_again(self, records: list[_Record], delay_seconds: int) -> list[str]:
        """Records the invocation had no time for on their last delivery, sent to the start queue
        again (dead-lettered with the reason where there is none); the ids of those not sent."""
        unsent: list[str] = []
        for record in records:
            try:
                if self.start_queue_url:
                    self.sqs.send_message(
                        QueueUrl=self.start_queue_url,
                        MessageBody=_sendable(record.body),
                        DelaySeconds=delay_seconds,
                    )
                else:
                    reason = f"the starter ran out of time on each of {record.receives} deliveries"
                    self._dead_letter(record.body, reason, record.message_id)
            except Exception as exc:  # left to SQS: the last resort
                logger.error(
                    "record not sent again",
                    extra={"message_id": record.message_id, "cause": type(exc).__name__},
                )
                unsent.append(record.message_id)
        return unsent

    def _dead_letter(self, body: str, reason: str, message_id: str | None) -> None:
        logger.warning("submission sent to the dead-letter queue", extra={"reason": reason})
        metrics.add_metric(name="MalformedSubmissions", unit=MetricUnit.Count, value=1)
        attributes = {
            "reason": {"DataType": "String", "StringValue": clip(reason, MAX_ERROR_MESSAGE_CHARS)}
        }
        if message_id:
            attributes["originalMessageId"] = {"DataType": "String", "StringValue": message_id}
        self.sqs.send_message(
            QueueUrl=self.dead_letter_queue_url,
            MessageBody=_sendable(body) or "(empty)",
            MessageAttributes=attributes,
        )


def _why_not_started(exc: Exception, receives: int) -> str:
    """The dead letter's reason when every delivery failed: what failed, by name."""
    if isinstance(exc, ClientError):
        return (
            f"StartExecution failed on each of {receives} deliveries, last with "
            f"{aws_error_code(exc)}"
        )
    if isinstance(exc, StorageError):
        return f"the submitted facts could not be kept on each of {receives} deliveries: {exc}"
    return f"the starter failed on each of {receives} deliveries, last with {type(exc).__name__}"


def _sendable(body: str) -> str:
    """The event as SQS takes it: a lone surrogate (refused as not Unicode) is escaped."""
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        return body.encode("utf-8", "backslashreplace").decode("utf-8")
    return body


@cache
def _starter() -> Starter:
    settings = StarterSettings.from_env()
    table = settings.polling_history_table
    planner = Planner(PollingHistory(table) if table else None, settings.planning)
    return Starter(
        settings.state_machine_arn,
        settings.dead_letter_queue_url,
        settings.start_queue_max_receives,
        settings.start_queue_url,
        planner=planner,
        bucket=ResultBucket(settings.results_bucket),
    )


@dataclass(frozen=True)
class _Record:
    message_id: str
    body: str
    receives: int

    @classmethod
    def of(cls, record: dict[str, Any]) -> _Record:
        attributes = record.get("attributes") or {}
        return cls(
            str(record.get("messageId", "")),
            str(record.get("body", "")),
            int(attributes.get("ApproximateReceiveCount") or 1),
        )


def process_batch(
    records: list[dict[str, Any]],
    starter: Callable[[], Starter],
    seconds_left: Callable[[], float] | None = None,
) -> list[str]:
    """Handle each SQS record; the message ids of those that failed, to be delivered again.

    Records on their last delivery go first. A record is begun only with time left for a slow
    one (``seconds_left``: the invocation's remaining time; None, no limit); those not reached
    are failures, except on their last delivery, when they are sent to the queue again. When
    every record failed the first failure is raised instead, so the invocation counts as an error
    and the whole batch comes back (what Powertools' batch processor does; it is not used because
    it imports asyncio, a third of a cold start, for a loop this simple).
    """
    pending = sorted((_Record.of(r) for r in records), key=lambda r: -r.receives)
    failed: list[str] = []
    first: Exception | None = None
    slowest = RECORD_RESERVE_SECONDS
    while pending and (seconds_left is None or seconds_left() > slowest + SEND_RESERVE_SECONDS):
        record = pending.pop(0)
        began = time.monotonic()
        try:
            starter().handle(record.body, record.message_id, record.receives)
        except Exception as exc:  # the record comes back; the others are not held up
            logger.warning(
                "record left for another delivery",
                extra={"message_id": record.message_id, "cause": type(exc).__name__},
            )
            failed.append(record.message_id)
            first = first or exc
        slowest = max(slowest, time.monotonic() - began)
    if pending:
        failed += _not_reached(pending, starter)
    if first is not None and len(failed) == len(records):
        raise first
    return failed


def _not_reached(pending: list[_Record], starter: Callable[[], Starter]) -> list[str]:
    """The records the invocation had no time for: those on their last delivery are sent to the
    start queue again (new messages, delayed); the others come back as they are."""
    logger.warning("out of time: records left for another delivery", extra={"count": len(pending)})
    metrics.add_metric(name="SubmissionsNotReached", unit=MetricUnit.Count, value=len(pending))
    last = [r for r in pending if r.receives >= starter().max_receives]
    failed = [r.message_id for r in pending if r not in last]
    if last:
        failed += starter().send_again(last, NOT_REACHED_DELAY_SECONDS)
    return failed


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failed = process_batch(
        list(event.get("Records") or ()),
        _starter,
        lambda: context.get_remaining_time_in_millis() / 1000,
    )
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
