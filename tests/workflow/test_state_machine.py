"""Every path of the state machine, executed by moto's interpreter with the real definition, the
real handlers (in Lambda worker processes) and the Aspose emulator.

All scenarios start together and are then checked one by one: each asserts the stored objects,
the table item, the outcome event and the execution history, and that the history holds no
recognised text.
"""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.local.emulator import Timing
from infra.local.samples import id_card
from infra.stack.history import Execution
from infra.stack.waiting import wait_until
from ocr_fetch.layout import answer_key, manifest_key, region_key, submitted_key
from ocr_fetch.submission import SubmittedTask
from tests.support.local_stack import LocalStack, local_stack

pytestmark = pytest.mark.slow

CARD = id_card()
NAMES = CARD.region_names
TEXTS = [f.value for f in CARD.fields]


@dataclass
class Run:
    task_id: str
    arn: str
    execution: Execution


#: The service may say "still running" for 25 s (the deadline counts only that); the results'
#: lifetime is ten minutes after submission.
DEADLINE_SECONDS = 25
LIFETIME_SECONDS = 600


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # Tasks complete about four seconds after submission: polls at 0, 1, 3 and 7 s.
    parameters = {
        "PollDeadlineSeconds": str(DEADLINE_SECONDS),
        "ResultsLifetimeSeconds": str(LIFETIME_SECONDS),
    }
    with local_stack(parameters, timing=Timing(queue_delay_s=3.5, per_region_s=0.1)) as running:
        yield running


def start(stack: LocalStack, task_id: str, *, submitted_at: datetime | None = None) -> str:
    """Start an execution for ``task_id`` directly, as the starter would (bypassing the bus)."""
    task = SubmittedTask(
        task_id=task_id,
        region_names=tuple(NAMES),
        correlation_id=None,
        metadata=None,
        submitted_at=submitted_at or datetime.now(UTC),
        source="tests",
    )
    return stack.session.start_execution(task)


@pytest.fixture(scope="module")
def runs(stack: LocalStack) -> dict[str, Run]:
    admin = stack.emulator.admin
    faults = stack.cloud.faults
    started: dict[str, tuple[str, str]] = {}

    # Long enough in the queue for three growing waits, even when the first poll waits for a
    # dozen cold starts on a busy machine (the timeout scenario below takes 30 s anyway).
    admin.set_timing(queue_delay_s=15.0)
    completed_task = stack.submit(CARD)
    admin.set_timing(queue_delay_s=3.5)
    started["completed"] = (completed_task, start(stack, completed_task))

    def scenario(name: str, task_id: str | None = None, **kwargs: Any) -> str:
        task = task_id or stack.submit(CARD)
        started[name] = (task, start(stack, task, **kwargs))
        return task

    task = stack.submit(CARD)
    admin.inject("error", task_id=task, messages=["Image is too dark to read"])
    scenario("error", task)

    scenario("not_exist", str(uuid.uuid4()))

    task = stack.submit(CARD)
    admin.inject("unknown_status", task_id=task, value="Hibernating")
    scenario("unknown", task)

    task = stack.submit(CARD)
    admin.inject("stuck", task_id=task)
    # The service says "running" for ever: the running deadline ends it, 25 s of answers on.
    scenario("deadline", task)

    task = stack.submit(CARD)
    admin.inject("http_503", task_id=task, times=1000)
    # Submitted nearly the results' lifetime ago, and never answered: the lifetime ends it.
    long_ago = datetime.now(UTC) - timedelta(seconds=LIFETIME_SECONDS - 12)
    scenario("lifetime", task, submitted_at=long_ago)

    task = stack.submit(CARD)
    admin.inject("http_429", task_id=task, times=2, retry_after=2)
    admin.inject("http_503", task_id=task, times=2)
    scenario("throttled_then_unavailable", task)

    task = stack.submit(CARD)
    admin.inject("corrupt_base64", task_id=task, indexes=[1])
    scenario("corrupt_region", task)

    task = stack.submit(CARD)
    # JSON, but not an OCRResponse: a definite answer, and a wrong one.
    admin.inject("http_status", task_id=task, status=200, body='{"results": 5}')
    scenario("lambda_failure", task)

    # Lambda's own failures, as AWS reports them: a poll that times out once (retried), and one
    # that crashes on every attempt (caught once the Retry gives up).
    task = stack.submit(CARD)
    faults.inject("lambda_timeout", target="CheckStatusFunction", match=task)
    scenario("check_timed_out", task)

    task = stack.submit(CARD)
    faults.inject("lambda_crash", target="CheckStatusFunction", match=task, times=3)
    scenario("check_crashed", task)

    # The outcome cannot be recorded: the recording function crashes on every attempt.
    task = str(uuid.uuid4())
    faults.inject("lambda_crash", target="RecordOutcomeFunction", match=task, times=3)
    scenario("not_recorded", task)

    # The outcome cannot be published: every PutEvents attempt of the state machine fails.
    task = stack.submit(CARD)
    faults.inject("events_failed_entry", target="events:PutEvents", match=task, times=10)
    scenario("not_published", task)

    return {
        name: Run(task_id, arn, stack.session.wait_for_execution(arn, timeout=120))
        for name, (task_id, arn) in started.items()
    }


# --- helpers -------------------------------------------------------------------------------------
def assert_no_recognised_text(stack: LocalStack, run: Run) -> None:
    dumped = json.dumps(run.execution.history, default=str)
    dumped += json.dumps([run.execution.error, run.execution.cause])
    dumped += json.dumps(stack.outcome_events(run.task_id), default=str)
    dumped += json.dumps(stack.session.item(run.task_id) or {}, default=str)
    for text in TEXTS:
        assert text not in dumped
        assert base64.b64encode(text.encode()).decode().rstrip("=") not in dumped


def assert_polls_grow(run: Run, *, until_deadline: bool = False) -> None:
    """Each poll's next due time is 1, 2, 4 s on (the policy here: 1 s doubling to 4 s): whole
    seconds in the Wait state, the rest made up by the check function. Never sooner; later only
    when a poll came late; the last one shorter when it lands on the deadline."""
    due = [poll["pollAt"] for poll in run.execution.polls() if poll.get("pollAt") is not None]
    apart = [later - earlier for earlier, later in itertools.pairwise(due)]
    if until_deadline:
        apart = apart[:-1]
    assert len(apart) >= 2, due
    assert all(gap >= want - 1e-6 for gap, want in zip(apart, [2, 4, 4, 4, 4], strict=False))


def only_event(stack: LocalStack, run: Run) -> dict[str, Any]:
    events = stack.outcome_events(run.task_id)
    assert len(events) == 1, events
    event: dict[str, Any] = events[0]
    assert event["source"] == "ocr.region-results"
    assert event["detail"]["executionArn"] == run.arn
    return event


# --- paths ---------------------------------------------------------------------------------------
def test_completed_after_several_polls_with_growing_waits(
    stack: LocalStack, runs: dict[str, Run]
) -> None:
    run = runs["completed"]
    assert run.execution.status == "SUCCEEDED"
    assert run.arn.endswith(":" + run.task_id)  # named after the task id
    observed = run.execution.waits()
    assert max(observed) <= 4  # the cap
    assert_polls_grow(run)
    assert run.execution.states_entered()[-5:] == [
        "Decode And Store Results",
        "Was Outcome Recorded?",
        "Publish Outcome Event",
        "Is Recognition Completed?",
        "Results Stored",
    ]

    keys = stack.session.object_keys(run.task_id)
    for index, field in enumerate(CARD.fields):
        key = region_key(run.task_id, run.task_id, index, field.name, "txt")
        body, content_type = stack.session.read_object(key)
        assert content_type.startswith("text/plain")
        assert body.decode().strip() == field.value  # real OCR of a clean rendered line
    polls = len(run.execution.waits()) + 1
    assert answer_key(run.task_id, run.task_id, polls) in keys
    assert submitted_key(run.task_id) in keys
    manifest = json.loads(stack.session.read_object(manifest_key(run.task_id, run.task_id))[0])
    assert [r["name"] for r in manifest["regions"]] == NAMES

    item = stack.session.item(run.task_id)
    assert item is not None
    assert item["status"] == "Completed"
    assert item["responseStatusCode"] == "Ok"
    assert item["polls"] == len(observed) + 1
    assert [r["name"] for r in item["regions"]] == NAMES

    event = only_event(stack, run)
    assert event["detail-type"] == "Region Recognition Completed"
    assert event["detail"]["polls"] == len(observed) + 1
    assert event["detail"]["errorCount"] == 0
    assert [r["s3Key"] for r in event["detail"]["regions"]] == [
        region_key(run.task_id, run.task_id, i, n, "txt") for i, n in enumerate(NAMES)
    ]
    assert len(stack.polls_received(run.task_id)) == len(observed) + 1  # one request per poll
    assert_no_recognised_text(stack, run)


def test_service_error_is_recorded_and_fails_the_execution(
    stack: LocalStack, runs: dict[str, Run]
) -> None:
    run = runs["error"]
    assert run.execution.status == "FAILED"
    assert run.execution.error == "RecognitionError"
    assert "Record Recognition Error" in run.execution.states_entered()
    event = only_event(stack, run)
    assert event["detail-type"] == "Region Recognition Failed"
    assert event["detail"]["error"] == {
        "name": "RecognitionError",
        "message": "Image is too dark to read",
    }
    raw = answer_key(run.task_id, run.task_id, event["detail"]["polls"])
    assert event["detail"]["results"]["rawKey"] == raw
    item = stack.session.item(run.task_id)
    assert item is not None
    assert (item["status"], item["errorName"]) == ("Failed", "RecognitionError")
    # the raw answer, beside the facts the submitter gave
    assert stack.session.object_keys(run.task_id) == sorted([raw, submitted_key(run.task_id)])
    assert_no_recognised_text(stack, run)


def test_not_exist_is_recorded_as_not_found(stack: LocalStack, runs: dict[str, Run]) -> None:
    run = runs["not_exist"]
    assert run.execution.status == "FAILED"
    assert run.execution.error == "TaskNotFound"
    assert "Record Task Not Found" in run.execution.states_entered()
    event = only_event(stack, run)
    assert event["detail-type"] == "Region Recognition Not Found"
    assert event["detail"]["polls"] == 1
    item = stack.session.item(run.task_id)
    assert item is not None
    assert item["status"] == "NotFound"
    assert stack.session.object_keys(run.task_id) == [submitted_key(run.task_id)]


def test_unknown_status_takes_the_default_route(stack: LocalStack, runs: dict[str, Run]) -> None:
    run = runs["unknown"]
    assert run.execution.status == "FAILED"
    assert run.execution.error == "UnknownTaskStatus"
    assert "Record Unknown Status" in run.execution.states_entered()
    event = only_event(stack, run)
    assert event["detail-type"] == "Region Recognition Failed"
    assert "Hibernating" in event["detail"]["error"]["message"]
    assert event["detail"]["taskStatus"] == "Hibernating"
    # Nothing is lost: the answer that could not be routed is kept.
    raw = answer_key(run.task_id, run.task_id, event["detail"]["polls"])
    assert raw in stack.session.object_keys(run.task_id)
    assert_no_recognised_text(stack, run)


def test_deadline_reached_gives_up_with_the_last_wait_landing_on_it(
    stack: LocalStack, runs: dict[str, Run]
) -> None:
    run = runs["deadline"]
    assert run.execution.status == "FAILED"
    assert run.execution.error == "DeadlineReached"
    assert "Record Timed Out" in run.execution.states_entered()
    observed = run.execution.waits()
    assert_polls_grow(run, until_deadline=True)
    # the service said "running" from the first poll on: from it to the last is the deadline,
    # the last poll landing on it, never past it
    polls = run.execution.polls()
    assert DEADLINE_SECONDS <= polls[-1]["runningSeconds"] <= DEADLINE_SECONDS + 1
    assert polls[-1]["lastPollAt"] - polls[0]["lastPollAt"] <= DEADLINE_SECONDS + 1
    event = only_event(stack, run)
    assert event["detail-type"] == "Region Recognition Timed Out"
    assert event["detail"]["error"]["name"] == "DeadlineReached"
    assert "service saying it was running" in event["detail"]["error"]["message"]
    assert event["detail"]["polls"] == len(observed) + 1
    item = stack.session.item(run.task_id)
    assert item is not None
    assert item["status"] == "TimedOut"


def test_no_answer_until_the_lifetime_gives_up_then_saying_so(
    stack: LocalStack, runs: dict[str, Run]
) -> None:
    run = runs["lifetime"]
    assert run.execution.status == "FAILED"
    assert run.execution.error == "ResultsLifetimeReached"
    polls = run.execution.polls()
    assert {p["status"] for p in polls} == {"Unavailable"}
    # none of it counted against the running deadline or the poll budget
    assert (polls[-1]["runningSeconds"], polls[-1]["answeredPolls"]) == (0, 0)
    event = only_event(stack, run)
    assert event["detail"]["error"]["name"] == "ResultsLifetimeReached"
    assert "AsposeUnavailableError" in event["detail"]["error"]["message"]


def test_429_and_503_are_survived(stack: LocalStack, runs: dict[str, Run]) -> None:
    run = runs["throttled_then_unavailable"]
    assert run.execution.status == "SUCCEEDED"
    statuses = [r["status"] for r in stack.polls_received(run.task_id)]
    assert statuses[:4] == [429, 429, 503, 503]
    assert statuses[-1] == 200
    # 429: waited out as a Throttled poll, honouring Retry-After (2 s, longer than the policy's 1 s)
    assert run.execution.waits()[0] == 2
    # 503: not an answer about the task either: an Unavailable poll, waited out the same way
    polls = run.execution.polls()
    assert [p["status"] for p in polls] == [
        "Throttled",
        "Throttled",
        "Unavailable",
        "Unavailable",
        "Completed",
    ]
    assert polls[2]["transientCause"]["name"] == "AsposeUnavailableError"
    assert not [e for e in run.execution.history if e["type"] == "TaskFailed"]
    event = only_event(stack, run)
    assert event["detail-type"] == "Region Recognition Completed"
    assert_no_recognised_text(stack, run)


def test_401_mid_poll_refreshes_the_token_once(stack: LocalStack, runs: dict[str, Run]) -> None:
    # Alone (after the concurrent runs), so no other execution refreshes the shared token first.
    task_id = stack.submit(CARD)
    arn = start(stack, task_id)
    wait_until(lambda: stack.polls_received(task_id), timeout=30, what="the first poll")
    # Every issued token stops working: the next poll gets a 401, refreshes once, carries on.
    stack.emulator.admin.revoke_tokens()
    run = Run(task_id, arn, stack.session.wait_for_execution(arn))

    assert run.execution.status == "SUCCEEDED"
    statuses = [r["status"] for r in stack.polls_received(run.task_id)]
    assert 401 in statuses
    assert statuses[statuses.index(401) + 1 :][:1] == [200]  # the retry with a fresh token
    assert not [e for e in run.execution.history if e["type"] == "TaskFailed"]
    assert only_event(stack, run)["detail-type"] == "Region Recognition Completed"


def test_one_corrupt_region_among_good_ones(stack: LocalStack, runs: dict[str, Run]) -> None:
    run = runs["corrupt_region"]
    assert run.execution.status == "SUCCEEDED"
    event = only_event(stack, run)
    regions = event["detail"]["regions"]
    assert [r["error"] for r in regions] == [None, "invalid_base64", None, None, None]
    assert event["detail"]["errorCount"] == 1
    keys = stack.session.object_keys(run.task_id)
    assert region_key(run.task_id, run.task_id, 1, "given_names", "txt") not in keys
    body, _ = stack.session.read_object(region_key(run.task_id, run.task_id, 0, "surname", "txt"))
    assert body.decode().strip() == "MUSTERMANN"
    item = stack.session.item(run.task_id)
    assert item is not None
    assert item["regions"][1]["error"] == "invalid_base64"
    assert item["errorCount"] == 1
    assert_no_recognised_text(stack, run)


def test_a_lambda_failure_is_caught_and_recorded(stack: LocalStack, runs: dict[str, Run]) -> None:
    run = runs["lambda_failure"]
    assert run.execution.status == "FAILED"
    assert run.execution.error == "AsposeProtocolError"
    failures = [
        e["taskFailedEventDetails"]["error"]
        for e in run.execution.history
        if e["type"] == "TaskFailed"
    ]
    assert failures == ["AsposeProtocolError", "AsposeProtocolError"]  # retried once, then caught
    assert "Record Workflow Failure" in run.execution.states_entered()
    event = only_event(stack, run)
    assert event["detail-type"] == "Region Recognition Failed"
    assert event["detail"]["error"]["name"] == "AsposeProtocolError"
    assert "results must be a list" in event["detail"]["error"]["message"]
    item = stack.session.item(run.task_id)
    assert item is not None
    assert (item["status"], item["errorName"]) == ("Failed", "AsposeProtocolError")


# --- Lambda's own failures and the outcome's last steps ---------------------------------------
def test_a_poll_that_times_out_is_retried_under_lambdas_error_name(
    stack: LocalStack, runs: dict[str, Run]
) -> None:
    # Given a CheckStatus invocation that ran past its Timeout once
    run = runs["check_timed_out"]
    failures = [
        e["taskFailedEventDetails"] for e in run.execution.history if e["type"] == "TaskFailed"
    ]
    # Then Step Functions saw the error AWS reports, its Retry ran the poll again, and it completed
    assert [f["error"] for f in failures] == ["Sandbox.Timedout"]
    assert json.loads(failures[0]["cause"])["errorType"] == "Sandbox.Timedout"
    assert run.execution.status == "SUCCEEDED"
    assert only_event(stack, run)["detail-type"] == "Region Recognition Completed"


def test_a_poll_that_crashes_beyond_its_retries_fails_the_task_naming_it(
    stack: LocalStack, runs: dict[str, Run]
) -> None:
    # Given a CheckStatus whose process dies on every attempt
    run = runs["check_crashed"]
    failures = [e for e in run.execution.history if e["type"] == "TaskFailed"]
    # Then it was tried three times, then caught and recorded under Lambda's error name
    assert [e["taskFailedEventDetails"]["error"] for e in failures] == ["Runtime.ExitError"] * 3
    assert "Record Workflow Failure" in run.execution.states_entered()
    assert run.execution.status == "FAILED"
    assert run.execution.error == "Runtime.ExitError"
    event = only_event(stack, run)
    assert event["detail-type"] == "Region Recognition Failed"
    assert event["detail"]["error"]["name"] == "Runtime.ExitError"
    item = stack.session.item(run.task_id)
    assert item is not None
    assert (item["status"], item["errorName"]) == ("Failed", "Runtime.ExitError")


def test_an_outcome_that_cannot_be_recorded_fails_the_execution_by_name(
    stack: LocalStack, runs: dict[str, Run]
) -> None:
    # Given a task the service does not know, whose recording function crashes
    run = runs["not_recorded"]
    # Then the workflow ends in Outcome Not Recorded: no item, no event, a named error
    assert run.execution.states_entered()[-2:] == ["Record Task Not Found", "Outcome Not Recorded"]
    assert run.execution.status == "FAILED"
    assert run.execution.error == "OutcomeNotRecorded"
    assert stack.session.item(run.task_id) is None
    assert stack.outcome_events(run.task_id) == []


def test_an_outcome_that_cannot_be_published_fails_the_execution_by_name(
    stack: LocalStack, runs: dict[str, Run]
) -> None:
    # Given a completed task whose every PutEvents attempt is refused by EventBridge
    run = runs["not_published"]
    # Then Publish was retried, then left uncaught: the execution failed there, named, so an
    # alarm sees it and a redrive publishes the recorded outcome
    publish = next(s for s in run.execution.steps if s.name == "Publish Outcome Event")
    assert publish.errors == ("EventBridge.FailedEntry",) * 7  # the first try and 6 retries
    assert run.execution.states_entered()[-1] == "Publish Outcome Event"
    assert run.execution.status == "FAILED"
    assert run.execution.error == "EventBridge.FailedEntry"
    # And the results and the record are there; only the announcement is missing
    item = stack.session.item(run.task_id)
    assert item is not None
    assert item["status"] == "Completed"
    assert stack.outcome_events(run.task_id) == []


def test_a_later_worse_outcome_is_superseded(stack: LocalStack, runs: dict[str, Run]) -> None:
    # Given a task whose Completed outcome is recorded and published
    completed = runs["completed"]
    assert len(only_event(stack, completed)["detail"]["regions"]) == len(NAMES)
    # When it is fetched again on purpose after the service has forgotten it
    stack.emulator.admin.inject("expire", task_id=completed.task_id)
    refetch = SubmittedTask(
        task_id=completed.task_id,
        region_names=tuple(NAMES),
        correlation_id=None,
        metadata=None,
        submitted_at=datetime.now(UTC),
        refetch="again",
    )
    arn = stack.session.start_execution(refetch)
    execution = stack.session.wait_for_execution(arn, timeout=60)
    # Then Not Found does not replace Completed: the execution ends Superseded, nothing announced
    assert execution.name == f"{completed.task_id}-again"
    assert execution.states_entered()[-3:] == [
        "Record Task Not Found",
        "Was Outcome Recorded?",
        "Superseded By Earlier Outcome",
    ]
    assert execution.status == "SUCCEEDED"
    item = stack.session.item(completed.task_id)
    assert item is not None
    assert item["status"] == "Completed"
    assert item["executionArn"] == completed.arn  # the first run's results stand
    assert len(stack.outcome_events(completed.task_id)) == 1
