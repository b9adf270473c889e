"""Nothing lost, by invariants: the real handlers, run by the real state machine definition,
through any interleaving of submissions, answers, clock and faults that hypothesis can draw.

The workflow, as modelled here:

- Submissions are SQS messages delivered to the starter's handler; a failed record stays queued
  (its receive count grows) for a later delivery rule. ``StartExecution`` goes to
  :class:`~tests.support.fake_aws.RecordingStepFunctions` (AWS's name uniqueness), which starts
  the execution in :class:`~tests.support.asl.Interpreter`.
- The interpreter runs ``statemachine/region_results.asl.json`` itself: each Task's payload is its
  ``Parameters`` resolved against the execution's state, the handler is the one template.yaml
  names for its ``FunctionName``, and the result goes through ``ResultSelector``/``ResultPath``;
  Choices, Waits, Retry and Catch are read from the definition. A handler's exception is what
  Lambda reports (its class name as the Error, the runtime's JSON as the Cause).
- S3, DynamoDB, SQS and Secrets Manager are moto's; chosen calls are refused as AWS refuses them
  (:class:`~tests.support.fake_aws.AwsFaults`). Aspose is
  :class:`~tests.support.fake_aspose.FakeAspose` behind ``responses``, answering each poll as a
  rule chose and keeping the ground truth.
- The clock is time-machine's, frozen but for the rules that move it, the Wait states, the
  retries' delays, and the check function's own make-up sleep (its ``sleep`` moves the clock).

Invariants, checked after every rule and after every handler invocation (the state ones after
every transition of every execution):

1. The stored facts (``submitted.json``) and every stored manifest's names are those of the
   first accepted submission (the first whose facts write went through), and only the starter
   writes the facts.
2. A task whose item says Completed: its ``rawKey`` exists under the recording run's prefix and
   is, byte for byte, a Completed answer the service served for this task; each stored region
   object equals what that answer's region decodes to, and exactly the corrupt ones are errors.
3. No outcome is ever downgraded: the item's (rank, regions decoded) never decreases.
4. Every execution state (and every Fail's cause) is at most ``STATE_BUDGET_BYTES`` of UTF-8 JSON.
5. No recognised text (as sent or as Base64) and no client secret appears in any state, cause,
   log line, metric line, outcome event, exception message, item, facts or manifest.

And three that part A of issue 17 promises: an execution fails uncaught only with an error its
state retries (transient, named, ready for redrive), never ``States.Runtime`` or a Python error;
a task gives up early only on what the service said (``ResultsLifetimeReached`` only at the
lifetime); and a cancel goes only to a task whose last answer was "still running".
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import json
import logging
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
import pytest
import responses
import time_machine
from boto3.dynamodb.types import TypeDeserializer
from hypothesis import HealthCheck, Phase, currently_in_test_context, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from moto import mock_aws

from infra.local.cloud.lambda_worker import LambdaContext
from ocr_fetch import checking
from ocr_fetch.handlers import check_status
from ocr_fetch.handlers.workflow_state import STATE_BUDGET_BYTES
from ocr_fetch.layout import run_prefix, submitted_key
from ocr_fetch.observability import logger as product_logger
from ocr_fetch.polling import MAKE_UP_SECONDS, GiveUpReason
from ocr_fetch.submission import SUBMITTED_DETAIL_TYPE, iso
from tests.support.asl import Execution, Interpreter, Status, Step, TaskFailed
from tests.support.cold_start import cold_start
from tests.support.fake_aspose import (
    CORRUPTIONS,
    RUNNING,
    TOKEN_PATH,
    Answer,
    Completed,
    Deep,
    Failed,
    FakeAspose,
    Huge,
    NotExist,
    OtherTask,
    Region,
    Running,
    ServerError,
    Throttled,
    Truncated,
    UnknownStatus,
)
from tests.support.fake_aws import (
    AwsFaults,
    Call,
    Fault,
    RecordingStepFunctions,
    StartedExecution,
    install,
)
from tests.support.leaks import LeakScanner
from tests.support.template import state_machine_definition
from tests.unit.fixtures_aws import BUCKET, REGION, TABLE, create_results_bucket_and_table

DEFINITION, FUNCTIONS = state_machine_definition()
#: What the definition retries: the only errors an execution may fail with, uncaught.
RETRIED = frozenset(
    name
    for state in DEFINITION["States"].values()
    for retrier in state.get("Retry", [])
    for name in retrier["ErrorEquals"]
)
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
PUT_EVENTS = "arn:aws:states:::events:putEvents"
STARTER = "ocr_fetch.handlers.starter.handler"
CHECK = "ocr_fetch.handlers.check_status.handler"

TASKS = ("2ce30237-86da-41ef-88e9-84f0b7acffc0", "9a4b7f10-3c2d-4e5f-8a9b-0c1d2e3f4a5b")
FOREIGN_TASK = "11111111-2222-4333-8444-555555555555"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BASE_URL = "https://aspose.test"
SECRET_NAME = "aspose-credentials"
FIRST_CREDENTIALS = ("client-first", "Sk-first-5e1c0ffee0ddba11")
MACHINE_ARN = f"arn:aws:states:{REGION}:123456789012:stateMachine:RegionResults"
#: Small, so that the running deadline, the poll budget and the lifetime are all reached.
LIFETIME_SECONDS = 60
MAX_RESPONSE_BYTES = 16 * 1024
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "RESULTS_BUCKET": BUCKET,
    "RESULTS_TABLE": TABLE,
    "STATE_MACHINE_ARN": MACHINE_ARN,
    "ASPOSE_SECRET_NAME": SECRET_NAME,
    "ASPOSE_BASE_URL": BASE_URL,
    "ASPOSE_TOKEN_URL": BASE_URL + TOKEN_PATH,
    "MAX_RESPONSE_BYTES": str(MAX_RESPONSE_BYTES),
    "CANCEL_ON_GIVE_UP": "true",
    "POLL_INITIAL_SECONDS": "2",
    "POLL_MULTIPLIER": "2",
    "POLL_MAX_INTERVAL_SECONDS": "8",
    "POLL_DEADLINE_SECONDS": "20",
    "POLL_MAX_POLLS": "5",
    "RESULTS_LIFETIME_SECONDS": str(LIFETIME_SECONDS),
}
REQUEST_ID = "00000000-0000-4000-8000-000000000000"


# --- What the rules draw ----------------------------------------------------------------------
@dataclass(frozen=True)
class Submission:
    """A ``Region Recognition Submitted`` event, as a submitter (or a hostile one) sends it."""

    task_id: str
    names: tuple[str | None, ...] | None
    correlation_id: str | None = None
    metadata: dict[str, Any] | None = None
    lag_seconds: int = 0
    shout: bool = False
    expected_seconds: int | None = None
    refetch: str | None = None

    def event(self, event_id: str, now: datetime) -> str:
        detail: dict[str, Any] = {"taskId": self.task_id.upper() if self.shout else self.task_id}
        optional = {
            "regions": None if self.names is None else [{"name": name} for name in self.names],
            "correlationId": self.correlation_id,
            "metadata": self.metadata,
            "expectedSeconds": self.expected_seconds,
            "refetch": self.refetch,
        }
        detail.update({key: value for key, value in optional.items() if value is not None})
        return json.dumps(
            {
                "version": "0",
                "id": event_id,
                "detail-type": SUBMITTED_DETAIL_TYPE,
                "source": "tests.invariants",
                "time": iso(now - timedelta(seconds=self.lag_seconds)),
                "detail": detail,
            },
            ensure_ascii=False,
        )


@dataclass(frozen=True)
class SecretChange:
    """What an operator may put in the stack's Aspose secret."""

    kind: str  # valid, refused (valid shape, unknown to Aspose), not-json, wrong-types, blank
    client_id: str
    client_secret: str

    def text(self) -> str:
        if self.kind in ("valid", "refused"):
            return json.dumps({"clientId": self.client_id, "clientSecret": self.client_secret})
        if self.kind == "not-json":
            return f"{self.client_id}:{self.client_secret}"
        if self.kind == "wrong-types":
            return json.dumps({"clientId": 7, "clientSecret": [self.client_secret]})
        return " "


NAMES = st.none() | st.sampled_from(("alpha", "beta", "gamma", "surname", "given name", "ü-名"))
SUBMISSIONS = st.builds(
    Submission,
    task_id=st.sampled_from(TASKS),
    names=st.none() | st.lists(NAMES, max_size=4).map(tuple),
    correlation_id=st.none() | st.text("abcdef0123456789-", min_size=1, max_size=128),
    metadata=st.none()
    | st.fixed_dictionaries(
        {"tenant": st.sampled_from(("acme", "globex"))},
        optional={"note": st.integers(0, 1900).map(lambda size: "n" * size)},
    ),
    lag_seconds=st.integers(0, 30),
    shout=st.booleans(),
    expected_seconds=st.none() | st.integers(1, 40),
)
REFETCH_LABELS = st.sampled_from(("again", "r2", "after-fix"))
TEXTS = st.builds(
    "Rq{}{}".format,
    st.text("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=8, max_size=12),
    st.sampled_from(("", "Ä", "名", "😀")),
)
REGIONS = st.builds(
    Region,
    TEXTS,
    st.sampled_from(("Text", "Text", "JSON")),
    st.none() | st.sampled_from(CORRUPTIONS),
)
#: What the service says besides the results: up to 20 messages of up to 600 characters or so
#: (each is kept to 500), so that most answers carrying them stay under MaxResponseBytes.
WORDS = st.sampled_from(("damaged", "unreadable", "too-dark", "rotated", "ünlesbar"))
LONG_MESSAGES = st.lists(
    st.builds(lambda word, times: " ".join([word] * times), WORDS, st.integers(1, 60)),
    max_size=20,
).map(tuple) | st.builds(
    # The most a hostile service sends: many messages, each over what is kept of one.
    lambda word, count: (" ".join([word] * 60),) * count,
    WORDS,
    st.integers(8, 20),
)
RUNNING_ANSWERS = st.builds(Running, st.sampled_from(RUNNING), st.booleans())
#: Whether a Completed answer may carry the service's warnings and a long responseStatusCode
#: (which the store turns into a warning): they once took the state past its budget
#: (test_a_completed_answer_s_warnings_keep_the_state_within_its_budget).
COMPLETED_WARNINGS = True
COMPLETED_ANSWERS = st.builds(
    Completed,
    st.lists(REGIONS, max_size=5).map(tuple),
    st.sampled_from(("Ok", "Ok", "PartiallyOk", *(("Ö" * 300,) if COMPLETED_WARNINGS else ()))),
    st.booleans(),
    LONG_MESSAGES if COMPLETED_WARNINGS else st.just(()),
)
RETRY_AFTER = (
    st.none()
    | st.integers(0, 200).map(str)
    | st.sampled_from(
        ("86400000", "Wed, 21 Oct 2015 07:28:00 GMT", "Tue, 01 Dec 2099 00:00:00 GMT", "soon", "-5")
    )
)
ANSWERS: st.SearchStrategy[Answer] = st.one_of(
    RUNNING_ANSWERS,
    RUNNING_ANSWERS,
    COMPLETED_ANSWERS,
    COMPLETED_ANSWERS,
    COMPLETED_ANSWERS,
    st.builds(Failed, LONG_MESSAGES),
    st.just(NotExist()),
    st.builds(UnknownStatus, st.sampled_from(("Hibernating", None, 7, "Q" * 300, ["Completed"]))),
    st.builds(Throttled, RETRY_AFTER),
    st.builds(ServerError, st.sampled_from((500, 502, 503, 504))),
    st.builds(Truncated, RUNNING_ANSWERS | COMPLETED_ANSWERS, st.floats(0.05, 0.95)),
    st.just(Huge()),
    st.just(Deep()),
    st.builds(OtherTask, RUNNING_ANSWERS | COMPLETED_ANSWERS, st.just(FOREIGN_TASK)),
)
SECRETS = st.builds(
    SecretChange,
    # Mostly a rotation: a wrong secret stops every poll until the next good one.
    st.sampled_from(("valid", "valid", "valid", "refused", "not-json", "wrong-types", "blank")),
    st.text("abcdef0123456789", min_size=6, max_size=6).map("client-".__add__),
    st.text("abcdef0123456789", min_size=16, max_size=16).map("Sk-".__add__),
)
AWS_FAULTS = st.sampled_from(
    (
        Fault("s3", "PutObject", "SlowDown", 503),
        Fault("s3", "GetObject", "SlowDown", 503),
        Fault("s3", "PutObject", "ConditionalRequestConflict", 409, conditional_only=True),
        Fault("dynamodb", "UpdateItem", "ProvisionedThroughputExceededException", 400),
        Fault("dynamodb", "UpdateItem", "ThrottlingException", 400),
        Fault("sfn", "StartExecution", "ThrottlingException", 400),
    )
)
#: Lambda's own failures: throttled before the function runs, or timed out after it ran (its
#: writes happened, its answer is lost).
LAMBDA_FAULTS = st.sampled_from(("Lambda.TooManyRequestsException", "Sandbox.Timedout"))
#: Lambda invocations one rule lets an execution make: a check and a store may be one rule
#: apart or several (another execution's work between them).
STRIDES = st.integers(1, 4)


@dataclass
class Message:
    """A submission on the start queue."""

    id: str
    body: str
    submission: Submission
    receives: int = 0


# --- How Lambda runs a handler ----------------------------------------------------------------
@functools.cache
def _handler(path: str) -> Callable[[Any, Any], Any]:
    module, _, name = path.rpartition(".")
    found: Callable[[Any, Any], Any] = getattr(importlib.import_module(module), name)
    return found


def lambda_error_json(exc: BaseException) -> str:
    """A function error's Cause as Step Functions records it: the Python runtime's JSON, whose
    stack trace starts at the handler (the runtime leaves out its own frames)."""
    frames = traceback.extract_tb(exc.__traceback__)
    first = next((i for i, frame in enumerate(frames) if "/ocr_fetch/" in frame.filename), 0)
    return json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": _error_name(exc),
            "requestId": REQUEST_ID,
            "stackTrace": traceback.format_list(frames[first:]),
        }
    )


class MarshalError(Exception):
    """A handler's answer Lambda could not serialise (``Runtime.MarshalError``)."""


def _error_name(exc: BaseException) -> str:
    return "Runtime.MarshalError" if isinstance(exc, MarshalError) else type(exc).__name__


class _LogLines(logging.Handler):
    """The product logger's lines, each as Lambda receives it (the logger's own formatter)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(product_logger.registered_formatter.format(record))


@dataclass(frozen=True)
class _Sessions:
    """The product's boto3 session, and clients of another (never hooked, so never refused)
    for looking at what is stored."""

    product: Any
    s3: Any
    dynamodb: Any
    secrets: Any
    sqs: Any


@functools.cache
def _sessions() -> _Sessions:
    """Made once per test run: each new session loads every service model it is asked for
    again, a second or more per example. (moto's mock works on them whenever it is started.)"""
    inspector = boto3.session.Session(region_name=REGION)
    return _Sessions(
        boto3.session.Session(region_name=REGION),
        *(inspector.client(name) for name in ("s3", "dynamodb", "secretsmanager", "sqs")),
    )


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = TypeDeserializer().deserialize({"M": item})
    return value


# --- The machine --------------------------------------------------------------------------------
class WorkflowInvariants(RuleBasedStateMachine):
    """One product deployment, its queue, its executions and the service, under random rules."""

    def __init__(self) -> None:
        super().__init__()
        self.aspose = FakeAspose(BASE_URL, max_response_bytes=MAX_RESPONSE_BYTES)
        self.aspose.credentials.add(FIRST_CREDENTIALS)
        self.faults = AwsFaults(on_call=self._on_aws_call)
        self.step_functions = RecordingStepFunctions(MACHINE_ARN, self._on_start)
        self.interpreter = Interpreter(DEFINITION, self._run_task, self._observe)
        self.executions: dict[str, Execution] = {}
        self.lambda_faults: dict[str, list[str]] = {}
        self.queue: list[Message] = []
        self.sent = 0
        #: Per task: the region names of its first accepted submission (ground truth of 1).
        self.first_names: dict[str, tuple[str | None, ...] | None] = {}
        #: Per task: the best (rank, regions decoded) its item has shown (ground truth of 3).
        self.best: dict[str, tuple[int, int]] = {}
        #: Per execution: when its latest poll was made.
        self.polled_at: dict[str, datetime] = {}
        self.leaks = LeakScanner()
        self.leaks.add(FIRST_CREDENTIALS[1], "client secret")
        self.problems: list[str] = []
        self.delivering: Message | None = None
        self.calling: str | None = None
        self.changed = True
        self.steps = 0
        self._objects: dict[tuple[str, str], bytes] = {}
        self._logs = _LogLines()
        self._logs_read = 0
        self._stack = contextlib.ExitStack()
        try:
            self._set_up()
        except BaseException:
            self._stack.close()
            raise

    def _set_up(self) -> None:
        stack = self._stack
        stack.enter_context(mock.patch.dict(os.environ, ENVIRONMENT))
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
            os.environ.pop(name, None)
        stack.enter_context(mock_aws())
        self.clock = stack.enter_context(time_machine.travel(START, tick=False))
        sessions = _sessions()
        boto3.DEFAULT_SESSION = sessions.product
        stack.callback(setattr, boto3, "DEFAULT_SESSION", None)
        create_results_bucket_and_table()
        self.s3, self.dynamodb, self.secrets = sessions.s3, sessions.dynamodb, sessions.secrets
        self.secrets.create_secret(
            Name=SECRET_NAME, SecretString=SecretChange("valid", *FIRST_CREDENTIALS).text()
        )
        dead_letters = sessions.sqs.create_queue(QueueName="start-dlq")
        os.environ["DEAD_LETTER_QUEUE_URL"] = dead_letters["QueueUrl"]
        hooks = (self.faults.before_call, self.step_functions.before_call)
        stack.callback(install(sessions.product.events, *hooks))
        http = stack.enter_context(responses.RequestsMock(assert_all_requests_are_fired=False))
        self.aspose.install(http)
        # The check makes up a Wait's fraction of a second by sleeping: on this clock.
        simulated = functools.partial(checking.Checker, sleep=self.clock.shift)
        stack.enter_context(mock.patch.object(check_status, "Checker", simulated))
        product = logging.getLogger(product_logger.name)
        product.addHandler(self._logs)
        stack.callback(product.removeHandler, self._logs)
        cold_start()
        stack.callback(cold_start)

    def teardown(self) -> None:
        try:
            if currently_in_test_context():  # not when a regression test replays steps
                self._tally()
        finally:
            self._stack.close()

    def _tally(self) -> None:
        """What this run reached, for ``--hypothesis-show-statistics``: how executions ended
        and what the items say (a property test that never completes a task proves little)."""
        for execution in self.executions.values():
            ended = execution.error or execution.status.value
            event(f"an execution ended {ended}" + (" (redriven)" if execution.redrives else ""))
        for task_id in TASKS:
            item = self._item(task_id)
            event(f"an item says {item['status'] if item else None}")
        event(f"steps: {10 * (self.steps // 10)}+")

    # --- rules ------------------------------------------------------------------------------
    @initialize(submission=SUBMISSIONS)
    def first_submission(self, submission: Submission) -> None:
        self._send(submission)

    @rule(submission=SUBMISSIONS)
    def submit(self, submission: Submission) -> None:
        """A submission: the task's first, or a duplicate with other names and metadata."""
        self._send(submission)

    @rule(submission=SUBMISSIONS, label=REFETCH_LABELS)
    def refetch(self, submission: Submission, label: str) -> None:
        """A re-fetch (its own execution, ``<task>-<label>``), with or without names."""
        self._send(replace(submission, refetch=label))

    @precondition(lambda self: bool(self.queue))
    @rule(data=st.data())
    def redeliver(self, data: st.DataObject) -> None:
        """SQS delivers a message again that the starter failed on."""
        self._deliver(data.draw(st.sampled_from(self.queue), label="message"))

    @precondition(lambda self: bool(self._running()))
    @rule(data=st.data(), answers=st.lists(ANSWERS, min_size=1, max_size=3), invocations=STRIDES)
    def service_answers(self, data: st.DataObject, answers: list[Answer], invocations: int) -> None:
        """The service will answer the next polls of a task so; one of its executions goes on."""
        self._answer_and_advance(data, answers, invocations)

    @precondition(lambda self: bool(self._running()))
    @rule(data=st.data(), answer=COMPLETED_ANSWERS, invocations=STRIDES)
    def service_completes(self, data: st.DataObject, answer: Completed, invocations: int) -> None:
        """The service has finished a task: its next poll is told ``Completed`` (the answers
        above end most executions before that; this is what makes stores race each other)."""
        self._answer_and_advance(data, [answer], invocations)

    @precondition(lambda self: bool(self._running()))
    @rule(data=st.data(), invocations=STRIDES)
    def advance(self, data: st.DataObject, invocations: int) -> None:
        """An execution goes on for some Lambda invocations (time passes as its Waits and
        retries ask; a poll with no answer queued is told ``Processing``)."""
        self._advance(data.draw(st.sampled_from(self._running()), label="execution"), invocations)

    @rule(seconds=st.sampled_from((1, 2, 3, 5, 10, 25, 61, 301)))
    def time_passes(self, seconds: int) -> None:
        """Nothing happens for a while (61 s reach the lifetime of every task running)."""
        self.clock.shift(seconds)

    @rule(change=SECRETS)
    def secret_changes(self, change: SecretChange) -> None:
        """An operator puts something in the stack's Aspose secret: a rotation (Aspose then
        takes the new credentials too), credentials Aspose refuses, or a wrong shape."""
        if change.kind == "valid":
            self.aspose.credentials.add((change.client_id, change.client_secret))
        self.leaks.add(change.client_secret, "client secret")
        self.secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=change.text())

    @rule(fault=AWS_FAULTS, times=st.integers(1, 6))
    def aws_refuses(self, fault: Fault, times: int) -> None:
        """The next ``times`` such calls are refused (5 in a row outlast a state's retries)."""
        self.faults.arm(fault, times)

    @precondition(lambda self: bool(self._running()))
    @rule(data=st.data(), error=LAMBDA_FAULTS)
    def lambda_fails(self, data: st.DataObject, error: str) -> None:
        """Lambda fails an execution's next invocation (see :data:`LAMBDA_FAULTS`)."""
        name = data.draw(st.sampled_from(self._running()), label="execution")
        self.lambda_faults.setdefault(name, []).append(error)

    @precondition(lambda self: bool(self._redrivable()))
    @rule(data=st.data())
    def redrive(self, data: st.DataObject) -> None:
        """An operator redrives an execution that failed at a state, uncaught."""
        name = data.draw(st.sampled_from(self._redrivable()), label="execution")
        self.interpreter.redrive(self.executions[name], self._now())
        self.step_functions.redriven(name)

    @rule()
    def cold_start(self) -> None:
        """New Lambda containers: settings, clients, tokens and the secret read afresh."""
        cold_start()

    # --- invariants -------------------------------------------------------------------------
    @invariant()
    def nothing_lost(self) -> None:
        self.steps += 1
        if self.changed:
            self._check_world()
        self._assert_no_problems()
        wrong = [cancel for cancel in self.aspose.cancels if cancel[1] not in RUNNING]
        assert not wrong, f"cancelled a task whose last poll did not say it was running: {wrong}"

    def _assert_no_problems(self) -> None:
        problems = self.problems + self.leaks.found
        assert not problems, "\n".join(problems)

    def _check_world(self) -> None:
        """Invariants 1, 2, 3 and 5 over what is stored now."""
        listing = self._listing()
        for task_id in TASKS:
            self._check_facts(task_id, listing)
            self._check_manifests(task_id, listing)
            item = self._item(task_id)
            self._check_never_downgraded(task_id, item)
            if item is not None:
                self._scan(f"the item of {task_id}", json.dumps(item, default=str))
                if item.get("status") == "Completed":
                    self._check_completed(task_id, item, listing)
        self.changed = False
        self._assert_no_problems()

    def _check_facts(self, task_id: str, listing: dict[str, str]) -> None:
        """1: the facts are the first accepted submission's, and there when it was accepted."""
        key = submitted_key(task_id)
        if key not in listing:
            if task_id in self.first_names:
                self.problems.append(f"1: the facts of {task_id} were accepted, then lost")
            return
        body = self._read(key, listing[key])
        self._scan(key, body.decode("utf-8"))
        regions = json.loads(body)["regions"]
        stored = None if regions is None else tuple(region["name"] for region in regions)
        if task_id not in self.first_names:
            self.problems.append(f"1: {key} was written by no accepted submission")
        elif stored != self.first_names[task_id]:
            first = self.first_names[task_id]
            self.problems.append(f"1: {key} names {stored}, the first submission {first}")

    def _check_manifests(self, task_id: str, listing: dict[str, str]) -> None:
        """1: every manifest names regions as the first accepted submission did (or not at all
        when the service's count of results differs)."""
        runs = f"results/{task_id}/runs/"
        for key in (k for k in listing if k.startswith(runs) and k.endswith("/manifest.json")):
            body = self._read(key, listing[key])
            self._scan(key, body.decode("utf-8"))
            manifest = json.loads(body)
            first = self.first_names.get(task_id)
            expected = None if first is None else len(first)
            attached = first is not None and len(manifest["regions"]) == len(first)
            names = [region.get("name") for region in manifest["regions"]]
            wanted = list(first) if attached and first is not None else [None] * len(names)
            if manifest["expectedRegionCount"] != expected or names != wanted:
                self.problems.append(
                    f"1: {key} names {names} (expecting {manifest['expectedRegionCount']}), the "
                    f"first submission {first}"
                )

    def _check_never_downgraded(self, task_id: str, item: dict[str, Any] | None) -> None:
        """3: the item's (rank, regions decoded) never decreases, and the item never goes."""
        best = self.best.get(task_id)
        if item is None:
            if best is not None:
                self.problems.append(f"3: the item of {task_id} disappeared")
            return
        completed = item.get("status") == "Completed"
        score = (int(item["outcomeRank"]), int(item["decodedCount"]) if completed else 0)
        if best is not None and score < best:
            self.problems.append(f"3: the outcome of {task_id} went from {best} to {score}")
        self.best[task_id] = max(score, best or score)

    def _check_completed(self, task_id: str, item: dict[str, Any], listing: dict[str, str]) -> None:
        """2: a Completed item's raw answer and regions are what the service returned."""
        raw_key = str(item.get("rawKey"))
        prefix = run_prefix(task_id, str(item["executionArn"]).rsplit(":", 1)[-1])
        if not raw_key.startswith(prefix) or raw_key not in listing:
            self.problems.append(f"2: {task_id} completed with rawKey {raw_key}, not in {prefix}")
            return
        served = self.aspose.served_as(self._read(raw_key, listing[raw_key]))
        if served is None or served.task_id != task_id:
            self.problems.append(f"2: {raw_key} is not a Completed answer served for {task_id}")
            return
        decodable = sum(region.decodable for region in served.regions)
        if (len(item["regions"]), int(item["decodedCount"])) != (len(served.regions), decodable):
            self.problems.append(f"2: {task_id}'s item counts differ from {raw_key}'s regions")
        for record in item["regions"]:
            truth = served.regions[int(record["index"])]
            key = record.get("s3Key")
            if key is None:
                if truth.decodable:
                    self.problems.append(f"2: region {record['index']} of {raw_key} is lost")
            elif not truth.decodable or not key.startswith(prefix) or key not in listing:
                self.problems.append(f"2: {key} is stored, {raw_key} says otherwise")
            elif self._read(key, listing[key]) != truth.content:
                self.problems.append(f"2: {key} differs from what the service returned")

    def _observe(self, execution: Execution, state: str) -> None:
        """4 and 5 on the state an execution has just reached, and how it may fail."""
        where = f"the state of {execution.name} after {state!r}"
        text = json.dumps(execution.data, ensure_ascii=False, separators=(",", ":"))
        size = len(text.encode("utf-8"))
        if size > STATE_BUDGET_BYTES:
            self.problems.append(f"4: {where} is {size} bytes, over {STATE_BUDGET_BYTES}")
        self._scan(where, text)
        self._check_gave_up_on_what_the_service_said(execution)
        if execution.status is Status.RUNNING:
            return
        self.step_functions.closed(execution.name)
        if execution.status is Status.FAILED:
            self._check_failure(execution)

    def _check_failure(self, execution: Execution) -> None:
        cause = execution.cause or ""
        where = f"the failure of {execution.name}"
        if len(cause.encode("utf-8")) > STATE_BUDGET_BYTES:
            self.problems.append(f"4: {where} has a cause of {len(cause.encode())} bytes")
        self._scan(where, f"{execution.error} {cause}")
        if execution.failed_at is not None and execution.error not in RETRIED:
            self.problems.append(
                f"{where} at {execution.failed_at!r} is {execution.error}, which no state retries"
                f": {cause[:300]}"
            )

    def _check_gave_up_on_what_the_service_said(self, execution: Execution) -> None:
        """Only a definite answer ends a task early: a TimedOut outcome comes from the service
        saying "running" past the deadline or budget, or from the results' lifetime reached."""
        data = execution.data if isinstance(execution.data, dict) else {}
        outcome, poll = data.get("outcome"), data.get("poll") or {}
        if not isinstance(outcome, dict) or outcome.get("kind") != "TimedOut":
            return
        reason = poll.get("giveUpReason")
        if reason == GiveUpReason.LIFETIME:
            polled = self.polled_at[execution.name]
            age = (polled - datetime.fromisoformat(data["submittedAt"])).total_seconds()
            if age < LIFETIME_SECONDS - 1 - MAKE_UP_SECONDS:
                self.problems.append(f"{execution.name} gave up on its lifetime at {age} s")
        elif poll.get("status") not in RUNNING:
            self.problems.append(
                f"{execution.name} gave up ({reason}) on a poll that said {poll.get('status')}"
            )

    # --- the workflow -----------------------------------------------------------------------
    def _send(self, submission: Submission) -> None:
        self.sent += 1
        body = submission.event(f"event-{self.sent}", self._now())
        message = Message(f"message-{self.sent}", body, submission)
        self.queue.append(message)
        self._deliver(message)

    def _deliver(self, message: Message) -> None:
        message.receives += 1
        record = {
            "messageId": message.id,
            "receiptHandle": f"handle-{message.id}-{message.receives}",
            "body": message.body,
            "attributes": {"ApproximateReceiveCount": str(message.receives)},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "awsRegion": REGION,
        }
        self.delivering = message
        try:
            answer = self._call(STARTER, {"Records": [record]})
        except Exception:  # the whole batch failed: every record comes back
            failed = True
        else:
            failed = bool(answer["batchItemFailures"])
        finally:
            self.delivering = None
        if not failed:
            self.queue.remove(message)
        self._check_world()

    def _on_start(self, started: StartedExecution) -> None:
        execution_input = json.loads(started.input)
        execution = self.interpreter.start(started.name, started.arn, execution_input, self._now())
        self.executions[started.name] = execution

    def _on_aws_call(self, call: Call) -> None:
        """Learn which submission was accepted first: the one whose facts write went through."""
        key = str(call.params.get("Key", ""))
        if (call.operation, call.refused_by) != ("PutObject", None) or not key.endswith(
            "/submitted.json"
        ):
            return
        if self.calling != STARTER or self.delivering is None:
            self.problems.append(f"1: {self.calling} wrote {key}")
            return
        task_id = key.split("/")[1]
        self.first_names.setdefault(task_id, self.delivering.submission.names)

    def _answer_and_advance(
        self, data: st.DataObject, answers: list[Answer], invocations: int
    ) -> None:
        name = data.draw(st.sampled_from(self._running()), label="execution")
        self.aspose.queue(self.executions[name].input["taskId"], answers)
        self._advance(name, invocations)

    def _advance(self, name: str, invocations: int) -> None:
        for _ in range(invocations):
            if not self._work(self.executions[name]):
                return

    def _work(self, execution: Execution) -> bool:
        """Run the execution until it has made one Lambda invocation; False once it has ended."""
        for _ in range(20):
            if execution.status is not Status.RUNNING:
                return False
            if execution.ready_at is not None and execution.ready_at > self._now():
                self.clock.move_to(execution.ready_at)
            if self.interpreter.step(execution, self._now()) is not Step.MOVED:
                return execution.status is Status.RUNNING
        raise AssertionError(f"{execution.name} moved 20 times without invoking anything")

    def _run_task(self, execution: Execution, resource: str, parameters: Any) -> Any:
        if resource == LAMBDA_INVOKE:
            payload = self._invoke(execution, FUNCTIONS[parameters["FunctionName"]], parameters)
            return {"ExecutedVersion": "$LATEST", "Payload": payload, "StatusCode": 200}
        if resource == PUT_EVENTS:
            for entry in parameters["Entries"]:
                detail = json.dumps(entry["Detail"], ensure_ascii=False)
                self._scan(f"the {entry['DetailType']!r} event of {execution.name}", detail)
            return {"Entries": [{"EventId": f"event-of-{execution.name}"}], "FailedEntryCount": 0}
        raise NotImplementedError(f"{resource} is not modelled")

    def _invoke(self, execution: Execution, function: str, parameters: Any) -> Any:
        """One Lambda invocation of ``function``, as the Task's retries and catches see it."""
        faults = self.lambda_faults.get(execution.name) or []
        fault = faults.pop(0) if faults else None
        if fault == "Lambda.TooManyRequestsException":
            raise TaskFailed(fault, "Rate Exceeded. (Service: Lambda, Status Code: 429)")
        if function == CHECK:
            self.polled_at[execution.name] = self._now()
        try:
            payload = self._call(function, parameters["Payload"])
        except Exception as exc:
            self._check_world()
            raise TaskFailed(_error_name(exc), lambda_error_json(exc)) from None
        self._check_world()
        if fault == "Sandbox.Timedout":
            timed_out = {"errorType": fault, "errorMessage": "Task timed out after 30.00 seconds"}
            raise TaskFailed(fault, json.dumps(timed_out))
        return payload

    def _call(self, function: str, event: Any) -> Any:
        """Call a handler as Lambda does (JSON in, JSON out); scan all it wrote or raised."""
        printed = io.StringIO()
        self.calling, self.changed = function, True
        try:
            with contextlib.redirect_stdout(printed):
                answer = _handler(function)(json.loads(json.dumps(event)), LambdaContext())
            try:
                return json.loads(json.dumps(answer))
            except (TypeError, ValueError):
                raise MarshalError(f"{function} returned what JSON cannot hold") from None
        except Exception as exc:
            self._learn_needles()
            self._scan(f"the {type(exc).__name__} raised by {function}", str(exc))
            raise
        finally:
            self.calling = None
            self._learn_needles()
            self._scan(f"what {function} printed", printed.getvalue())
            for line in self._logs.lines[self._logs_read :]:
                self._scan(f"a log line of {function}", line)
            self._logs_read = len(self._logs.lines)

    # --- helpers ----------------------------------------------------------------------------
    def _now(self) -> datetime:
        return datetime.now(UTC)

    def _running(self) -> list[str]:
        return sorted(n for n, e in self.executions.items() if e.status is Status.RUNNING)

    def _redrivable(self) -> list[str]:
        return sorted(n for n, e in self.executions.items() if e.failed_at is not None)

    def _learn_needles(self) -> None:
        for text in self.aspose.texts:
            self.leaks.add(text, "recognised text")

    def _scan(self, where: str, text: str) -> None:
        self.leaks.scan(where, text)

    def _listing(self) -> dict[str, str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="results/")
        return {entry["Key"]: entry["ETag"] for page in pages for entry in page.get("Contents", [])}

    def _read(self, key: str, etag: str) -> bytes:
        if (key, etag) not in self._objects:
            body: bytes = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            self._objects[(key, etag)] = body
        return self._objects[(key, etag)]

    def _item(self, task_id: str) -> dict[str, Any] | None:
        found = self.dynamodb.get_item(TableName=TABLE, Key={"taskId": {"S": task_id}})
        return _plain(found["Item"]) if "Item" in found else None


#: Given any interleaving of submissions, duplicates, re-fetches, answers, clock, secret and AWS
#: faults, every invariant of the module holds after every step.
TestNothingIsLostWhateverTheInterleaving = WorkflowInvariants.TestCase
TestNothingIsLostWhateverTheInterleaving.settings = settings(
    max_examples=30,
    stateful_step_count=50,
    deadline=None,
    # No explain phase: it traces every line of every step, minutes for one failing case.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
for _mark in (
    pytest.mark.slow,  # well under a minute here, but more than "a few seconds"
    pytest.mark.timeout(600),  # a failure is shrunk, which hypothesis bounds at five minutes
    # Powertools says so on every invocation that adds no metric (a poll cut short, a refusal).
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
):
    _mark(TestNothingIsLostWhateverTheInterleaving)


# --- What the machine found, as plain steps ------------------------------------------------------
@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_a_completed_answer_s_warnings_keep_the_state_within_its_budget() -> None:
    """Found by the machine: a task submitted with nothing but its id, answered Completed with
    no results and 14 warnings of 500 characters (a 7.5 KB answer), left Decode And Store
    Results with a state of 8,758 bytes (7 warnings of 500 two-byte characters did the same),
    before the outcome event carried at most 5 warnings of 256 bytes, or none where they do not
    fit (the manifest and the table item keep them all)."""
    machine = WorkflowInvariants()
    try:
        machine.first_submission(Submission(TASKS[0], names=None))
        machine.aspose.queue(TASKS[0], [Completed((), warnings=("w" * 500,) * 14)])
        machine._advance(TASKS[0], 2)  # Check Task Status, then Decode And Store Results
        machine.nothing_lost()
    finally:
        machine.teardown()
