"""Starter: one Step Functions execution per submitted task, named after the task id.

Fed by the start queue (Powertools batch processing, partial batch failures). A duplicate event for
a task whose execution is running or finished starts nothing and is not an error. A malformed
event starts nothing and is moved to the dead-letter queue at once with its reason (retrying it
cannot help, and it must not wait for redrive to be seen); only transient failures go back to the
queue for another try.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from ocr_fetch import aws
from ocr_fetch.errors import MAX_ERROR_MESSAGE_CHARS, InvalidEventError, aws_error_code, clip
from ocr_fetch.history import HISTORY_ERRORS, PollingHistory
from ocr_fetch.learning import DurationSummary, PlanSettings, PollStart, plan_start, task_kind
from ocr_fetch.observability import logger, metrics
from ocr_fetch.settings import get_settings
from ocr_fetch.submission import SubmittedTask, parse_submitted_event


@dataclass
class Planner:
    """How each execution starts polling: from what was learnt of tasks of its kind (when a
    history table is set), the submitter's hint, and how long ago the task was submitted."""

    history: PollingHistory | None = None
    settings: PlanSettings = field(default_factory=PlanSettings)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __call__(self, task: SubmittedTask) -> PollStart:
        kind = task_kind(len(task.region_names or ()))
        learnt = DurationSummary()
        if self.history is not None:
            try:
                learnt = self.history.summary(kind)
            except HISTORY_ERRORS as exc:
                # Learning is an optimisation: without it the task is polled by the defaults.
                logger.warning("polling history unreadable", extra={"cause": type(exc).__name__})
                metrics.add_metric(name="PollingHistoryErrors", unit=MetricUnit.Count, value=1)
        age = (self.clock() - task.submitted_at).total_seconds()
        return plan_start(kind, learnt, task.expected_seconds, age, self.settings)


@dataclass
class Starter:
    """Starts executions; clients are injectable, real ones by default."""

    state_machine_arn: str
    dead_letter_queue_url: str
    #: The start queue's maxReceiveCount: on the last receive a failure is dead-lettered here,
    #: with its reason, rather than by SQS without one.
    max_receives: int = 5
    sfn: Any = None
    sqs: Any = None
    planner: Callable[[SubmittedTask], PollStart] = field(default_factory=Planner)

    def __post_init__(self) -> None:
        self.sfn = self.sfn or aws.client("stepfunctions")
        self.sqs = self.sqs or aws.client("sqs")

    def handle(self, body: str, message_id: str | None = None, receives: int = 1) -> str:
        """Start the workflow for one message; return ``started``, ``duplicate`` or ``rejected``.

        A transient failure raises, so the message comes back for another try; on its last
        receive it goes to the dead-letter queue with the reason instead.
        """
        try:
            task = parse_submitted_event(body)
        except InvalidEventError as exc:
            self._dead_letter(body, str(exc), message_id)
            return "rejected"
        try:
            return self.start(task)
        except ClientError as exc:
            if receives < self.max_receives:
                raise
            reason = (
                f"StartExecution failed on each of {receives} deliveries, last with "
                f"{aws_error_code(exc)}"
            )
            self._dead_letter(body, reason, message_id)
            return "rejected"

    def start(self, task: SubmittedTask) -> str:
        logger.set_correlation_id(task.task_id)
        start = self.planner(task)
        try:
            answer = self.sfn.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=task.execution_name,
                input=task.execution_input_json(start),
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


def _sendable(body: str) -> str:
    """The event as SQS takes it: a lone surrogate (refused as not Unicode) is escaped."""
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        return body.encode("utf-8", "backslashreplace").decode("utf-8")
    return body


@cache
def _starter() -> Starter:
    settings = get_settings()
    state_machine_arn, dlq_url = settings.require_starter()
    table = settings.polling_history_table
    planner = Planner(PollingHistory(table) if table else None, settings.planning)
    return Starter(state_machine_arn, dlq_url, settings.start_queue_max_receives, planner=planner)


_processor = BatchProcessor(event_type=EventType.SQS)


def _record_handler(record: SQSRecord) -> str:
    receives = int(record.raw_event.get("attributes", {}).get("ApproximateReceiveCount") or 1)
    return _starter().handle(record.body, record.message_id, receives)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=_record_handler, processor=_processor, context=context
        )
    )
