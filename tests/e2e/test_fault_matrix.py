"""The fault matrix, end to end: every fault survived, nothing lost, nothing leaked.

Each row injects one fault (the emulator's on the service's side, the local cloud's on AWS's side)
into the real template, state machine and handlers, and checks the outcome the README's fault
matrix promises. Rows that wait run at once; rows that touch what all tasks share (tokens, the
client secret, Secrets Manager) run one after another afterwards. Then every execution history,
every log line in CloudWatch Logs, every outcome event, every dead letter and every table item is
scanned for the recognised text, the client secrets and the access tokens: none may appear.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from infra.local import leaks
from infra.local.emulator import Timing
from infra.local.samples import id_card, registration_form
from infra.stack.dead_letters import DeadLetter
from infra.stack.history import Execution
from infra.stack.outcomes import TaskOutcome
from infra.stack.waiting import wait_until
from tests.support.iam import calls_as, role_grants, ungranted, unused
from tests.support.local_stack import LocalStack, local_stack

pytestmark = pytest.mark.slow

CARD = id_card()
FORM = registration_form()
NAMES = CARD.region_names
CAP = 8 * 1024 * 1024
PARAMETERS = {
    "PollDeadlineSeconds": "75",
    "PollMaxPolls": "40",
    "CancelOnGiveUp": "true",
    "MaxResponseBytes": str(CAP),
    "StartQueueVisibilitySeconds": "10",
}
#: Written into a 4xx body: it must come out nowhere.
CANARY = "CANARY4711 ERIKA-LEAK"


# --- the run ---------------------------------------------------------------------------------
@dataclass
class Matrix:
    """What the rows did: task ids by row, their outcomes, dead letters and side records."""

    tasks: dict[str, str] = field(default_factory=dict)
    outcomes: dict[str, TaskOutcome] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def outcome(self, row: str) -> TaskOutcome:
        return self.outcomes[self.tasks[row]]


class Capture(ThreadingHTTPServer):
    """Where a redirected token request would go: records whether anything arrived."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                capture.hits.append(self.path)
                self.send_response(500)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/connect/token"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    timing = Timing(queue_delay_s=1.0, per_region_s=0.05)
    with local_stack(parameters=PARAMETERS, timing=timing) as running:
        yield running


@pytest.fixture(scope="module")
def matrix(stack: LocalStack) -> Matrix:
    run = Matrix()
    _poison_first(stack, run)
    announced = _concurrent_rows(stack, run)
    waited = [task for task in announced if task != run.tasks["start_throttled"]]
    run.outcomes.update(
        stack.session.wait_for_outcomes(waited, timeout=240, subscription=stack.outcomes)
    )
    run.dead_letters = _dead_letters(stack, expected=5)
    _shared_rows(stack, run)
    _recovery_rows(stack, run)
    return run


def _submit(stack: LocalStack, document: Any = CARD) -> str:
    return stack.submit(document)


def _announce(stack: LocalStack, task_id: str, **detail: Any) -> None:
    stack.session.announce_detail({"taskId": task_id, "regions": _regions(), **detail})


def _regions() -> list[dict[str, str]]:
    return [{"name": n} for n in NAMES]


def _poison_first(stack: LocalStack, run: Matrix) -> None:
    """A submission whose starter crashes on every delivery, alone on the queue so that no other
    message shares its batches (a crash fails the whole batch, as on AWS)."""
    task = _submit(stack)
    run.tasks["starter_crash"] = task
    fault = stack.cloud.faults.inject("lambda_crash", target="StarterFunction", match=task, times=5)
    _announce(stack, task)
    wait_until(lambda: fault.hits >= 1, timeout=30, what="the first crashed delivery")


def _concurrent_rows(stack: LocalStack, run: Matrix) -> list[str]:
    admin = stack.emulator.admin
    faults = stack.cloud.faults
    rows: dict[str, str] = {}

    def row(name: str, *emulator: tuple[str, dict[str, Any]], document: Any = CARD) -> str:
        task = _submit(stack, document)
        for fault, params in emulator:
            admin.inject(fault, task_id=task, **params)
        rows[name] = task
        return task

    row("storm_429", ("http_429", {"times": 3, "retry_after": 20}))
    row(
        "eight_5xx",
        ("http_503", {"times": 3}),
        ("http_502", {"times": 3}),
        ("http_500", {"times": 2}),
    )
    row("truncated", ("truncate", {"times": 2, "fraction": 0.5}))
    row("dropped", ("drop", {"times": 2}))
    row("not_json", ("not_json", {"times": 2}))
    row("slow_poll", ("delay", {"times": 1, "seconds": 40}))
    faults.inject("lambda_timeout", target="CheckStatusFunction", match=row("check_timeout"))
    faults.inject("lambda_crash", target="CheckStatusFunction", match=row("check_crash_once"))
    faults.inject(
        "lambda_crash", target="CheckStatusFunction", match=row("check_crash_always"), times=3
    )
    faults.inject(
        "lambda_throttle", target="CheckStatusFunction", match=row("check_throttled"), times=3
    )
    faults.inject("lambda_crash", target="StoreResultsFunction", match=row("store_crash_once"))
    row("huge", ("huge", {"bytes": 4 * CAP}))
    row("gzip_bomb", ("gzip_bomb", {"inflated_bytes": 200 * 1024 * 1024}))
    row("corrupt_base64", ("corrupt_base64", {"indexes": [1]}))
    row("count_mismatch", ("result_count", {"count": 3}))
    row("unknown_status", ("unknown_status", {"value": "Hibernating"}))
    row("response_code", ("response_code", {"value": "PartiallyNotFound"}))
    s3_task = row("s3_throttled")
    # while the check keeps the final answer (under its run's own key); the starter's own
    # PutObject (the submitted facts) is another row's
    faults.inject(
        "aws_error",
        target="s3:PutObject",
        match=f"runs/{s3_task}/answer-",
        code="SlowDown",
        status=503,
        times=4,
    )
    names_task = row("names_throttled")
    # the starter keeping the submitted facts: its delivery fails, SQS delivers it again
    faults.inject(
        "aws_error",
        target="s3:PutObject",
        match=f"{names_task}/submitted.json",
        code="SlowDown",
        status=503,
        times=4,
    )
    ddb_task = row("dynamodb_throttled")
    faults.inject(
        "aws_error",
        target="dynamodb:UpdateItem",
        match=ddb_task,
        code="ProvisionedThroughputExceededException",
        status=400,
        times=4,
    )
    put_events = row("put_events")
    down = row("dynamodb_down")
    run.notes["dynamodb_down_fault"] = faults.inject(
        "aws_error",
        target="dynamodb:UpdateItem",
        match=down,
        code="InternalServerError",
        times=10_000,
    )
    row("recognition_error", ("error", {"messages": ["Image is too dark to read"]}))
    rows["not_exist"] = str(uuid.uuid4())
    row("never_finishes", ("stuck", {}))
    row("bad_request_body", ("http_status", {"status": 400, "title": CANARY, "detail": CANARY}))
    row("duplicate", document=FORM)
    # Step Functions throttling every attempt of every delivery: waited out, sent to the start
    # queue again later (not dead-lettered)
    run.notes["start_throttled_fault"] = faults.inject(
        "aws_error",
        target="states:StartExecution",
        match=row("start_throttled"),
        code="ThrottlingException",
        status=400,
        times=1000,
    )
    for task in rows.values():
        _announce(stack, task)
    _announce(stack, rows["duplicate"])  # the same announcement, delivered twice
    # Armed after the announcements, whose own PutEvents name the task too.
    faults.inject("events_failed_entry", target="events:PutEvents", match=put_events, times=3)
    for detail in _malformed():
        stack.session.announce_detail(detail)
    run.tasks.update(rows)
    return list(rows.values())


def _malformed() -> list[dict[str, Any]]:
    """Accepted by EventBridge, refused by the starter with a reason (nothing downstream could
    carry them): 4 dead letters."""
    return [
        {"taskId": str(uuid.uuid4()), "metadata": {"n": 10**49}},
        {"taskId": str(uuid.uuid4()), "correlationId": "\ud800"},
        {"taskId": str(uuid.uuid4()), "metadata": _deep(40)},
        {"taskId": str(uuid.uuid4()), "regions": [{"name": "\U0001f600" * 64}] * 500},
    ]


def _deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"k": value}
    return value


def _dead_letters(stack: LocalStack, expected: int) -> list[DeadLetter]:
    found: dict[str, DeadLetter] = {}

    def all_there() -> bool:
        for letter in stack.session.dead_letters():
            found[letter.message_id] = letter
        return len(found) >= expected

    wait_until(all_there, timeout=120, what=f"{expected} dead letters", every=1)
    return list(found.values())


def _one_task(
    stack: LocalStack,
    run: Matrix,
    name: str,
    arm: Callable[[], object] = lambda: None,
    **detail: Any,
) -> TaskOutcome:
    """One task on its own: submitted, then ``arm()`` (the test's own submission must not meet
    the faults), then announced and awaited."""
    task = run.tasks.get(name) or _submit(stack)
    run.tasks[name] = task
    arm()
    _announce(stack, task, **detail)
    outcome = stack.session.wait_for_outcome(
        task,
        timeout=120,
        subscription=stack.outcomes,
        execution_name=f"{task}-{detail['refetch']}" if "refetch" in detail else None,
    )
    run.outcomes[task if "refetch" not in detail else f"{task}-{detail['refetch']}"] = outcome
    return outcome


def _delayed(stack: LocalStack) -> int:
    """Messages in the start queue waiting out their delay (sent again after throttling)."""
    attributes = stack.cloud.client("sqs").get_queue_attributes(
        QueueUrl=stack.stack.outputs["StartQueueUrl"],
        AttributeNames=["ApproximateNumberOfMessagesDelayed"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesDelayed"])


def _start_queue_drained(stack: LocalStack) -> None:
    """Every announcement so far has been handled by the starter (started, or refused)."""
    sqs = stack.cloud.client("sqs")

    def empty() -> bool:
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.stack.outputs["StartQueueUrl"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return not any(int(v) for v in attributes.values())

    wait_until(empty, timeout=60, what="the start queue to drain")


def _shared_rows(stack: LocalStack, run: Matrix) -> None:
    """Rows that touch what every task shares, one at a time."""
    admin = stack.emulator.admin
    faults = stack.cloud.faults
    # A token revoked mid-task: refreshed once, then Completed.
    _one_task(stack, run, "token_401", admin.revoke_tokens)

    # The token endpoint failing: transient, then Completed.
    def token_endpoint_down() -> None:
        admin.revoke_tokens()
        admin.inject("http_503", next_requests=2, path="/connect/token")

    _one_task(stack, run, "token_5xx", token_endpoint_down)

    # Secrets Manager unavailable (beyond boto's own retries): transient, then Completed.
    def secrets_down() -> None:
        admin.revoke_tokens()
        run.notes["secrets_fault"] = faults.inject(
            "aws_error",
            target="secretsmanager:GetSecretValue",
            code="InternalServiceError",
            times=8,
        )

    _one_task(stack, run, "secrets_down", secrets_down)
    # A redirected token request: refused, the secret sent nowhere else, the task Failed.
    capture = Capture()
    threading.Thread(target=capture.serve_forever, daemon=True).start()

    def redirect_tokens() -> None:
        admin.revoke_tokens()
        admin.inject(
            "http_status",
            next_requests=4,
            path="/connect/token",
            status=307,
            headers={"Location": capture.url},
        )

    try:
        _one_task(stack, run, "token_redirect", redirect_tokens)
        admin.clear_faults()
    finally:
        capture.shutdown()
    run.notes["captured"] = capture.hits
    # The client secret rotated (in the service and in the stack's secret): Completed with it.
    # (Later rows' tasks are submitted first: the test's own submitter keeps the old secret.)
    for later in ("placeholder", "credentials_put"):
        run.tasks[later] = _submit(stack)
    old = stack.emulator.client_secret
    new = f"rotated-{uuid.uuid4().hex}"

    def rotate() -> None:
        admin.rotate_secret(new)
        stack.cloud.client("secretsmanager").put_secret_value(
            SecretId=stack.stack.outputs["AsposeCredentialsSecret"],
            SecretString=json.dumps({"clientId": stack.emulator.client_id, "clientSecret": new}),
        )
        admin.revoke_tokens()

    _one_task(stack, run, "secret_rotated", rotate)
    run.notes["secrets"] = [old, new]
    # The secret as a fresh stack has it (the placeholder): Failed, named, counted for the alarm.
    # Then the real values are put back and the very next task completes.
    secrets = stack.cloud.client("secretsmanager")

    def put_secret(value: dict[str, str]) -> None:
        secret_id = stack.stack.outputs["AsposeCredentialsSecret"]
        secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))
        admin.revoke_tokens()

    _one_task(stack, run, "placeholder", lambda: put_secret({"clientId": "", "clientSecret": "x"}))
    real = {"clientId": stack.emulator.client_id, "clientSecret": new}
    _one_task(stack, run, "credentials_put", lambda: put_secret(real))


def _recovery_rows(stack: LocalStack, run: Matrix) -> None:
    """A deliberate re-fetch, an upper-case duplicate, and the DynamoDB outage recovered."""
    _one_task(stack, run, "duplicate", refetch="again")
    duplicate = run.tasks["duplicate"]
    stack.session.announce_detail({"taskId": duplicate.upper()})
    _start_queue_drained(stack)
    # The throttled start has been sent again (before its fault goes with the others)
    wait_until(lambda: _delayed(stack) >= 1, timeout=180, what="the throttled event sent again")
    # The outage is over: the failed task is fetched again on purpose (see the README: on AWS a
    # redrive of the failed execution resumes it; moto has no RedriveExecution).
    stack.cloud.faults.clear()
    _one_task(stack, run, "dynamodb_down", refetch="recovered")


# --- the rows --------------------------------------------------------------------------------
def polls_of(outcome: TaskOutcome) -> list[dict[str, Any]]:
    return outcome.execution.polls()


def task_failures(execution: Execution) -> list[str]:
    return [
        e["taskFailedEventDetails"]["error"] for e in execution.history if e["type"] == "TaskFailed"
    ]


def completed(outcome: TaskOutcome) -> None:
    assert outcome.status == "Completed", (outcome.execution.error, outcome.execution.cause)
    assert outcome.event is not None
    assert outcome.event["detail-type"] == "Region Recognition Completed"
    assert outcome.item is not None
    assert outcome.item["status"] == "Completed"


def failed(outcome: TaskOutcome, name: str) -> None:
    assert outcome.status == "Failed", outcome.execution.steps
    assert outcome.event is not None
    assert outcome.event["detail"]["error"]["name"] == name
    assert outcome.item is not None
    assert (outcome.item["status"], outcome.item["errorName"]) == ("Failed", name)


def test_a_429_storm_is_waited_out_honouring_retry_after(matrix: Matrix) -> None:
    outcome = matrix.outcome("storm_429")
    completed(outcome)
    assert [p["status"] for p in polls_of(outcome)][:3] == ["Throttled"] * 3
    assert outcome.execution.waits()[:3] == [20, 20, 20]


@pytest.mark.parametrize("row", ["eight_5xx", "truncated", "dropped", "not_json", "slow_poll"])
def test_answers_about_nothing_are_not_yet_then_completed(matrix: Matrix, row: str) -> None:
    outcome = matrix.outcome(row)
    completed(outcome)
    statuses = [p["status"] for p in polls_of(outcome)]
    expected = {"eight_5xx": 8, "slow_poll": 1}.get(row, 2)
    assert statuses[:expected] == ["Unavailable"] * expected
    assert task_failures(outcome.execution) == []  # no Lambda error, no Task retry: a wait


@pytest.mark.parametrize(
    ("row", "errors"),
    [
        ("check_timeout", ["Sandbox.Timedout"]),
        ("check_crash_once", ["Runtime.ExitError"]),
        ("check_throttled", ["Lambda.TooManyRequestsException"] * 3),
        ("store_crash_once", ["Runtime.ExitError"]),
    ],
)
def test_a_function_that_fails_is_retried_then_completes(
    matrix: Matrix, row: str, errors: list[str]
) -> None:
    outcome = matrix.outcome(row)
    completed(outcome)
    assert task_failures(outcome.execution) == errors


def test_a_function_that_crashes_beyond_its_retries_fails_the_task_named(matrix: Matrix) -> None:
    outcome = matrix.outcome("check_crash_always")
    failed(outcome, "Runtime.ExitError")
    assert task_failures(outcome.execution) == ["Runtime.ExitError"] * 3


@pytest.mark.parametrize("row", ["huge", "gzip_bomb"])
def test_an_answer_too_large_fails_with_bounded_memory(
    stack: LocalStack, matrix: Matrix, row: str
) -> None:
    failed(matrix.outcome(row), "ResponseTooLarge")
    check = stack.stack.functions["CheckStatusFunction"]
    peaks = [i.max_rss_mb for i in stack.cloud.runtime.invocations if i.function_name == check]
    assert max(peaks) < 256  # its MemorySize: never killed, never near it
    assert "Runtime.OutOfMemory" not in {i.error_type for i in stack.cloud.runtime.invocations}


def test_what_the_service_answered_badly_has_its_defined_outcome(matrix: Matrix) -> None:
    corrupt = matrix.outcome("corrupt_base64")
    completed(corrupt)
    assert [r["error"] for r in corrupt.event["detail"]["regions"]] == [  # type: ignore[index]
        None,
        "invalid_base64",
        None,
        None,
        None,
    ]
    mismatch = matrix.outcome("count_mismatch")
    completed(mismatch)
    assert mismatch.item is not None
    assert (mismatch.item["countMismatch"], mismatch.item["receivedResultCount"]) == (True, 3)
    failed(matrix.outcome("unknown_status"), "UnknownTaskStatus")
    anomaly = matrix.outcome("response_code")
    completed(anomaly)
    assert anomaly.item is not None
    assert any("PartiallyNotFound" in w for w in anomaly.item["warnings"])


@pytest.mark.parametrize("row", ["s3_throttled", "dynamodb_throttled"])
def test_storage_throttled_while_storing_is_retried_then_completes(
    matrix: Matrix, row: str
) -> None:
    outcome = matrix.outcome(row)
    completed(outcome)
    assert task_failures(outcome.execution) == ["StorageError"]  # beyond boto's 3 attempts


def test_region_names_not_kept_at_first_are_kept_on_the_next_delivery(matrix: Matrix) -> None:
    outcome = matrix.outcome("names_throttled")
    completed(outcome)
    assert outcome.item is not None
    assert all(region["name"] for region in outcome.item["regions"])


def test_put_events_failing_is_retried_and_the_outcome_published(matrix: Matrix) -> None:
    outcome = matrix.outcome("put_events")
    completed(outcome)
    publish = next(s for s in outcome.execution.steps if s.name == "Publish Outcome Event")
    assert publish.errors == ("EventBridge.FailedEntry",) * 3


def test_dynamodb_down_beyond_retries_fails_the_execution_named_then_recovers(
    stack: LocalStack, matrix: Matrix
) -> None:
    down = matrix.outcome("dynamodb_down")
    # Not caught into a Fail state: the execution failed at the state that could not store,
    # named, which an alarm on failed executions sees and a redrive resumes.
    assert down.execution.status == "FAILED"
    assert down.execution.error == "StorageError"
    assert down.execution.states_entered()[-1] == "Decode And Store Results"
    assert task_failures(down.execution) == ["StorageError"] * 5  # the first try, 4 retries
    assert down.event is None
    # Once DynamoDB is back, fetching the task again completes it.
    recovered = matrix.outcomes[f"{matrix.tasks['dynamodb_down']}-recovered"]
    completed(recovered)


def test_the_service_s_definite_answers_end_the_task_early(
    stack: LocalStack, matrix: Matrix
) -> None:
    error = matrix.outcome("recognition_error")
    failed(error, "RecognitionError")
    missing = matrix.outcome("not_exist")
    assert missing.status == "NotFound"
    assert missing.detail_type == "Region Recognition Not Found"
    stuck = matrix.outcome("never_finishes")
    assert stuck.status == "TimedOut"
    assert stuck.event is not None
    assert stuck.event["detail"]["error"]["name"] == "DeadlineReached"
    # CancelOnGiveUp is on: the task was cancelled at the service once it was given up.
    requests = stack.emulator.admin.requests_for(matrix.tasks["never_finishes"])
    assert [r["method"] for r in requests][-1] == "DELETE"


def test_duplicates_start_nothing_and_a_refetch_is_named(stack: LocalStack, matrix: Matrix) -> None:
    task = matrix.tasks["duplicate"]
    names = sorted(e["name"] for e in stack.session.executions(task))
    # Announced twice, fetched again on purpose, then announced in upper case after it finished.
    assert names == [task, f"{task}-again"]
    # The re-fetch found what the first run stored, no better: it replaced and announced nothing
    refetch = matrix.outcomes[f"{task}-again"].execution
    assert refetch.states_entered()[-1] == "Superseded By Earlier Outcome"
    assert len(stack.outcome_events(task)) == 1


def test_what_cannot_be_carried_is_dead_lettered_with_a_reason(matrix: Matrix) -> None:
    reasons = sorted(letter.why for letter in matrix.dead_letters)
    assert any("38 significant digits" in r for r in reasons)
    assert any("lone surrogate" in r for r in reasons)
    assert any("nested more than" in r for r in reasons)
    assert any("bytes, more than" in r for r in reasons)


def test_step_functions_throttling_is_waited_out_not_dead_lettered(
    stack: LocalStack, matrix: Matrix
) -> None:
    task = matrix.tasks["start_throttled"]
    # Then after its last delivery it is neither started nor dead-lettered: it waits in the start
    # queue, delayed, to be delivered afresh
    assert _delayed(stack) >= 1
    assert matrix.notes["start_throttled_fault"].hits >= 5 * 3  # boto's 3 attempts, 5 deliveries
    assert not [d for d in stack.session.dead_letters() if task in d.body]
    assert stack.session.executions(task) == []


def test_a_crashing_starter_is_redelivered_then_dead_lettered(
    stack: LocalStack, matrix: Matrix
) -> None:
    task = matrix.tasks["starter_crash"]
    (letter,) = [d for d in matrix.dead_letters if task in d.body]
    # Moved after maxReceiveCount (5) deliveries; reading the dead-letter queue counts too.
    assert letter.receive_count >= 5
    assert letter.reason is None  # SQS moved it: a crashed starter could not say why
    assert "moved by SQS" in letter.why
    assert stack.session.executions(task) == []


def test_a_4xx_with_a_body_fails_and_the_body_goes_nowhere(matrix: Matrix) -> None:
    outcome = matrix.outcome("bad_request_body")
    failed(outcome, "AsposeBadRequestError")
    assert outcome.event is not None
    assert outcome.event["detail"]["error"]["message"] == (
        "GET /v5.0/ocr/RecognizeRegions was rejected with HTTP 400"
    )


@pytest.mark.parametrize("row", ["token_401", "token_5xx", "secrets_down", "secret_rotated"])
def test_token_troubles_are_survived(matrix: Matrix, row: str) -> None:
    completed(matrix.outcome(row))


def test_a_token_redirect_fails_and_the_secret_goes_nowhere(matrix: Matrix) -> None:
    failed(matrix.outcome("token_redirect"), "AsposeProtocolError")
    assert matrix.notes["captured"] == []


def test_placeholder_credentials_fail_named_and_the_real_ones_work_at_once(
    stack: LocalStack, matrix: Matrix
) -> None:
    failed(matrix.outcome("placeholder"), "CredentialsNotConfigured")
    completed(matrix.outcome("credentials_put"))
    # The metric the CredentialsNotConfigured alarm watches was written (EMF, in the logs)
    places = outputs(stack)
    functions_logs = "".join(
        t for where, t in places.items() if where.startswith("logs /aws/lambda")
    )
    assert '"Name":"CredentialsNotConfigured"' in functions_logs


def test_the_faults_that_were_armed_did_fire(matrix: Matrix) -> None:
    # A row that passes because its fault never happened proves nothing.
    assert matrix.notes["secrets_fault"].hits == 8
    assert matrix.notes["dynamodb_down_fault"].hits > 0


# --- least privilege -------------------------------------------------------------------------
def test_every_role_grants_exactly_the_calls_made_and_nothing_more(
    stack: LocalStack, matrix: Matrix
) -> None:
    # Every path ran (completed, failed, not found, timed out, retried, dead-lettered, duplicate,
    # re-fetched, credentials rotated): each call it made as a role is allowed by that role's
    # deployed policies, and each grant was used (or is one the platform needs, listed with why).
    lambda_client = stack.cloud.client("lambda")
    roles = {
        lambda_client.get_function_configuration(FunctionName=name)["Role"]: "function"
        for name in stack.stack.functions.values()
    }
    machine = stack.cloud.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack.stack.outputs["StateMachineArn"]
    )
    roles[machine["roleArn"]] = "state machine"
    iam = stack.cloud.client("iam")
    grants = {role: role_grants(iam, role) for role in roles}
    calls = calls_as(roles, stack.cloud.aws_calls())
    assert {call.origin for call in calls} == {"code", "lambda-service", "states"}
    assert len({call.role for call in calls}) == len(roles) == 5
    assert ungranted(calls, grants) == []
    assert unused(calls, grants, roles) == []


# --- nothing leaked --------------------------------------------------------------------------
def outputs(stack: LocalStack) -> dict[str, str]:
    """Everything a person or a consumer could read, by where it came from (infra.local.leaks)."""
    return leaks.outputs(stack.cloud, stack.session, stack.outcomes)


def test_no_recognised_text_secret_or_token_appears_anywhere(
    stack: LocalStack, matrix: Matrix
) -> None:
    secrets = [*matrix.notes["secrets"], *stack.emulator.admin.issued_tokens()]
    tokens = leaks.recognised_tokens([CARD, FORM])
    places = outputs(stack)
    found = leaks.leaks(places, leaks.Secret(frozenset(tokens), tuple(secrets), ("CANARY4711",)))
    # The scan saw what it should: histories, each function's logs, events, letters, items.
    assert len(places) > 20
    logs = "".join(text for where, text in places.items() if where.startswith("logs /aws/lambda"))
    assert '"message":"polled"' in logs
    assert '"message":"results stored"' in logs
    assert "START RequestId" in logs
    assert len(secrets) > 3
    assert found == []
    print(
        f"leak scan: {len(places)} places, {sum(map(len, places.values()))} characters, "
        f"{len(tokens)} recognised tokens, {len(secrets)} secrets and tokens: 0 found"
    )
