"""Outcome events: what lands on the bus, what never does, and how failures surface."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber
from moto import mock_aws

from ocr_fetch.bucket import ResultBucket
from ocr_fetch.decoding import DecodedRegion, decode_results
from ocr_fetch.errors import EventPublishError
from ocr_fetch.events import (
    MAX_BATCH_ENTRIES,
    MAX_ENTRY_BYTES,
    MAX_PUT_ATTEMPTS,
    SOURCE,
    Event,
    EventPublisher,
    Retries,
    build_outcome_detail,
    build_submitted_detail,
    encoded_size,
)
from ocr_fetch.handlers.workflow_state import STATE_BUDGET_BYTES, outcome_payload
from ocr_fetch.outcome import Outcome, OutcomeKind, RegionRecord, TaskRun
from ocr_fetch.storing import store_completed
from ocr_fetch.table import ResultTable
from tests.unit.fixtures_aws import (
    BUCKET,
    BUS,
    REGION,
    TABLE,
    TEXTS,
    create_results_bucket_and_table,
    fixture_response,
    offline_aws_env,
)

TASK = "2ce30237-86da-41ef-88e9-84f0b7acffc0"
ARN = "arn:aws:states:us-east-1:123456789012:execution:FetchResults:run-1"


@pytest.fixture
def bus_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A bus whose rule sends every event of SOURCE to an SQS queue; yields the queue URL."""
    offline_aws_env(monkeypatch)
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        events.create_event_bus(Name=BUS)
        queue_url = sqs.create_queue(QueueName="ocr-outcomes")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name="all-outcomes",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": [SOURCE]}),
        )
        events.put_targets(
            Rule="all-outcomes", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}]
        )
        yield queue_url


def received(queue_url: str, count: int, deadline_seconds: float = 5) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + deadline_seconds
    while len(messages) < count and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        messages.extend(json.loads(m["Body"]) for m in answer.get("Messages", []))
    return messages


def completed_outcome() -> Outcome:
    response = fixture_response()
    report = decode_results(
        response,
        region_names=["name", "address", "passport", "broken"],
        expected_count=None,
        max_bytes=1 << 20,
    )
    return Outcome(
        task_id=TASK,
        kind=OutcomeKind.COMPLETED,
        task_status="Completed",
        response_status_code="Ok",
        execution_arn=ARN,
        polls=3,
        bucket=BUCKET,
        raw_key=f"results/{TASK}/raw.json",
        manifest_key=f"results/{TASK}/manifest.json",
        regions=tuple(
            r.to_record(f"results/{TASK}/{r.index}.txt" if isinstance(r, DecodedRegion) else None)
            for r in report.regions
        ),
        expected_region_count=4,
        received_result_count=4,
    )


# --- the detail -----------------------------------------------------------------------------------
def test_a_completed_detail_points_at_the_results() -> None:
    detail = build_outcome_detail(completed_outcome())

    assert detail["taskId"] == TASK
    assert (detail["status"], detail["taskStatus"], detail["responseStatusCode"]) == (
        "Completed",
        "Completed",
        "Ok",
    )
    assert detail["executionArn"] == ARN
    assert detail["polls"] == 3
    assert detail["results"] == {
        "bucket": BUCKET,
        "prefix": f"results/{TASK}/",
        "manifestKey": f"results/{TASK}/manifest.json",
        "rawKey": f"results/{TASK}/raw.json",
    }
    assert detail["regions"][0] == {
        "index": 0,
        "name": "name",
        "type": "Text",
        "contentType": "text/plain; charset=utf-8",
        "s3Key": f"results/{TASK}/0.txt",
        "size": len(TEXTS[0]),
        "error": None,
        "errorMessage": None,
    }
    assert detail["regions"][3]["error"] == "invalid_base64"
    assert (detail["regionCount"], detail["errorCount"], detail["countMismatch"]) == (4, 1, False)
    assert (detail["expectedRegionCount"], detail["receivedResultCount"]) == (4, 4)
    assert "error" not in detail
    assert "correlationId" not in detail
    assert "metadata" not in detail
    assert "regionsTruncated" not in detail


def test_a_failed_detail_names_the_error() -> None:
    outcome = Outcome(
        task_id=TASK,
        kind=OutcomeKind.FAILED,
        task_status="Error",
        error_name="AsposeTaskError",
        error_message="image could not be read",
        correlation_id="order-77",
        metadata={"tenant": "acme", "weight": Decimal("1.5"), "n": Decimal(3)},
    )

    detail = build_outcome_detail(outcome)

    assert detail["error"] == {"name": "AsposeTaskError", "message": "image could not be read"}
    assert detail["correlationId"] == "order-77"
    assert detail["metadata"] == {"tenant": "acme", "weight": 1.5, "n": 3}
    assert json.loads(json.dumps(detail)) == detail


def test_the_detail_never_holds_recognised_text() -> None:
    encoded = json.dumps(build_outcome_detail(completed_outcome()))

    for text in TEXTS:
        assert text not in encoded


def test_too_many_regions_are_cut_to_fit_eventbridge() -> None:
    regions = tuple(
        RegionRecord(
            index=i,
            name=f"region-{i:05d}-" + "n" * 40,
            type="Text",
            content_type="text/plain; charset=utf-8",
            s3_key=f"results/{TASK}/{i}-region-{i:05d}-" + "n" * 40 + ".txt",
            size=100,
        )
        for i in range(5000)
    )
    outcome = Outcome(task_id=TASK, kind=OutcomeKind.COMPLETED, regions=regions)

    detail = build_outcome_detail(outcome)

    assert detail["regionsTruncated"] is True
    assert 0 < len(detail["regions"]) < 5000
    assert detail["regionCount"] == 5000
    assert [r["index"] for r in detail["regions"]] == list(range(len(detail["regions"])))
    assert len(json.dumps(detail, separators=(",", ":")).encode()) < MAX_ENTRY_BYTES - 1024


def test_the_submitted_detail() -> None:
    detail = build_submitted_detail(TASK, ["name", None], "order-77", {"tenant": "acme"})

    assert detail == {
        "taskId": TASK,
        "regions": [{"index": 0, "name": "name"}, {"index": 1, "name": None}],
        "correlationId": "order-77",
        "metadata": {"tenant": "acme"},
    }


# --- through moto ---------------------------------------------------------------------------------
@mock_aws
def test_the_detail_of_a_stored_outcome_points_at_its_objects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    offline_aws_env(monkeypatch)
    create_results_bucket_and_table()
    bucket, table = ResultBucket(BUCKET), ResultTable(TABLE)
    response = fixture_response()
    report = decode_results(
        response, region_names=["a", "b", "c", "d"], expected_count=None, max_bytes=1 << 20
    )
    run = TaskRun(TASK, execution_arn=ARN, execution_name=TASK, polls=2, correlation_id="order-77")
    outcome, _ = store_completed(run, response, report, raw_key="k", places=(bucket, table))

    detail = build_outcome_detail(outcome)

    assert detail["taskId"] == TASK
    assert detail["status"] == "Completed"
    assert detail["correlationId"] == "order-77"
    run_prefix = f"results/{TASK}/runs/{TASK}/"
    assert detail["results"]["manifestKey"] == f"{run_prefix}manifest.json"
    assert detail["results"]["prefix"] == run_prefix
    s3 = boto3.client("s3", region_name=REGION)
    for region in detail["regions"][:3]:
        assert s3.head_object(Bucket=BUCKET, Key=region["s3Key"])["ContentLength"] == region["size"]
    assert [r["s3Key"] for r in detail["regions"]] == [
        f"{run_prefix}regions/0-a.txt",
        f"{run_prefix}regions/1-b.txt",
        f"{run_prefix}regions/2-c.json",
        None,
    ]
    for text in TEXTS:
        assert text not in json.dumps(detail)


def test_a_submitted_event_lands_on_the_bus(bus_queue: str) -> None:
    publisher = EventPublisher(BUS)

    event_id = publisher.publish_submitted(TASK, ["name", None], correlation_id="c-1")

    [event] = received(bus_queue, 1)
    assert event["id"] == event_id
    assert event["source"] == SOURCE
    assert event["detail-type"] == "Region Recognition Submitted"
    assert event["detail"] == {
        "taskId": TASK,
        "regions": [{"index": 0, "name": "name"}, {"index": 1, "name": None}],
        "correlationId": "c-1",
    }


# --- failures -------------------------------------------------------------------------------------
def stubbed_events() -> tuple[Any, Stubber]:
    client = boto3.client(
        "events", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return client, Stubber(client)


class Sleeps:
    """Stands in for ``time.sleep``: records each backoff instead of waiting it."""

    def __init__(self) -> None:
        self.waited: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waited.append(seconds)


def no_wait(sleeps: Sleeps | None = None) -> Retries:
    return Retries(sleep=sleeps or Sleeps(), rand=lambda: 1.0)


def test_a_rejected_entry_raises_naming_the_error_code_not_the_payload() -> None:
    client, stubber = stubbed_events()
    for _ in range(MAX_PUT_ATTEMPTS):  # InternalFailure is transient: tried that many times
        stubber.add_response(
            "put_events",
            {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}],
            },
        )
    publisher = EventPublisher(BUS, client=client, retries=no_wait())

    with stubber, pytest.raises(EventPublishError) as caught:
        publisher.publish("T", {"secret": TEXTS[0]})

    message = str(caught.value)
    assert "InternalFailure" in message
    assert "'T' event" in message
    for text in TEXTS:
        assert text not in message


def test_throttling_is_an_event_publish_error() -> None:
    client, stubber = stubbed_events()
    for _ in range(MAX_PUT_ATTEMPTS):
        stubber.add_client_error(
            "put_events", service_error_code="ThrottlingException", http_status_code=400
        )
    publisher = EventPublisher(BUS, client=client, retries=no_wait())

    with stubber, pytest.raises(EventPublishError, match="ThrottlingException"):
        publisher.publish("T", {"taskId": TASK})


def test_a_connection_error_is_an_event_publish_error() -> None:
    class Unreachable:
        def put_events(self, **_: Any) -> None:
            raise EndpointConnectionError(endpoint_url="https://events.example")

    with pytest.raises(EventPublishError, match="EndpointConnectionError"):
        EventPublisher(BUS, client=Unreachable(), retries=no_wait()).publish("T", {"taskId": TASK})


def test_a_permanent_client_error_propagates() -> None:
    client, stubber = stubbed_events()
    stubber.add_client_error(
        "put_events", service_error_code="AccessDeniedException", http_status_code=400
    )

    with stubber, pytest.raises(ClientError, match="AccessDeniedException"):
        EventPublisher(BUS, client=client).publish("T", {"taskId": TASK})


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": f"e-{len(self.calls)}"}]}


def test_publish_puts_one_entry_on_the_bus() -> None:
    recorder = Recorder()

    event_id = EventPublisher(BUS, client=recorder).publish("T", {"n": 0})

    assert event_id == "e-1"
    [[entry]] = recorder.calls
    assert entry["EventBusName"] == BUS
    assert entry["Source"] == SOURCE
    assert entry["DetailType"] == "T"
    assert json.loads(entry["Detail"]) == {"n": 0}


def test_an_oversized_event_is_refused_before_sending() -> None:
    recorder = Recorder()

    with pytest.raises(ValueError, match="over EventBridge"):
        EventPublisher(BUS, client=recorder).publish("T", {"blob": "x" * MAX_ENTRY_BYTES})

    assert recorder.calls == []


def test_the_source_can_be_overridden_for_submitters() -> None:
    recorder = Recorder()

    EventPublisher(BUS, client=recorder).publish_submitted(TASK, [None], source="ocr.submitter")

    assert recorder.calls[0][0]["Source"] == "ocr.submitter"
    assert recorder.calls[0][0]["DetailType"] == "Region Recognition Submitted"


@pytest.mark.parametrize("count", [5, 50, 500])
def test_the_outcome_fits_the_state_budget_beside_the_state_it_joins(count: int) -> None:
    regions = tuple(
        RegionRecord(
            index=i,
            name="\U0001f600" * 64,  # the longest name, 4 bytes a character
            type="Text",
            content_type="text/plain; charset=utf-8",
            s3_key=f"results/{TASK}/{i}-" + "_" * 64 + ".txt",
            size=100,
        )
        for i in range(count)
    )
    outcome = Outcome(
        task_id=TASK,
        kind=OutcomeKind.COMPLETED,
        regions=regions,
        prefix=f"results/{TASK}/runs/{TASK}/",
        manifest_key=f"results/{TASK}/runs/{TASK}/manifest.json",
        metadata={"tenant": "t" * 1500},
    )
    state = {"taskId": TASK, "metadata": {"tenant": "t" * 1500}, "poll": {"plan": [1] * 12}}
    payload = outcome_payload(outcome, recorded=True, state_bytes=encoded_size(state))

    assert encoded_size(state) + encoded_size({"outcome": payload}) <= STATE_BUDGET_BYTES
    detail = payload["detail"]
    assert detail["regionCount"] == count
    run_prefix = f"results/{TASK}/runs/{TASK}/"
    assert detail["results"]["manifestKey"] == f"{run_prefix}manifest.json"
    assert detail["results"]["prefix"] == run_prefix
    if len(detail["regions"]) < count:
        assert detail["regionsTruncated"] is True


# --- many events: batches of ten, and exactly the failed entries again --------------------------
class PartlyFailing:
    """A recording ``put_events`` that fails the entries ``fail(call, position, entry)`` names,
    with ``code``; every other entry gets an id."""

    def __init__(self, fail: Any = None, code: str = "InternalFailure") -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.fail = fail or (lambda call, position, entry: False)
        self.code = code

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        assert len(Entries) <= MAX_BATCH_ENTRIES
        call = len(self.calls)
        self.calls.append(Entries)
        results: list[dict[str, Any]] = []
        for position, entry in enumerate(Entries):
            if self.fail(call, position, entry):
                results.append({"ErrorCode": self.code, "ErrorMessage": "no"})
            else:
                results.append({"EventId": f"id-{json.loads(entry['Detail'])['n']}"})
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed, "Entries": results}

    def numbers(self, call: int) -> list[int]:
        return [json.loads(entry["Detail"])["n"] for entry in self.calls[call]]


def events(count: int) -> list[Event]:
    return [Event("T", {"n": n}) for n in range(count)]


def test_many_events_go_ten_to_a_call_in_order() -> None:
    client = PartlyFailing()
    settled: list[int] = []

    result = EventPublisher(BUS, client=client).publish_batch(events(23), settled.append)

    assert [len(call) for call in client.calls] == [10, 10, 3]
    assert [n for call in range(3) for n in client.numbers(call)] == list(range(23))
    assert result.event_ids == tuple(f"id-{n}" for n in range(23))
    assert result.failures == ()
    assert (result.calls, result.retried) == (3, 0)
    assert settled == [10, 10, 3]


def test_only_the_entries_a_partial_failure_reports_are_sent_again() -> None:
    # Given the first call fails the entries at positions 2 and 7, and nothing after
    client = PartlyFailing(lambda call, position, entry: call == 0 and position in (2, 7))
    sleeps = Sleeps()

    # When 12 events are put
    result = EventPublisher(BUS, client=client, retries=no_wait(sleeps)).publish_batch(events(12))

    # Then the retry carries exactly those two entries, byte for byte, and every event has its id
    assert client.numbers(0) == list(range(10))
    assert client.calls[1] == [client.calls[0][2], client.calls[0][7]]
    assert client.numbers(2) == [10, 11]
    assert result.event_ids == tuple(f"id-{n}" for n in range(12))
    assert result.failures == ()
    assert (result.calls, result.retried) == (3, 2)
    assert len(sleeps.waited) == 1


def test_entries_that_keep_failing_are_reported_after_a_bounded_number_of_tries() -> None:
    client = PartlyFailing(lambda call, position, entry: json.loads(entry["Detail"])["n"] == 4)
    sleeps = Sleeps()

    result = EventPublisher(BUS, client=client, retries=no_wait(sleeps)).publish_batch(events(6))

    assert len(client.calls) == MAX_PUT_ATTEMPTS
    assert all(client.numbers(call) == [4] for call in range(1, MAX_PUT_ATTEMPTS))
    [failure] = result.failures
    assert (failure.index, failure.code, failure.message) == (4, "InternalFailure", "no")
    assert result.event_ids[4] is None
    assert sum(1 for event_id in result.event_ids if event_id) == 5
    # the backoff grows between tries, and is bounded
    assert sleeps.waited == sorted(sleeps.waited)
    assert len(sleeps.waited) == MAX_PUT_ATTEMPTS - 1
    assert max(sleeps.waited) <= Retries().max_seconds


def test_a_permanent_entry_error_is_not_retried() -> None:
    client = PartlyFailing(lambda call, position, entry: position == 1, code="MalformedDetail")

    result = EventPublisher(BUS, client=client, retries=no_wait()).publish_batch(events(3))

    assert len(client.calls) == 1
    assert [(f.index, f.code) for f in result.failures] == [(1, "MalformedDetail")]


def test_a_call_that_fails_transiently_is_retried_whole() -> None:
    client, stubber = stubbed_events()
    stubber.add_client_error(
        "put_events", service_error_code="ThrottlingException", http_status_code=400
    )
    entries = [EventPublisher(BUS)._entry("T", {"n": n}, None) for n in range(2)]
    stubber.add_response(
        "put_events",
        {"FailedEntryCount": 0, "Entries": [{"EventId": "a"}, {"EventId": "b"}]},
        {"Entries": entries},
    )

    with stubber:
        result = EventPublisher(BUS, client=client, retries=no_wait()).publish_batch(events(2))

    stubber.assert_no_pending_responses()
    assert result.event_ids == ("a", "b")
    assert (result.calls, result.retried) == (2, 2)


def test_the_retry_asks_for_exactly_the_failed_entry_through_botocore() -> None:
    # botocore's Stubber checks each call's parameters: the second call must be entry 1 alone.
    client, stubber = stubbed_events()
    publisher = EventPublisher(BUS, client=client, retries=no_wait())
    entries = [publisher._entry("T", {"n": n}, None) for n in range(3)]
    stubber.add_response(
        "put_events",
        {
            "FailedEntryCount": 1,
            "Entries": [
                {"EventId": "a"},
                {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"},
                {"EventId": "c"},
            ],
        },
        {"Entries": entries},
    )
    stubber.add_response(
        "put_events",
        {"FailedEntryCount": 0, "Entries": [{"EventId": "b"}]},
        {"Entries": [entries[1]]},
    )

    with stubber:
        result = publisher.publish_batch(events(3))

    stubber.assert_no_pending_responses()
    assert result.event_ids == ("a", "b", "c")


def test_a_permanent_call_error_stops_the_batch_and_names_every_event_not_sent() -> None:
    client, stubber = stubbed_events()
    stubber.add_response(
        "put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": str(n)} for n in range(10)]}
    )
    stubber.add_client_error(
        "put_events", service_error_code="ResourceNotFoundException", http_status_code=400
    )

    with stubber:
        result = EventPublisher(BUS, client=client, retries=no_wait()).publish_batch(events(25))

    stubber.assert_no_pending_responses()  # the third batch was never sent
    assert result.event_ids[:10] == tuple(str(n) for n in range(10))
    assert [f.index for f in result.failures] == list(range(10, 25))
    assert {f.code for f in result.failures} == {"ResourceNotFoundException"}
    assert all(f.message.startswith("not sent: PutEvents refused") for f in result.failures)
    assert result.stopped_by is not None


def test_publish_goes_through_the_batch_and_retries_its_entry() -> None:
    client = PartlyFailing(lambda call, position, entry: call == 0)

    event_id = EventPublisher(BUS, client=client, retries=no_wait()).publish("T", {"n": 5})

    assert event_id == "id-5"
    assert client.calls[0] == client.calls[1]


def test_large_events_share_a_call_only_within_its_size_limit() -> None:
    client = PartlyFailing()
    big = [Event("T", {"n": n, "blob": "x" * (100 * 1024)}) for n in range(5)]

    EventPublisher(BUS, client=client).publish_batch(big)

    assert [len(call) for call in client.calls] == [2, 2, 1]


def test_an_oversized_event_in_a_batch_sends_nothing() -> None:
    client = PartlyFailing()
    batch = [*events(3), Event("T", {"n": 3, "blob": "x" * MAX_ENTRY_BYTES})]

    with pytest.raises(ValueError, match="over EventBridge"):
        EventPublisher(BUS, client=client).publish_batch(batch)

    assert client.calls == []


def test_an_event_time_is_sent_as_the_entry_time() -> None:
    client = PartlyFailing()
    at = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)

    EventPublisher(BUS, client=client).publish_batch([Event("T", {"n": 0}, "src", at)])

    [[entry]] = client.calls
    assert entry["Time"] == at
    assert entry["Source"] == "src"


def test_a_batch_lands_on_the_bus(bus_queue: str) -> None:
    result = EventPublisher(BUS).publish_batch(events(12))

    got = received(bus_queue, 12)
    assert sorted(event["detail"]["n"] for event in got) == list(range(12))
    assert {event["id"] for event in got} == set(result.event_ids)
