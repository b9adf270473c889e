"""Every path of the state machine, executed by moto's interpreter with the real definition, the
real handlers (through the Lambda bridge) and the Aspose emulator.

All scenarios start together and are then checked one by one: each asserts the stored objects,
the table item, the outcome event and the execution history, and that the history holds no
recognised text.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from infra.emulator import Timing
from infra.samples import id_card
from infra.waiting import wait_until
from tests.support.local_stack import LocalStack, local_stack

pytestmark = pytest.mark.slow

CARD = id_card()
NAMES = CARD.region_names
TEXTS = [f.value for f in CARD.fields]


@dataclass
class Run:
    task_id: str
    arn: str
    execution: dict[str, Any]
    history: list[dict[str, Any]]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # Tasks complete about four seconds after submission: polls at 0, 1, 3 and 7 s.
    with local_stack(timing=Timing(queue_delay_s=3.5, per_region_s=0.1)) as running:
        yield running


@pytest.fixture(scope="module")
def runs(stack: LocalStack) -> dict[str, Run]:
    admin = stack.emulator.admin
    started: dict[str, tuple[str, str]] = {}

    def start(name: str, task_id: str, **extra: Any) -> None:
        started[name] = (task_id, stack.start_execution(task_id, NAMES, **extra))

    # Long enough in the queue for three growing waits, whatever the machine's speed.
    admin.set_timing(queue_delay_s=8.0)
    completed_task = stack.submit(CARD)
    admin.set_timing(queue_delay_s=3.5)
    start("completed", completed_task)

    task = stack.submit(CARD)
    admin.inject("error", task_id=task, messages=["Image is too dark to read"])
    start("error", task)

    start("not_exist", str(uuid.uuid4()))

    task = stack.submit(CARD)
    admin.inject("unknown_status", task_id=task, value="Hibernating")
    start("unknown", task)

    task = stack.submit(CARD)
    admin.inject("stuck", task_id=task)
    long_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 80))
    start("deadline", task, submittedAt=long_ago)  # the deadline is 90 s after submission

    task = stack.submit(CARD)
    admin.inject("http_429", task_id=task, times=2, retry_after=2)
    admin.inject("http_503", task_id=task, times=2)
    start("throttled_then_unavailable", task)

    task = stack.submit(CARD)
    admin.inject("corrupt_base64", task_id=task, indexes=[1])
    start("corrupt_region", task)

    task = stack.submit(CARD)
    admin.inject("not_json", task_id=task)
    start("lambda_failure", task)

    return {
        name: Run(task_id, arn, stack.wait_for_execution(arn, timeout=120), stack.history(arn))
        for name, (task_id, arn) in started.items()
    }


# --- helpers -------------------------------------------------------------------------------------
def states_entered(run: Run) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in run.history
        if e["type"].endswith("StateEntered")
    ]


def waits(run: Run) -> list[int]:
    """The seconds each Wait state was given (from its input: ids and counters only)."""
    return [
        json.loads(e["stateEnteredEventDetails"]["input"])["poll"]["waitSeconds"]
        for e in run.history
        if e["type"] == "WaitStateEntered"
    ]


def assert_no_recognised_text(stack: LocalStack, run: Run) -> None:
    dumped = json.dumps(run.history, default=str) + json.dumps(run.execution, default=str)
    dumped += json.dumps(stack.outcome_events(run.task_id), default=str)
    dumped += json.dumps(stack.item(run.task_id) or {}, default=str)
    for text in TEXTS:
        assert text not in dumped
        assert base64.b64encode(text.encode()).decode().rstrip("=") not in dumped


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
    assert run.execution["status"] == "SUCCEEDED"
    assert run.arn.endswith(":" + run.task_id)  # named after the task id
    observed = waits(run)
    assert observed[:3] == [1, 2, 4]
    assert observed == sorted(observed)  # growing, never shrinking
    assert max(observed) == 4  # the cap
    assert states_entered(run)[-5:] == [
        "Decode And Store Results",
        "Was Outcome Recorded?",
        "Publish Outcome Event",
        "Is Recognition Completed?",
        "Results Stored",
    ]

    keys = stack.s3_keys(run.task_id)
    for index, field in enumerate(CARD.fields):
        body, content_type = stack.s3_object(f"results/{run.task_id}/{index}-{field.name}.txt")
        assert content_type.startswith("text/plain")
        assert body.decode().strip() == field.value  # real OCR of a clean rendered line
    assert f"results/{run.task_id}/raw.json" in keys
    manifest = json.loads(stack.s3_object(f"results/{run.task_id}/manifest.json")[0])
    assert [r["name"] for r in manifest["regions"]] == NAMES

    item = stack.item(run.task_id)
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
        f"results/{run.task_id}/{i}-{n}.txt" for i, n in enumerate(NAMES)
    ]
    assert len(stack.polls_received(run.task_id)) == len(observed) + 1  # one request per poll
    assert_no_recognised_text(stack, run)


def test_service_error_is_recorded_and_fails_the_execution(
    stack: LocalStack, runs: dict[str, Run]
) -> None:
    run = runs["error"]
    assert run.execution["status"] == "FAILED"
    assert run.execution.get("error") == "RecognitionError"
    assert "Record Recognition Error" in states_entered(run)
    event = only_event(stack, run)
    assert event["detail-type"] == "Region Recognition Failed"
    assert event["detail"]["error"] == {
        "name": "RecognitionError",
        "message": "Image is too dark to read",
    }
    assert event["detail"]["results"]["rawKey"] == f"results/{run.task_id}/raw.json"
    item = stack.item(run.task_id)
    assert item is not None
    assert (item["status"], item["errorName"]) == ("Failed", "RecognitionError")
    assert stack.s3_keys(run.task_id) == [f"results/{run.task_id}/raw.json"]
    assert_no_recognised_text(stack, run)


def test_not_exist_is_recorded_as_not_found(stack: LocalStack, runs: dict[str, Run]) -> None:
    run = runs["not_exist"]
    assert run.execution["status"] == "FAILED"
    assert run.execution.get("error") == "TaskNotFound"
    assert "Record Task Not Found" in states_entered(run)
    event = only_event(stack, run)
    assert event["detail-type"] == "Region Recognition Not Found"
    assert event["detail"]["polls"] == 1
    item = stack.item(run.task_id)
    assert item is not None
    assert item["status"] == "NotFound"
    assert stack.s3_keys(run.task_id) == []


def test_unknown_status_takes_the_default_route(stack: LocalStack, runs: dict[str, Run]) -> None:
    run = runs["unknown"]
    assert run.execution["status"] == "FAILED"
    assert run.execution.get("error") == "UnknownTaskStatus"
    assert "Record Unknown Status" in states_entered(run)
    event = only_event(stack, run)
    assert event["detail-type"] == "Region Recognition Failed"
    assert "Hibernating" in event["detail"]["error"]["message"]
    assert event["detail"]["taskStatus"] == "Hibernating"
    # Nothing is lost: the answer that could not be routed is kept.
    assert f"results/{run.task_id}/raw.json" in stack.s3_keys(run.task_id)
    assert_no_recognised_text(stack, run)


def test_deadline_reached_gives_up_with_the_last_wait_landing_on_it(
    stack: LocalStack, runs: dict[str, Run]
) -> None:
    run = runs["deadline"]
    assert run.execution["status"] == "FAILED"
    assert run.execution.get("error") == "DeadlineReached"
    assert "Record Timed Out" in states_entered(run)
    observed = waits(run)
    assert observed[:3] == [1, 2, 4]
    assert sum(observed) <= 10 + 1  # never waits past the deadline (80 s + ~10 s)
    event = only_event(stack, run)
    assert event["detail-type"] == "Region Recognition Timed Out"
    assert event["detail"]["error"]["name"] == "DeadlineReached"
    assert event["detail"]["polls"] == len(observed) + 1
    item = stack.item(run.task_id)
    assert item is not None
    assert item["status"] == "TimedOut"


def test_429_and_503_are_survived(stack: LocalStack, runs: dict[str, Run]) -> None:
    run = runs["throttled_then_unavailable"]
    assert run.execution["status"] == "SUCCEEDED"
    statuses = [r["status"] for r in stack.polls_received(run.task_id)]
    assert statuses[:4] == [429, 429, 503, 503]
    assert statuses[-1] == 200
    # 429: waited out as a Throttled poll, honouring Retry-After (2 s, longer than the policy's 1 s)
    assert waits(run)[0] == 2
    # 503: the Lambda failed with AsposeUnavailableError and the Task's Retry tried again
    failures = [e for e in run.history if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failures] == [
        "AsposeUnavailableError",
        "AsposeUnavailableError",
    ]
    event = only_event(stack, run)
    assert event["detail-type"] == "Region Recognition Completed"
    assert_no_recognised_text(stack, run)


def test_401_mid_poll_refreshes_the_token_once(stack: LocalStack, runs: dict[str, Run]) -> None:
    # Alone (after the concurrent runs), so no other execution refreshes the shared token first.
    task_id = stack.submit(CARD)
    arn = stack.start_execution(task_id, NAMES)
    wait_until(lambda: stack.polls_received(task_id), timeout=30, what="the first poll")
    # Every issued token stops working: the next poll gets a 401, refreshes once, carries on.
    stack.emulator.admin.revoke_tokens()
    execution = stack.wait_for_execution(arn)
    run = Run(task_id, arn, execution, stack.history(arn))

    assert run.execution["status"] == "SUCCEEDED"
    statuses = [r["status"] for r in stack.polls_received(run.task_id)]
    assert 401 in statuses
    assert statuses[statuses.index(401) + 1 :][:1] == [200]  # the retry with a fresh token
    assert not [e for e in run.history if e["type"] == "TaskFailed"]
    assert only_event(stack, run)["detail-type"] == "Region Recognition Completed"


def test_one_corrupt_region_among_good_ones(stack: LocalStack, runs: dict[str, Run]) -> None:
    run = runs["corrupt_region"]
    assert run.execution["status"] == "SUCCEEDED"
    event = only_event(stack, run)
    regions = event["detail"]["regions"]
    assert [r["error"] for r in regions] == [None, "invalid_base64", None, None, None]
    assert event["detail"]["errorCount"] == 1
    keys = stack.s3_keys(run.task_id)
    assert f"results/{run.task_id}/1-given_names.txt" not in keys
    body, _ = stack.s3_object(f"results/{run.task_id}/0-surname.txt")
    assert body.decode().strip() == "MUSTERMANN"
    item = stack.item(run.task_id)
    assert item is not None
    assert item["regions"][1]["error"] == "invalid_base64"
    assert item["errorCount"] == 1
    assert_no_recognised_text(stack, run)


def test_a_lambda_failure_is_caught_and_recorded(stack: LocalStack, runs: dict[str, Run]) -> None:
    run = runs["lambda_failure"]
    assert run.execution["status"] == "FAILED"
    assert run.execution.get("error") == "AsposeProtocolError"
    failures = [
        e["taskFailedEventDetails"]["error"] for e in run.history if e["type"] == "TaskFailed"
    ]
    assert failures == ["AsposeProtocolError", "AsposeProtocolError"]  # retried once, then caught
    assert "Record Workflow Failure" in states_entered(run)
    event = only_event(stack, run)
    assert event["detail-type"] == "Region Recognition Failed"
    assert event["detail"]["error"]["name"] == "AsposeProtocolError"
    assert "not JSON" in event["detail"]["error"]["message"]
    item = stack.item(run.task_id)
    assert item is not None
    assert (item["status"], item["errorName"]) == ("Failed", "AsposeProtocolError")
