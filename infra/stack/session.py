"""A typed client of one running stack, found from its outputs: on the local cloud or on AWS.

Everything that drives a deployed stack goes through :class:`StackSession`: announcing tasks on
the bus (the public start contract), finding and following a task's executions, reading the path
an execution took with its waits and polls, waiting for a task's outcome (the one wait of this
kind in the tree), reading the stored results and the dead letters. It knows the stack only by
its outputs and the product's public contract (event shapes, the S3 layout, the table), so the
same client serves ``make demo``, the benchmarks, the stress run, the tests and the CLI, locally
or against a deployed stack (``StackSession.for_stack(name)``).
"""

from __future__ import annotations

import functools
import itertools
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.stack.waiting import WaitTimeout, wait_until
from ocr_fetch.client import Credentials
from ocr_fetch.errors import InvalidEventError
from ocr_fetch.events import SOURCE as OUTCOME_SOURCE
from ocr_fetch.events import EventPublisher, build_submitted_detail
from ocr_fetch.layout import task_prefix
from ocr_fetch.storage import ResultStore
from ocr_fetch.submission import (
    SUBMITTED_DETAIL_TYPE,
    SubmittedTask,
    parse_submitted_event,
    parse_timestamp,
)

ClientFactory = Callable[[str], Any]
#: The Choice state that routes each poll's answer: its input holds the poll just made.
POLL_ROUTER = "Route On Task Status"
DEFAULT_STATE_FILE = Path(".local/stack.json")
RUNNING = "RUNNING"
#: Waiting on more executions than this, one listing is cheaper than a description each.
_LIST_INSTEAD_OF_DESCRIBE = 10
#: With an outcome subscription, tasks without an event are looked at every this many rounds.
_ROUNDS_BETWEEN_CHECKS = 5
#: How long a dead letter stays hidden while it is read or redriven (then it is released).
_DEAD_LETTER_HOLD_SECONDS = 30


@dataclass(frozen=True)
class StackOutputs:
    """The stack's outputs that its clients need (``template.yaml``'s ``Outputs``)."""

    event_bus_name: str
    state_machine_arn: str
    results_bucket: str
    results_table: str
    start_queue_url: str
    dead_letter_queue_url: str
    credentials_secret: str | None = None

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, str]) -> StackOutputs:
        try:
            return cls(
                event_bus_name=outputs["EventBusName"],
                state_machine_arn=outputs["StateMachineArn"],
                results_bucket=outputs["ResultsBucketName"],
                results_table=outputs["ResultsTableName"],
                start_queue_url=outputs["StartQueueUrl"],
                dead_letter_queue_url=outputs["DeadLetterQueueUrl"],
                credentials_secret=outputs.get("AsposeCredentialsSecret"),
            )
        except KeyError as missing:
            raise ValueError(f"the stack has no output {missing}: is it this product's?") from None


# --- what an execution did ---------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One state an execution entered, in order: a poll, a wait, a task, an end."""

    name: str
    kind: str  # the history's state type: Task, Wait, Choice, Pass, Succeed, Fail
    entered: datetime | None
    wait_seconds: int | None = None  # a Wait state's length
    poll: dict[str, Any] | None = None  # what a poll found (at the router: status, polls, ...)
    errors: tuple[str, ...] = ()  # errors of failed attempts inside this state (retried/caught)


@dataclass(frozen=True)
class Execution:
    """One execution: its status, error and the path it took."""

    arn: str
    name: str
    status: str
    started: datetime | None
    stopped: datetime | None
    error: str | None
    cause: str | None
    steps: tuple[Step, ...]
    history: tuple[dict[str, Any], ...] = field(repr=False)

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    def states_entered(self) -> list[str]:
        return [step.name for step in self.steps]

    def waits(self) -> list[int]:
        return [step.wait_seconds for step in self.steps if step.wait_seconds is not None]

    def polls(self) -> list[dict[str, Any]]:
        return [step.poll for step in self.steps if step.poll is not None]

    @property
    def polls_made(self) -> int:
        """How many polls it has made so far: the last poll's own count (a retried invocation
        enters the state again without polling again), else the polls in the history."""
        polls = self.polls()
        counted = polls[-1].get("polls") if polls else 0
        if isinstance(counted, int) and not isinstance(counted, bool):
            return counted
        return len(polls)

    @property
    def input(self) -> dict[str, Any]:
        """The execution input as the starter sent it: ids, the regions' count and where their
        names are kept, labels, and how polling starts (never the names themselves)."""
        for event in self.history:
            if event["type"] == "ExecutionStarted":
                found = _json(event["executionStartedEventDetails"].get("input"))
                return found if isinstance(found, dict) else {}
        return {}

    @property
    def outcome_event(self) -> dict[str, Any] | None:
        """The outcome event this execution published, as EventBridge delivers it (``id``,
        ``source``, ``detail-type``, ``time``, ``detail``), read back from the history; None
        when it published none (yet)."""
        return published_event(list(self.history))


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from ``start`` to ``end`` (to the millisecond); None when either is unknown."""
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def execution_path(history: list[dict[str, Any]]) -> tuple[Step, ...]:
    """The states entered, in order, with wait lengths, poll answers and failed attempts."""
    steps: list[Step] = []
    errors: list[str] = []
    for event in history:
        kind = str(event["type"])
        if kind in ("TaskFailed", "LambdaFunctionFailed") and steps:
            details: dict[str, Any] = next(
                (v for k, v in event.items() if k.endswith("EventDetails")), {}
            )
            errors.append(str(details.get("error", "error")))
            steps[-1] = _with_errors(steps[-1], errors)
            continue
        if not kind.endswith("StateEntered"):
            continue
        errors = []
        details = event["stateEnteredEventDetails"]
        state_input = _json(details.get("input"))
        poll = state_input.get("poll") if isinstance(state_input, dict) else None
        steps.append(
            Step(
                name=str(details["name"]),
                kind=kind.removesuffix("StateEntered"),
                entered=event.get("timestamp"),
                wait_seconds=_int(poll.get("waitSeconds"))
                if kind == "WaitStateEntered" and isinstance(poll, dict)
                else None,
                poll=poll if details["name"] == POLL_ROUTER and isinstance(poll, dict) else None,
            )
        )
    return tuple(steps)


def published_event(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The event a successful ``events:putEvents`` task of the history put on the bus."""
    entry: dict[str, Any] | None = None
    for event in history:
        details = event.get("taskScheduledEventDetails") or {}
        if details.get("resource") == "putEvents":
            parameters = _json(details.get("parameters"))
            entries = parameters.get("Entries") if isinstance(parameters, dict) else None
            entry = entries[0] if isinstance(entries, list) and entries else None
            continue
        succeeded = event.get("taskSucceededEventDetails") or {}
        if entry is not None and succeeded.get("resource") == "putEvents":
            answer = _json(succeeded.get("output"))
            ids = [e.get("EventId") for e in (answer or {}).get("Entries", [])]
            detail = entry.get("Detail")
            return {
                "id": ids[0] if ids else None,
                "source": entry.get("Source"),
                "detail-type": entry.get("DetailType"),
                "time": _iso(event.get("timestamp")),
                "detail": _json(detail) if isinstance(detail, str) else detail,
            }
    return None


def _with_errors(step: Step, errors: list[str]) -> Step:
    return Step(step.name, step.kind, step.entered, step.wait_seconds, step.poll, tuple(errors))


# --- outcomes and dead letters -----------------------------------------------------------------
@dataclass
class TaskOutcome:
    """How a task ended: its outcome event (when subscribed), and, read when first asked for,
    its execution (with its history) and its table item."""

    task_id: str
    execution_arn: str
    event: dict[str, Any] | None
    session: StackSession = field(repr=False, compare=False)

    @functools.cached_property
    def execution(self) -> Execution:
        return self.session.execution(self.execution_arn)

    @functools.cached_property
    def item(self) -> dict[str, Any] | None:
        return self.session.item(self.task_id)

    @property
    def published(self) -> datetime | None:
        """When the outcome event was put on the bus."""
        if self.event is None:
            return None
        return parse_timestamp(self.event["time"])

    @property
    def status(self) -> str | None:
        """The recorded outcome (``Completed``, ``Failed``, ``NotFound``, ``TimedOut``)."""
        if self.event is not None:
            return str(self.event["detail"]["status"])
        return str(self.item["status"]) if self.item else None

    @property
    def detail_type(self) -> str | None:
        return str(self.event["detail-type"]) if self.event is not None else None


@dataclass(frozen=True)
class DeadLetter:
    """A submitted event that started nothing, and why.

    The starter sets ``reason`` when it refuses an event, or when starting it failed on its last
    delivery. A message SQS moved by itself (every delivery failed, the starter crashed, say) has
    none: :attr:`why` then says what is known.
    """

    message_id: str
    body: str
    reason: str | None
    receive_count: int
    attributes: dict[str, str]
    sent: datetime | None = None

    @property
    def why(self) -> str:
        if self.reason:
            return self.reason
        return (
            "no reason recorded: moved by SQS once its deliveries had all failed (the starter "
            "crashed, timed out or was throttled each time); see the starter's logs"
        )

    @property
    def problem(self) -> str | None:
        """Why the starter would refuse the event today (the same check it makes), else None:
        only an event without a problem can succeed when sent again."""
        try:
            parse_submitted_event(self.body)
        except InvalidEventError as error:
            return str(error)
        return None

    @property
    def task_id(self) -> str | None:
        """The task id the event names, when it names one as a string."""
        event = _json(self.body)
        detail = event.get("detail") if isinstance(event, dict) else None
        task_id = detail.get("taskId") if isinstance(detail, dict) else None
        return task_id if isinstance(task_id, str) else None


@dataclass(frozen=True)
class Redrive:
    """What a redrive of the dead-letter queue did: sent back to the start queue, or left."""

    sent: tuple[DeadLetter, ...]
    kept: tuple[DeadLetter, ...]


@dataclass(frozen=True)
class StoredObject:
    """One object stored for a task: its key, size and content type."""

    key: str
    size: int
    content_type: str
    last_modified: datetime | None

    @property
    def name(self) -> str:
        """The key without the task's prefix (``raw.json``, ``0-surname.txt``...)."""
        return self.key.rsplit("/", 1)[-1]


class OutcomeSubscription:
    """A queue receiving the stack's outcome events, as a downstream consumer would."""

    def __init__(self, session: StackSession, name: str) -> None:
        self._session = session
        self.name = name
        sqs = session.client("sqs")
        self.queue_url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events = session.client("events")
        bus = session.outputs.event_bus_name
        events.put_rule(
            Name=name, EventBusName=bus, EventPattern=json.dumps({"source": [OUTCOME_SOURCE]})
        )
        events.put_targets(
            Rule=name, EventBusName=bus, Targets=[{"Id": "consumer", "Arn": queue_arn}]
        )
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def events_for(self, task_id: str) -> list[dict[str, Any]]:
        """Every outcome event for ``task_id`` that has arrived."""
        self.drain()
        return self.received(task_id)

    def received(self, task_id: str) -> list[dict[str, Any]]:
        """The outcome events for ``task_id`` received by earlier :meth:`drain` calls."""
        with self._lock:
            return list(self._events.get(task_id, []))

    def all_events(self) -> list[dict[str, Any]]:
        self.drain()
        with self._lock:
            return [event for events in self._events.values() for event in events]

    def drain(self) -> None:
        sqs = self._session.client("sqs")
        while True:
            messages = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                event = json.loads(message["Body"])
                task_id = str(event.get("detail", {}).get("taskId"))
                with self._lock:
                    self._events.setdefault(task_id, []).append(event)
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )


# --- the session -------------------------------------------------------------------------------
class StackSession:
    """Drives and reads one deployed stack through its public contract."""

    def __init__(
        self,
        outputs: StackOutputs,
        client: ClientFactory,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self.outputs = outputs
        #: The stack's parameters, when known (a deployed stack's, from DescribeStacks).
        self.parameters: dict[str, str] = dict(parameters or {})
        self._client = client
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    # -- finding a stack -------------------------------------------------------------------------
    @classmethod
    def from_outputs(cls, outputs: Mapping[str, str], client: ClientFactory) -> StackSession:
        """A stack known by its outputs, reached with ``client(service)`` (a local cloud's)."""
        return cls(StackOutputs.from_outputs(outputs), client)

    @classmethod
    def from_state_file(cls, path: Path = DEFAULT_STATE_FILE) -> StackSession:
        """The stack ``make local`` is running (it writes ``.local/stack.json``)."""
        return cls.from_state(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> StackSession:
        """The stack a local cloud's state (``.local/stack.json``, read) describes."""
        import boto3

        arguments = {
            "region_name": state["region"],
            "endpoint_url": state["awsEndpoint"],
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        return cls(
            StackOutputs.from_outputs(state["outputs"]),
            lambda service: boto3.client(service, **arguments),
        )

    @classmethod
    def for_stack(cls, stack_name: str, boto_session: Any = None) -> StackSession:
        """A deployed stack on AWS, by name (the usual profile and region, or ``boto_session``)."""
        import boto3

        session = boto_session or boto3.session.Session()
        described = session.client("cloudformation").describe_stacks(StackName=stack_name)
        stack = described["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        parameters = {
            p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", ""))
            for p in stack.get("Parameters", [])
        }
        return cls(StackOutputs.from_outputs(outputs), session.client, parameters)

    def client(self, service: str) -> Any:
        """One client per service, shared by this session's threads (boto3 clients are)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._client(service)
            return self._clients[service]

    # -- announcing ------------------------------------------------------------------------------
    def announce(
        self,
        task_id: str,
        region_names: list[str | None] | None = None,
        *,
        correlation_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        source: str = "ocr-results",
    ) -> str:
        """Put a ``Region Recognition Submitted`` event on the bus; return its event id."""
        publisher = EventPublisher(self.outputs.event_bus_name, client=self.client("events"))
        return publisher.publish_submitted(
            task_id, region_names or [], correlation_id, metadata, source=source
        )

    def announce_detail(self, detail: Mapping[str, Any] | str, source: str = "tests") -> None:
        """Put a submitted event with any detail at all (a refetch, or a malformed one)."""
        answer = self.client("events").put_events(
            Entries=[
                {
                    "EventBusName": self.outputs.event_bus_name,
                    "Source": source,
                    "DetailType": SUBMITTED_DETAIL_TYPE,
                    "Detail": detail if isinstance(detail, str) else json.dumps(detail),
                }
            ]
        )
        if answer["FailedEntryCount"]:
            raise RuntimeError(f"EventBridge refused the event: {answer['Entries']}")

    def announce_refetch(
        self, task_id: str, label: str, submission: Mapping[str, Any], source: str = "ocr-results"
    ) -> str:
        """Announce ``task_id`` again with ``refetch: label``: an execution named
        ``<taskId>-<label>`` fetches it anew. ``submission`` is what the task was announced with
        (``regions`` with their names, or None when unknown; ``correlationId``; ``metadata``),
        carried over. Returns the execution name."""
        regions = submission.get("regions")
        detail = build_submitted_detail(
            task_id,
            [r.get("name") if isinstance(r, dict) else None for r in regions or []],
            submission.get("correlationId"),
            submission.get("metadata"),
        )
        if regions is None:
            del detail["regions"]  # unknown: stored by index, not as zero regions
        detail["refetch"] = label
        self.announce_detail(detail, source=source)
        return f"{task_id}-{label}"

    def start_execution(self, task: SubmittedTask) -> str:
        """Start the state machine for ``task`` directly, as the starter would: its region names
        kept by reference first."""
        names_key = None
        if task.region_names is not None:
            store = ResultStore(
                self.outputs.results_bucket, self.outputs.results_table, s3=self.client("s3")
            )
            names_key = store.put_region_names(task.task_id, task.region_names)
        answer = self.client("stepfunctions").start_execution(
            stateMachineArn=self.outputs.state_machine_arn,
            name=task.execution_name,
            input=task.execution_input_json(region_names_key=names_key),
        )
        arn: str = answer["executionArn"]
        return arn

    # -- executions ------------------------------------------------------------------------------
    def executions(self, task_id: str | None = None) -> list[dict[str, Any]]:
        """Summaries of the task's executions (named ``<taskId>`` or ``<taskId>-<refetch>``),
        or of every execution; newest first."""
        paginator = self.client("stepfunctions").get_paginator("list_executions")
        found = [
            execution
            for page in paginator.paginate(stateMachineArn=self.outputs.state_machine_arn)
            for execution in page["executions"]
            if task_id is None
            or execution["name"] == task_id
            or execution["name"].startswith(task_id + "-")
        ]
        found.sort(key=lambda e: e["startDate"], reverse=True)
        return found

    def list_executions(
        self,
        *,
        status: str | None = None,
        started_after: datetime | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Summaries of the state machine's executions, newest first, as ListExecutions pages
        them (``status`` filters on the service's side), stopping at the first one started
        before ``started_after``."""
        paginator = self.client("stepfunctions").get_paginator("list_executions")
        arguments: dict[str, Any] = {"stateMachineArn": self.outputs.state_machine_arn}
        if status:
            arguments["statusFilter"] = status
        for page in paginator.paginate(**arguments):
            for execution in page["executions"]:
                if started_after is not None and execution["startDate"] < started_after:
                    return
                yield execution

    def describe_execution(self, execution_name: str) -> dict[str, Any] | None:
        """DescribeExecution of this state machine's execution named ``execution_name``, or None
        when there is none."""
        sfn = self.client("stepfunctions")
        try:
            described: dict[str, Any] = sfn.describe_execution(
                executionArn=self.execution_arn(execution_name)
            )
        except sfn.exceptions.ExecutionDoesNotExist:
            return None
        return described

    def definition(self) -> dict[str, Any]:
        """The deployed state machine's definition (Amazon States Language, parsed)."""
        described = self.client("stepfunctions").describe_state_machine(
            stateMachineArn=self.outputs.state_machine_arn
        )
        definition: dict[str, Any] = json.loads(described["definition"])
        return definition

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """Every history event of an execution, oldest first."""
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**arguments)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            arguments["nextToken"] = page["nextToken"]

    def execution(self, execution_arn: str) -> Execution:
        described = self.client("stepfunctions").describe_execution(executionArn=execution_arn)
        history = self.history(execution_arn)
        return Execution(
            arn=execution_arn,
            name=str(described["name"]),
            status=str(described["status"]),
            started=described.get("startDate"),
            stopped=described.get("stopDate"),
            error=described.get("error"),
            cause=described.get("cause"),
            steps=execution_path(history),
            history=tuple(history),
        )

    def wait_for_execution(self, execution_arn: str, timeout: float = 90) -> Execution:
        """The execution once it has left RUNNING."""
        sfn = self.client("stepfunctions")

        def ended() -> bool:
            status: str = sfn.describe_execution(executionArn=execution_arn)["status"]
            return status != RUNNING

        wait_until(ended, timeout=timeout, what=f"execution {execution_arn} to end", every=0.2)
        return self.execution(execution_arn)

    # -- outcomes --------------------------------------------------------------------------------
    def subscribe_outcomes(self, name: str = "ocr-results-outcomes") -> OutcomeSubscription:
        return OutcomeSubscription(self, name)

    def execution_arn(self, execution_name: str) -> str:
        """The ARN an execution of this stack's state machine named ``execution_name`` has."""
        machine = self.outputs.state_machine_arn
        return machine.replace(":stateMachine:", ":execution:", 1) + ":" + execution_name

    def wait_for_outcome(
        self,
        task_id: str,
        *,
        timeout: float = 90,
        subscription: OutcomeSubscription | None = None,
        execution_name: str | None = None,
    ) -> TaskOutcome:
        """How the task ended; see :meth:`wait_for_outcomes`."""
        names = {task_id: execution_name or task_id}
        return self.wait_for_outcomes(names, timeout=timeout, subscription=subscription)[task_id]

    def wait_for_outcomes(
        self,
        tasks: Mapping[str, str] | list[str],
        *,
        timeout: float = 90,
        subscription: OutcomeSubscription | None = None,
        progress: Callable[[], None] | None = None,
    ) -> dict[str, TaskOutcome]:
        """How each task ended (``tasks``: ids, or id -> execution name for a re-fetch).

        A task has ended once its execution has left RUNNING and, with a subscription, its
        outcome event has arrived (an execution that ended without publishing one, such as
        ``Outcome Not Published``, has ended too). ``progress`` is called at every round, to
        show how the tasks are doing. Raises :class:`WaitTimeout` naming where the late tasks
        stand.
        """
        names = dict(tasks) if isinstance(tasks, Mapping) else {t: t for t in tasks}
        ended: dict[str, tuple[str, dict[str, Any] | None]] = {}

        rounds = itertools.count()

        def all_ended() -> bool:
            if progress is not None:
                progress()
            if subscription is not None:
                subscription.drain()
            pending = {t: n for t, n in names.items() if t not in ended}
            # A task with an outcome event has ended, or is about to: look at it now. One
            # without may have ended without publishing: look at those every few rounds.
            check = {t: n for t, n in pending.items() if subscription and subscription.received(t)}
            if subscription is None or next(rounds) % _ROUNDS_BETWEEN_CHECKS == 0:
                check = pending
            statuses = self._statuses(list(check.values()))
            for task_id, name in check.items():
                state = self._ended(task_id, statuses.get(name), subscription)
                if state is not None:
                    ended[task_id] = state
            return len(ended) == len(names)

        try:
            # Many tasks: one listing a second; a few: a description each, five times a second.
            every = 0.2 if len(names) <= _LIST_INSTEAD_OF_DESCRIBE else 1.0
            wait_until(
                all_ended, timeout=timeout, what=f"outcomes of {len(names)} tasks", every=every
            )
        except WaitTimeout as error:
            late = [t for t in names if t not in ended][:5]
            diagnosis = "; ".join(f"{t}: {self.diagnose(t)}" for t in late)
            raise WaitTimeout(f"{error}; {diagnosis}") from None
        return {
            task_id: TaskOutcome(task_id, arn, event, self)
            for task_id, (arn, event) in ended.items()
        }

    def _statuses(self, execution_names: list[str]) -> dict[str, tuple[str, str]]:
        """``name -> (arn, status)`` of the named executions that exist: one listing for many
        names, one description each for a few."""
        sfn = self.client("stepfunctions")
        wanted = set(execution_names)
        if len(wanted) > _LIST_INSTEAD_OF_DESCRIBE:
            return {
                e["name"]: (e["executionArn"], e["status"])
                for e in self.executions()
                if e["name"] in wanted
            }
        found = {}
        for name in wanted:
            arn = self.execution_arn(name)
            try:
                found[name] = (arn, str(sfn.describe_execution(executionArn=arn)["status"]))
            except sfn.exceptions.ExecutionDoesNotExist:
                continue  # not started yet
        return found

    def _ended(
        self,
        task_id: str,
        execution: tuple[str, str] | None,
        subscription: OutcomeSubscription | None,
    ) -> tuple[str, dict[str, Any] | None] | None:
        """``(execution ARN, outcome event)`` once the task has ended, else None."""
        events = subscription.received(task_id) if subscription is not None else []
        if events:
            arn = str(events[-1]["detail"]["executionArn"])
            if execution is not None and execution[0] == arn and execution[1] == RUNNING:
                return None  # published; its last states are still running
            return arn, events[-1]
        if execution is None or execution[1] == RUNNING:
            return None
        if subscription is not None and _published(self, execution[0]):
            return None  # published: the event is on its way to the queue
        return execution[0], None

    def diagnose(self, task_id: str) -> str:
        """Where a task's workflow stands: its executions and the last states they entered."""
        executions = self.executions(task_id)
        if not executions:
            return "no execution was started for it"
        parts = []
        for summary in executions:
            execution = self.execution(summary["executionArn"])
            tail = [
                step.name + (f" ({', '.join(step.errors)})" if step.errors else "")
                for step in execution.steps[-4:]
            ]
            parts.append(f"execution {execution.name} {execution.status}, last states {tail}")
        return "; ".join(parts)

    # -- stored results --------------------------------------------------------------------------
    def item(self, task_id: str) -> dict[str, Any] | None:
        """The task's table item, as plain JSON values (numbers as int or float)."""
        answer = self.client("dynamodb").get_item(
            TableName=self.outputs.results_table,
            Key={"taskId": {"S": task_id}},
            ConsistentRead=True,
        )
        return _plain_item(answer["Item"]) if "Item" in answer else None

    def items(self, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The table items of the tasks that have one, by task id (BatchGetItem, 100 at a time:
        never a scan)."""
        dynamodb = self.client("dynamodb")
        table = self.outputs.results_table
        found: dict[str, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(task_ids))
        for start in range(0, len(wanted), 100):
            keys: list[dict[str, Any]] = [{"taskId": {"S": t}} for t in wanted[start : start + 100]]
            while keys:
                answer = dynamodb.batch_get_item(
                    RequestItems={table: {"Keys": keys, "ConsistentRead": True}}
                )
                for raw in answer.get("Responses", {}).get(table, []):
                    item = _plain_item(raw)
                    found[str(item["taskId"])] = item
                keys = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
        return found

    def stored_objects(self, task_id: str) -> list[StoredObject]:
        """Every object stored for the task, sorted by key, with its size and content type."""
        s3 = self.client("s3")
        bucket = self.outputs.results_bucket
        found = []
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=task_prefix(task_id)):
            for obj in page.get("Contents", []):
                head = s3.head_object(Bucket=bucket, Key=obj["Key"])
                found.append(
                    StoredObject(
                        key=obj["Key"],
                        size=int(obj["Size"]),
                        content_type=str(head.get("ContentType", "")),
                        last_modified=obj.get("LastModified"),
                    )
                )
        return sorted(found, key=lambda o: o.key)

    def object_keys(self, task_id: str) -> list[str]:
        """Every stored object of the task (``results/<taskId>/...``), sorted."""
        paginator = self.client("s3").get_paginator("list_objects_v2")
        return sorted(
            obj["Key"]
            for page in paginator.paginate(
                Bucket=self.outputs.results_bucket, Prefix=task_prefix(task_id)
            )
            for obj in page.get("Contents", [])
        )

    def read_object(self, key: str) -> tuple[bytes, str]:
        """An object's bytes and content type."""
        answer = self.client("s3").get_object(Bucket=self.outputs.results_bucket, Key=key)
        body: bytes = answer["Body"].read()
        return body, str(answer.get("ContentType", ""))

    def manifest(self, task_id: str) -> dict[str, Any] | None:
        """The task's manifest (what each stored region is), if the task completed."""
        item = self.item(task_id)
        key = (item or {}).get("manifestKey")
        return self.manifest_at(str(key)) if key else None

    def manifest_at(self, key: str) -> dict[str, Any] | None:
        """The manifest stored at ``key`` (an item's ``manifestKey``), if it is there."""
        s3 = self.client("s3")
        try:
            body, _ = self.read_object(key)
        except s3.exceptions.NoSuchKey:
            return None
        manifest: dict[str, Any] = json.loads(body)
        return manifest

    # -- secrets ---------------------------------------------------------------------------------
    def aspose_credentials(self) -> Credentials:
        """The Aspose credentials in the stack's secret (``AsposeCredentialsSecret``);
        ``CredentialsNotConfigured`` while it holds the placeholder."""
        name = self.outputs.credentials_secret
        if not name:
            raise ValueError("the stack has no output AsposeCredentialsSecret")
        answer = self.client("secretsmanager").get_secret_value(SecretId=name)
        value = _json(answer.get("SecretString"))
        return Credentials.from_mapping(value if isinstance(value, dict) else {}, f"secret {name}")

    # -- dead letters ----------------------------------------------------------------------------
    def dead_letters(self, *, consume: bool = False, limit: int = 100) -> list[DeadLetter]:
        """Messages in the dead-letter queue; ``consume`` deletes the ones read, the others are
        left there, visible again."""
        held = self._hold_dead_letters(limit)
        sqs = self.client("sqs")
        url = self.outputs.dead_letter_queue_url
        if consume:
            for _, receipt in held:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=receipt)
        else:
            self._release([receipt for _, receipt in held])
        return [letter for letter, _ in held]

    def redrive_dead_letters(self, message_ids: Sequence[str] | None = None) -> Redrive:
        """Send back to the start queue, unchanged, the dead letters (all, or those named) the
        starter would accept now; leave the others where they are, listed with their reason, so
        a malformed event never goes round again."""
        sqs = self.client("sqs")
        url = self.outputs.dead_letter_queue_url
        held = self._hold_dead_letters(limit=10_000)
        sent: list[DeadLetter] = []
        kept: list[DeadLetter] = []
        deleted: set[str] = set()
        try:
            for letter, receipt in held:
                chosen = message_ids is None or letter.message_id in message_ids
                if chosen and letter.problem is None:
                    sqs.send_message(QueueUrl=self.outputs.start_queue_url, MessageBody=letter.body)
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=receipt)
                    deleted.add(receipt)
                    sent.append(letter)
                elif chosen:
                    kept.append(letter)
        finally:
            self._release([receipt for _, receipt in held if receipt not in deleted])
        return Redrive(tuple(sent), tuple(kept))

    def _hold_dead_letters(self, limit: int) -> list[tuple[DeadLetter, str]]:
        """Up to ``limit`` dead letters with their receipt handles, each hidden while held, so
        that every one is read once however many there are."""
        sqs = self.client("sqs")
        found: dict[str, tuple[DeadLetter, str]] = {}
        while len(found) < limit:
            messages = sqs.receive_message(
                QueueUrl=self.outputs.dead_letter_queue_url,
                MaxNumberOfMessages=min(10, limit - len(found)),
                WaitTimeSeconds=0,
                VisibilityTimeout=_DEAD_LETTER_HOLD_SECONDS,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            new = [m for m in messages if m["MessageId"] not in found]
            if not new:
                break
            for message in new:
                found[message["MessageId"]] = (_dead_letter(message), message["ReceiptHandle"])
        return list(found.values())

    def _release(self, receipts: Sequence[str]) -> None:
        """Make held dead letters visible again at once."""
        sqs = self.client("sqs")
        for start in range(0, len(receipts), 10):
            sqs.change_message_visibility_batch(
                QueueUrl=self.outputs.dead_letter_queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": receipt, "VisibilityTimeout": 0}
                    for i, receipt in enumerate(receipts[start : start + 10])
                ],
            )


def _dead_letter(message: dict[str, Any]) -> DeadLetter:
    attributes = {
        name: str(value.get("StringValue"))
        for name, value in message.get("MessageAttributes", {}).items()
    }
    system = message.get("Attributes", {})
    sent = system.get("SentTimestamp")
    return DeadLetter(
        message_id=message["MessageId"],
        body=message["Body"],
        reason=attributes.get("reason"),
        receive_count=int(system.get("ApproximateReceiveCount", 0)),
        attributes=attributes,
        sent=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
    )


def _plain_item(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain JSON values (numbers as int or float)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    item = {k: deserializer.deserialize(v) for k, v in raw.items()}
    plain: dict[str, Any] = json.loads(json.dumps(item, default=_plain_number))
    return plain


def _iso(moment: Any) -> str | None:
    """A timestamp as ISO 8601 UTC (``...Z``), or None."""
    if not isinstance(moment, datetime):
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _published(session: StackSession, execution_arn: str) -> bool:
    """Whether the ended execution published its outcome event (which is then due): the state
    after ``Publish Outcome Event`` was entered."""
    steps = execution_path(session.history(execution_arn))
    return any(step.name == "Is Recognition Completed?" for step in steps)


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _plain_number(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
