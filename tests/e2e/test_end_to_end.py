"""End to end, through the public contract only: a `Region Recognition Submitted` event on the
stack's bus in, outcome events out (a test consumer: rule on the bus -> SQS), results read from
S3 and DynamoDB. The template, state machine and handlers are the real ones, on moto, with the
Aspose emulator.

Every scenario is put on the bus at once (as traffic would arrive) and then checked one by one.
"""

from __future__ import annotations

import difflib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.emulator import Timing
from infra.local.samples import registration_form
from infra.stack.waiting import wait_until
from ocr_fetch.layout import manifest_key, submitted_key
from tests.support.local_stack import LocalStack, local_stack

pytestmark = pytest.mark.slow

FORM = registration_form()
NAMES = FORM.region_names
BURST = 20


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # A 30-second deadline so the stuck task times out within the test run.
    with local_stack(
        parameters={"PollDeadlineSeconds": "30"},
        timing=Timing(queue_delay_s=1.5, per_region_s=0.05),
    ) as running:
        yield running


def detail(task_id: str, **extra: Any) -> dict[str, Any]:
    return {"taskId": task_id, "regions": [{"name": n} for n in NAMES], **extra}


@pytest.fixture(scope="module")
def tasks(stack: LocalStack) -> dict[str, Any]:
    admin = stack.emulator.admin
    ids: dict[str, Any] = {
        "completed": stack.submit(FORM),
        "error": stack.submit(FORM),
        "not_exist": str(uuid.uuid4()),
        "timed_out": stack.submit(FORM),
        "storm": stack.submit(FORM),
        "duplicate": stack.submit(FORM),
        "burst": [stack.submit(FORM) for _ in range(BURST)],
    }
    admin.inject("error", task_id=ids["error"], messages=["Unsupported image content"])
    admin.inject("stuck", task_id=ids["timed_out"])
    admin.inject("http_429", task_id=ids["storm"], times=3, retry_after=1)
    admin.inject("http_503", task_id=ids["storm"], times=3)

    stack.session.announce_detail(
        detail(ids["completed"], correlationId="order-17", metadata={"tenant": "acme", "n": 1})
    )
    for name in ("error", "not_exist", "timed_out", "storm"):
        stack.session.announce_detail(detail(ids[name]))
    stack.session.announce_detail(detail(ids["duplicate"]))
    stack.session.announce_detail(
        detail(ids["duplicate"])
    )  # the same announcement, delivered twice
    for task_id in ids["burst"]:
        stack.session.announce_detail(detail(task_id))
    stack.session.announce_detail(detail("not-a-guid"))
    stack.session.announce_detail({"regions": [{"name": "no task id"}]})
    # EventBridge itself refuses a detail that is not a JSON object; an oversized one gets through.
    stack.session.announce_detail(detail(str(uuid.uuid4()), metadata={"blob": "x" * 3000}))
    return ids


def outcome(stack: LocalStack, task_id: str, timeout: float = 90) -> dict[str, Any]:
    """The task's one outcome event (waiting for the task to end)."""
    ended = stack.outcome(task_id, timeout=timeout)
    events = stack.outcome_events(task_id)
    assert len(events) == 1, f"{len(events)} outcome events for {task_id}: {ended.execution}"
    event: dict[str, Any] = events[0]
    return event


def executions_named(stack: LocalStack, name: str) -> list[dict[str, Any]]:
    return [e for e in stack.session.executions(name) if e["name"] == name]


def similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.strip(), b.strip()).ratio()


def test_completed_task_is_stored_and_announced(stack: LocalStack, tasks: dict[str, Any]) -> None:
    task_id = tasks["completed"]
    event = outcome(stack, task_id)
    assert event["detail-type"] == "Region Recognition Completed"
    assert event["source"] == "ocr.region-results"
    body = event["detail"]
    assert body["status"] == "Completed"
    assert body["correlationId"] == "order-17"
    assert body["metadata"] == {"tenant": "acme", "n": 1}
    assert [r["name"] for r in body["regions"]] == NAMES
    assert body["results"]["manifestKey"] == manifest_key(task_id, task_id)
    for region, field in zip(body["regions"], FORM.fields, strict=True):
        assert field.value not in json.dumps(event)  # ids and keys, never the text
        data, content_type = stack.session.read_object(region["s3Key"])
        assert content_type == region["contentType"]
        assert similar(data.decode(), field.value) >= 0.8, (field.value, data)
    item = stack.session.item(task_id)
    assert item is not None
    assert item["status"] == "Completed"
    assert item["correlationId"] == "order-17"
    assert [r["s3Key"] for r in item["regions"]] == [r["s3Key"] for r in body["regions"]]
    assert int(item["expiresAt"]) > time.time() + 29 * 86400  # ResultsRetentionDays = 30


def test_execution_is_named_after_the_task_id(stack: LocalStack, tasks: dict[str, Any]) -> None:
    task_id = tasks["completed"]
    outcome(stack, task_id)
    (execution,) = executions_named(stack, task_id)
    assert execution["status"] == "SUCCEEDED"
    assert outcome(stack, task_id)["detail"]["executionArn"] == execution["executionArn"]


def test_service_error_is_announced_as_failed(stack: LocalStack, tasks: dict[str, Any]) -> None:
    event = outcome(stack, tasks["error"])
    assert event["detail-type"] == "Region Recognition Failed"
    assert event["detail"]["error"] == {
        "name": "RecognitionError",
        "message": "Unsupported image content",
    }
    item = stack.session.item(tasks["error"])
    assert item is not None
    assert item["status"] == "Failed"


def test_unknown_task_is_announced_as_not_found(stack: LocalStack, tasks: dict[str, Any]) -> None:
    event = outcome(stack, tasks["not_exist"])
    assert event["detail-type"] == "Region Recognition Not Found"
    assert event["detail"]["error"]["name"] == "TaskNotFound"
    # nothing but what the submitter gave
    assert stack.session.object_keys(tasks["not_exist"]) == [submitted_key(tasks["not_exist"])]


def test_a_task_that_never_finishes_times_out(stack: LocalStack, tasks: dict[str, Any]) -> None:
    event = outcome(stack, tasks["timed_out"], timeout=120)
    assert event["detail-type"] == "Region Recognition Timed Out"
    assert event["detail"]["error"]["name"] == "DeadlineReached"
    polls = stack.polls_received(tasks["timed_out"])
    assert len(polls) == event["detail"]["polls"]
    # 30 s with waits of 1, 2, 4, 4, ... is about ten polls, not a poll a second.
    assert len(polls) <= 12
    item = stack.session.item(tasks["timed_out"])
    assert item is not None
    assert item["status"] == "TimedOut"


def test_429_and_503_storms_are_survived(stack: LocalStack, tasks: dict[str, Any]) -> None:
    event = outcome(stack, tasks["storm"])
    assert event["detail-type"] == "Region Recognition Completed"
    statuses = [r["status"] for r in stack.polls_received(tasks["storm"])]
    assert statuses.count(429) == 3
    assert statuses.count(503) == 3
    assert statuses[-1] == 200


def test_a_duplicate_submission_starts_one_execution(
    stack: LocalStack, tasks: dict[str, Any]
) -> None:
    task_id = tasks["duplicate"]
    outcome(stack, task_id)
    assert len(executions_named(stack, task_id)) == 1
    # Announcing a finished task again starts nothing either.
    stack.session.announce_detail(detail(task_id))
    assert len(executions_named(stack, task_id)) == 1
    assert len(stack.outcome_events(task_id)) == 1


def test_malformed_events_reach_the_dlq_and_start_nothing(
    stack: LocalStack, tasks: dict[str, Any]
) -> None:
    outcome(stack, tasks["completed"])  # the start path has processed the whole burst
    reasons: list[str | None] = []

    def drained() -> list[str | None] | None:
        reasons.extend(d.reason for d in stack.session.dead_letters(consume=True))
        return reasons if len(reasons) >= 3 else None

    wait_until(drained, timeout=30, what="three malformed events in the DLQ")
    texts = [str(reason) for reason in reasons]
    assert len(texts) == 3, texts
    assert any("not a GUID" in r for r in texts)
    assert any("taskId is missing" in r for r in texts)
    assert any("metadata is" in r for r in texts)  # 3000 bytes, more than the 2 KiB allowed
    assert executions_named(stack, "not-a-guid") == []


def test_twenty_tasks_at_once_all_complete_with_nothing_lost(
    stack: LocalStack, tasks: dict[str, Any]
) -> None:
    for task_id in tasks["burst"]:
        event = outcome(stack, task_id, timeout=120)
        assert event["detail-type"] == "Region Recognition Completed"
        assert event["detail"]["errorCount"] == 0
        assert len(executions_named(stack, task_id)) == 1
        item = stack.session.item(task_id)
        assert item is not None
        assert item["status"] == "Completed"
        keys = stack.session.object_keys(task_id)
        # the regions, the raw response, the manifest, the names the submitter gave
        assert len(keys) == len(NAMES) + 3
