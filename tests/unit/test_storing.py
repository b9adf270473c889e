"""The bucket, the table and storing a completed run, against moto: objects under the run's
prefix, manifest, the table item, idempotency, nothing replaced by a run no better."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber
from moto import mock_aws

from ocr_fetch.bucket import ResultBucket, StoredAnswer
from ocr_fetch.decoding import DecodeReport, decode_results
from ocr_fetch.errors import RawAnswerMismatchError, RawResponseMissingError, StorageError
from ocr_fetch.model import OcrResponse
from ocr_fetch.outcome import Outcome, OutcomeKind, TaskRun
from ocr_fetch.storing import store_completed
from ocr_fetch.submission import parse_submitted_event
from ocr_fetch.table import ResultTable
from tests.unit.fixtures_aws import (
    BUCKET,
    REGION,
    TABLE,
    TEXTS,
    b64,
    completed_response,
    create_results_bucket_and_table,
    fixture_response,
    offline_aws_env,
)

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
TASK = "2ce30237-86da-41ef-88e9-84f0b7acffc0"
ARN = "arn:aws:states:us-east-1:123456789012:execution:FetchResults:" + TASK
NAMES = ["name", "address", "passport", "broken"]
RUN = f"results/{TASK}/runs/{TASK}/"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    offline_aws_env(monkeypatch)
    with mock_aws():
        yield create_results_bucket_and_table()


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Store:
    """The bucket and the table, as the store function has them."""

    def __init__(self, clock: Clock) -> None:
        self.bucket = ResultBucket(BUCKET)
        self.table = ResultTable(TABLE, retention_days=30, clock=clock)

    def record_outcome(self, outcome: Outcome) -> bool:
        return self.table.record(outcome)


@pytest.fixture
def store(aws: tuple[Any, Any], clock: Clock) -> Store:
    return Store(clock)


def report_for(response: OcrResponse, names: list[str | None] | None = None) -> DecodeReport:
    return decode_results(
        response, region_names=names or NAMES, expected_count=None, max_bytes=1024 * 1024
    )


def item(task_id: str = TASK) -> dict[str, Any]:
    raw = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"taskId": {"S": task_id}}, ConsistentRead=True
    )["Item"]
    deserializer = TypeDeserializer()
    return {k: deserializer.deserialize(v) for k, v in raw.items()}


def s3_object(key: str) -> tuple[bytes, str]:
    answer = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=key)
    return answer["Body"].read(), answer["ContentType"]


def all_keys() -> list[str]:
    listing = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)
    return sorted(obj["Key"] for obj in listing.get("Contents", []))


def store_fixture(store: Store, execution: str = TASK, arn: str = ARN) -> Outcome:
    response = fixture_response()
    answer = store.bucket.put_answer(TASK, execution, 3, json.dumps(completed_response()).encode())
    run = TaskRun(
        TASK,
        polls=3,
        execution_arn=arn,
        execution_name=execution,
        correlation_id="order-77",
        metadata={"tenant": "acme", "priority": 2, "score": 0.5},
    )
    outcome, _ = store_completed(
        run, response, report_for(response), raw_key=answer.key, places=(store.bucket, store.table)
    )
    return outcome


# --- what one execution keeps ---------------------------------------------------------------------
def test_an_answer_round_trips_under_the_runs_own_key(store: Store) -> None:
    kept = store.bucket.put_answer(TASK, TASK, 2, b'{"taskStatus": "Completed"}')

    assert kept.key == f"{RUN}answer-2.json"
    assert kept.etag
    assert store.bucket.get_answer(TASK, TASK, kept) == b'{"taskStatus": "Completed"}'
    assert s3_object(kept.key)[1] == "application/json"


def test_a_missing_answer_is_a_typed_error(store: Store) -> None:
    with pytest.raises(RawResponseMissingError, match=r"answer-7\.json"):
        store.bucket.get_answer(TASK, TASK, StoredAnswer(f"{RUN}answer-7.json", '"e"'))


def test_another_runs_answer_or_a_changed_one_is_refused(store: Store) -> None:
    mine = store.bucket.put_answer(TASK, TASK, 1, b"{}")
    theirs = store.bucket.put_answer(TASK, f"{TASK}-again", 1, b"{}")
    with pytest.raises(RawAnswerMismatchError, match="not an answer kept by"):
        store.bucket.get_answer(TASK, TASK, theirs)
    store.bucket.put_answer(TASK, TASK, 1, b'{"changed": true}')
    with pytest.raises(RawAnswerMismatchError, match="changed since"):
        store.bucket.get_answer(TASK, TASK, mine)


# --- the submitted facts, written once --------------------------------------------------------
def facts_of(event_id: str, *names: str) -> Any:
    body = json.dumps(
        {
            "id": event_id,
            "detail-type": "Region Recognition Submitted",
            "source": "test",
            "detail": {"taskId": TASK, "regions": [{"name": n} for n in names]},
        }
    )
    return parse_submitted_event(body).facts()


def test_the_first_submissions_facts_are_kept_and_never_changed(store: Store) -> None:
    first, written = store.bucket.keep_facts(facts_of("e-1", "alpha", "beta"))
    kept, again = store.bucket.keep_facts(facts_of("e-2", "beta", "alpha", "gamma"))

    assert (written, again) == (True, False)
    assert kept.region_names == ("alpha", "beta") == first.region_names
    assert kept.event_id == "e-1"
    assert store.bucket.facts(TASK) == kept


def test_facts_that_are_not_the_tasks_are_refused(store: Store) -> None:
    other = "11111111-2222-4333-8444-555555555555"
    store.bucket.keep_facts(facts_of("e-1", "a"))
    boto3.client("s3", region_name=REGION).copy_object(
        Bucket=BUCKET,
        Key=f"results/{other}/submitted.json",
        CopySource={"Bucket": BUCKET, "Key": f"results/{TASK}/submitted.json"},
    )
    with pytest.raises(Exception, match="another task") as info:
        store.bucket.facts(other)
    assert type(info.value).__name__ == "StoredDataError"


# --- completed --------------------------------------------------------------------------------
def test_each_decoded_region_is_stored_with_its_content_type(store: Store) -> None:
    outcome = store_fixture(store)

    prefix = f"{RUN}regions/"
    assert all_keys() == sorted(
        [
            f"{RUN}answer-3.json",
            f"{RUN}manifest.json",
            *(prefix + n for n in ("0-name.txt", "1-address.txt", "2-passport.json")),
        ]
    )
    assert s3_object(prefix + "0-name.txt") == (TEXTS[0].encode(), "text/plain; charset=utf-8")
    assert s3_object(prefix + "1-address.txt")[0] == TEXTS[1].encode()
    assert s3_object(prefix + "2-passport.json")[1] == "application/json"
    assert outcome.kind is OutcomeKind.COMPLETED
    assert [r.s3_key for r in outcome.regions] == [
        prefix + "0-name.txt",
        prefix + "1-address.txt",
        prefix + "2-passport.json",
        None,
    ]
    assert outcome.regions[3].error == "invalid_base64"


def test_the_manifest_describes_every_region_without_text(store: Store) -> None:
    store_fixture(store)

    body, content_type = s3_object(f"{RUN}manifest.json")
    manifest = json.loads(body)
    assert content_type == "application/json"
    assert manifest["taskId"] == TASK
    assert (manifest["status"], manifest["taskStatus"], manifest["responseStatusCode"]) == (
        "Completed",
        "Completed",
        "Ok",
    )
    assert (manifest["regionCount"], manifest["decodedCount"], manifest["errorCount"]) == (4, 3, 1)
    first = manifest["regions"][0]
    assert first == {
        "index": 0,
        "name": "name",
        "type": "Text",
        "contentType": "text/plain; charset=utf-8",
        "s3Key": f"{RUN}regions/0-name.txt",
        "bytes": len(TEXTS[0].encode()),
    }
    broken = manifest["regions"][3]
    assert (broken["index"], broken["name"], broken["error"]) == (3, "broken", "invalid_base64")
    assert "s3Key" not in broken
    assert "1 of 4 regions could not be decoded" in manifest["warnings"]
    for text in TEXTS:
        assert text not in body.decode()


def test_the_item_says_how_the_task_ended_and_where_to_look(store: Store) -> None:
    store_fixture(store)

    recorded = item()
    assert recorded["taskId"] == TASK
    assert recorded["status"] == "Completed"
    assert recorded["taskStatus"] == "Completed"
    assert recorded["responseStatusCode"] == "Ok"
    assert (recorded["regionCount"], recorded["decodedCount"], recorded["errorCount"]) == (4, 3, 1)
    assert recorded["countMismatch"] is False
    assert (recorded["expectedRegionCount"], recorded["receivedResultCount"]) == (4, 4)
    assert recorded["bucket"] == BUCKET
    assert recorded["rawKey"] == f"{RUN}answer-3.json"
    assert recorded["manifestKey"] == f"{RUN}manifest.json"
    assert recorded["polls"] == 3
    assert recorded["executionArn"] == ARN
    assert recorded["correlationId"] == "order-77"
    assert recorded["metadata"] == {"tenant": "acme", "priority": 2, "score": 0.5}
    assert recorded["outcomeRank"] == 3
    assert recorded["outcomeScore"] == 3003  # Completed, 3 regions decoded
    assert recorded["createdAt"] == recorded["recordedAt"] == "2025-03-01T12:00:00.000Z"
    assert recorded["regions"][0]["s3Key"] == f"{RUN}regions/0-name.txt"
    assert recorded["regions"][3] == {
        "index": 3,
        "name": "broken",
        "type": "Text",
        "error": "invalid_base64",
        "errorMessage": recorded["regions"][3]["errorMessage"],
    }
    assert "errorName" not in recorded
    for text in TEXTS:
        assert text not in json.dumps(recorded, default=str)


def test_expires_at_is_now_plus_retention(store: Store) -> None:
    store_fixture(store)

    assert item()["expiresAt"] == int((T0 + timedelta(days=30)).timestamp())


def test_storing_the_same_outcome_twice_is_idempotent(store: Store, clock: Clock) -> None:
    store_fixture(store)
    objects_before = {key: s3_object(key) for key in all_keys()}
    item_before = item()

    clock.now = T0 + timedelta(minutes=5)
    store_fixture(store)

    assert {key: s3_object(key) for key in all_keys()} == objects_before
    assert item() == item_before


def test_recording_the_same_outcome_again_reports_success(store: Store) -> None:
    outcome = Outcome(
        task_id=TASK, kind=OutcomeKind.TIMED_OUT, execution_arn=ARN, polls=40, error_name="Gave up"
    )

    assert store.record_outcome(outcome) is True
    assert store.record_outcome(outcome) is True


def test_a_run_no_better_than_the_recorded_one_replaces_nothing(store: Store, clock: Clock) -> None:
    store_fixture(store)
    before = item()
    clock.now = T0 + timedelta(hours=1)

    # the same answer, stored by a re-fetch: no better, so the first run's results stand
    store_fixture(store, f"{TASK}-again", ARN + "-again")

    assert item() == before
    assert any(k.startswith(f"results/{TASK}/runs/{TASK}-again/") for k in all_keys())


def test_a_run_that_decoded_more_regions_replaces_the_recorded_one(store: Store) -> None:
    worse = OcrResponse.from_json(
        completed_response(("Text", "bm90*YmFzZTY0"), ("Text", b64(b"two")))
    )
    run = TaskRun(TASK, execution_arn=ARN, execution_name=TASK)
    store_completed(
        run, worse, report_for(worse, ["a", "b"]), raw_key="k1", places=(store.bucket, store.table)
    )
    better = OcrResponse.from_json(completed_response(("Text", b64(b"one")), ("Text", b64(b"two"))))
    rerun = TaskRun(TASK, execution_arn=ARN + "-again", execution_name=f"{TASK}-again")
    _, recorded = store_completed(
        rerun,
        better,
        report_for(better, ["a", "b"]),
        raw_key="k2",
        places=(store.bucket, store.table),
    )
    assert recorded is True
    assert (item()["decodedCount"], item()["rawKey"]) == (2, "k2")


def test_a_completed_outcome_is_never_downgraded(store: Store, clock: Clock) -> None:
    store_fixture(store)
    before = item()
    clock.now = T0 + timedelta(hours=1)

    recorded = store.record_outcome(
        Outcome(
            task_id=TASK,
            kind=OutcomeKind.TIMED_OUT,
            polls=40,
            error_name="DeadlineReached",
            error_message="gave up after 40 polls",
        )
    )

    assert recorded is False
    assert item() == before


def test_a_timed_out_outcome_is_upgraded_by_completion(store: Store, clock: Clock) -> None:
    timed_out = Outcome(
        task_id=TASK,
        kind=OutcomeKind.TIMED_OUT,
        task_status="Processing",
        polls=40,
        error_name="DeadlineReached",
        error_message="gave up",
    )
    assert store.record_outcome(timed_out) is True
    assert item()["status"] == "TimedOut"
    clock.now = T0 + timedelta(minutes=10)

    store_fixture(store)

    recorded = item()
    assert recorded["status"] == "Completed"
    assert recorded["outcomeRank"] == 3
    assert "errorName" not in recorded
    assert "errorMessage" not in recorded
    assert recorded["createdAt"] == "2025-03-01T12:00:00.000Z"
    assert recorded["recordedAt"] == "2025-03-01T12:10:00.000Z"


def test_a_failure_is_recorded_with_its_error(store: Store) -> None:
    store.record_outcome(
        Outcome(
            task_id=TASK,
            kind=OutcomeKind.FAILED,
            task_status="Error",
            response_status_code="Error",
            error_name="AsposeTaskError",
            error_message="image could not be read",
            warnings=("low contrast",),
        )
    )

    recorded = item()
    assert (recorded["status"], recorded["errorName"]) == ("Failed", "AsposeTaskError")
    assert recorded["errorMessage"] == "image could not be read"
    assert recorded["warnings"] == ["low contrast"]
    assert recorded["regions"] == []


def test_a_count_mismatch_is_recorded(store: Store) -> None:
    response = OcrResponse.from_json(
        completed_response(("Text", b64(b"one")), status_code="PartiallyNotFound")
    )

    outcome, _ = store_completed(
        TaskRun(TASK, polls=1, execution_name=TASK),
        response,
        report_for(response, ["a", "b"]),
        raw_key="k",
        places=(store.bucket, store.table),
    )

    recorded = item()
    assert recorded["countMismatch"] is True
    assert (recorded["expectedRegionCount"], recorded["receivedResultCount"]) == (2, 1)
    assert outcome.regions[0].s3_key == f"{RUN}regions/0.txt"
    assert any("PartiallyNotFound" in w for w in recorded["warnings"])
    assert "correlationId" not in recorded
    assert "metadata" not in recorded


# --- transient errors -----------------------------------------------------------------------------
@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> tuple[ResultBucket, ResultTable]:
    """A bucket and a table whose injected clients reach nothing: each test stubs its call."""
    offline_aws_env(monkeypatch)
    return (
        ResultBucket(BUCKET, s3=boto3.client("s3", region_name=REGION)),
        ResultTable(TABLE, dynamodb=boto3.client("dynamodb", region_name=REGION)),
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ProvisionedThroughputExceededException", 400),
        ("ThrottlingException", 400),
        ("InternalServerError", 500),
        ("ServiceUnavailable", 503),
    ],
)
def test_a_transient_dynamodb_error_is_a_storage_error(
    offline: tuple[ResultBucket, ResultTable], code: str, status: int
) -> None:
    _, table = offline
    stubber = Stubber(table.dynamodb)
    stubber.add_client_error("update_item", service_error_code=code, http_status_code=status)

    with stubber, pytest.raises(StorageError, match=code) as caught:
        table.record(Outcome(task_id=TASK, kind=OutcomeKind.TIMED_OUT))

    assert isinstance(caught.value.__cause__, ClientError)


def test_a_permanent_dynamodb_error_propagates(offline: tuple[ResultBucket, ResultTable]) -> None:
    _, table = offline
    stubber = Stubber(table.dynamodb)
    stubber.add_client_error(
        "update_item", service_error_code="ResourceNotFoundException", http_status_code=400
    )

    with stubber, pytest.raises(ClientError, match="ResourceNotFoundException"):
        table.record(Outcome(task_id=TASK, kind=OutcomeKind.TIMED_OUT))


def test_a_connection_error_is_a_storage_error(
    offline: tuple[ResultBucket, ResultTable], monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket, _ = offline

    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://s3.example")

    monkeypatch.setattr(bucket.s3, "put_object", unreachable)

    with pytest.raises(StorageError, match="EndpointConnectionError"):
        bucket.put_answer(TASK, TASK, 1, b"{}")


@pytest.mark.parametrize(
    ("code", "status"), [("SlowDown", 503), ("ConditionalRequestConflict", 409)]
)
def test_s3_slow_down_or_a_write_conflict_is_a_storage_error(
    offline: tuple[ResultBucket, ResultTable], code: str, status: int
) -> None:
    bucket, _ = offline
    stubber = Stubber(bucket.s3)
    stubber.add_client_error("put_object", service_error_code=code, http_status_code=status)

    with stubber, pytest.raises(StorageError, match=code):
        bucket.put_answer(TASK, TASK, 1, b"{}")
