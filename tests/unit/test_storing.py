"""ResultStore against moto: objects, manifest, the table item, idempotency, no downgrade."""

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

from ocr_fetch.decoding import DecodeReport, decode_results
from ocr_fetch.errors import RawResponseMissingError, StorageError
from ocr_fetch.model import OcrResponse
from ocr_fetch.outcome import Outcome, OutcomeKind, TaskRun
from ocr_fetch.storage import ResultStore
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
ARN = "arn:aws:states:us-east-1:123456789012:execution:FetchResults:run-1"
NAMES = ["name", "address", "passport", "broken"]


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


@pytest.fixture
def store(aws: tuple[Any, Any], clock: Clock) -> ResultStore:
    return ResultStore(BUCKET, TABLE, retention_days=30, clock=clock)


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


def store_fixture(store: ResultStore) -> Outcome:
    response = fixture_response()
    store.put_raw(TASK, json.dumps(completed_response()).encode())
    run = TaskRun(
        TASK,
        polls=3,
        execution_arn=ARN,
        correlation_id="order-77",
        metadata={"tenant": "acme", "priority": 2, "score": 0.5},
    )
    return store.store_completed(run, response, report_for(response))


# --- raw ------------------------------------------------------------------------------------------
def test_raw_round_trips(store: ResultStore) -> None:
    key = store.put_raw(TASK, b'{"taskStatus": "Completed"}')

    assert key == f"results/{TASK}/raw.json"
    assert store.get_raw(TASK) == b'{"taskStatus": "Completed"}'
    assert s3_object(key)[1] == "application/json"


def test_a_missing_raw_response_is_a_typed_error(store: ResultStore) -> None:
    with pytest.raises(RawResponseMissingError, match=r"never-stored/raw\.json"):
        store.get_raw("never-stored")


# --- completed --------------------------------------------------------------------------------
def test_each_decoded_region_is_stored_with_its_content_type(store: ResultStore) -> None:
    outcome = store_fixture(store)

    prefix = f"results/{TASK}/"
    assert all_keys() == sorted(
        prefix + name
        for name in (
            "raw.json",
            "manifest.json",
            "0-name.txt",
            "1-address.txt",
            "2-passport.json",
        )
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


def test_the_manifest_describes_every_region_without_text(store: ResultStore) -> None:
    store_fixture(store)

    body, content_type = s3_object(f"results/{TASK}/manifest.json")
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
        "s3Key": f"results/{TASK}/0-name.txt",
        "bytes": len(TEXTS[0].encode()),
    }
    broken = manifest["regions"][3]
    assert (broken["index"], broken["name"], broken["error"]) == (3, "broken", "invalid_base64")
    assert "s3Key" not in broken
    assert "1 of 4 regions could not be decoded" in manifest["warnings"]
    for text in TEXTS:
        assert text not in body.decode()


def test_the_item_says_how_the_task_ended_and_where_to_look(store: ResultStore) -> None:
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
    assert recorded["rawKey"] == f"results/{TASK}/raw.json"
    assert recorded["manifestKey"] == f"results/{TASK}/manifest.json"
    assert recorded["polls"] == 3
    assert recorded["executionArn"] == ARN
    assert recorded["correlationId"] == "order-77"
    assert recorded["metadata"] == {"tenant": "acme", "priority": 2, "score": 0.5}
    assert recorded["outcomeRank"] == 3
    assert recorded["createdAt"] == recorded["recordedAt"] == "2025-03-01T12:00:00.000Z"
    assert recorded["regions"][0]["s3Key"] == f"results/{TASK}/0-name.txt"
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


def test_expires_at_is_now_plus_retention(store: ResultStore) -> None:
    store_fixture(store)

    assert item()["expiresAt"] == int((T0 + timedelta(days=30)).timestamp())


def test_storing_the_same_outcome_twice_is_idempotent(store: ResultStore, clock: Clock) -> None:
    store_fixture(store)
    objects_before = {key: s3_object(key) for key in all_keys()}
    item_before = item()

    clock.now = T0 + timedelta(minutes=5)
    store_fixture(store)

    assert {key: s3_object(key) for key in all_keys()} == objects_before
    assert item() == item_before


def test_recording_the_same_outcome_again_reports_success(store: ResultStore) -> None:
    outcome = Outcome(task_id=TASK, kind=OutcomeKind.TIMED_OUT, polls=40, error_name="Gave up")

    assert store.record_outcome(outcome) is True
    assert store.record_outcome(outcome) is True


def test_a_completed_outcome_is_never_downgraded(store: ResultStore, clock: Clock) -> None:
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


def test_a_timed_out_outcome_is_upgraded_by_completion(store: ResultStore, clock: Clock) -> None:
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


def test_a_failure_is_recorded_with_its_error(store: ResultStore) -> None:
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


def test_a_count_mismatch_is_recorded(store: ResultStore) -> None:
    response = OcrResponse.from_json(
        completed_response(("Text", b64(b"one")), status_code="PartiallyNotFound")
    )

    outcome = store.store_completed(
        TaskRun(TASK, polls=1), response, report_for(response, ["a", "b"])
    )

    recorded = item()
    assert recorded["countMismatch"] is True
    assert (recorded["expectedRegionCount"], recorded["receivedResultCount"]) == (2, 1)
    assert outcome.regions[0].s3_key == f"results/{TASK}/0.txt"
    assert any("PartiallyNotFound" in w for w in recorded["warnings"])
    assert "correlationId" not in recorded
    assert "metadata" not in recorded


# --- transient errors -----------------------------------------------------------------------------
@pytest.fixture
def offline_store(monkeypatch: pytest.MonkeyPatch) -> ResultStore:
    """A store whose clients exist but reach nothing: each test stubs the call it makes."""
    offline_aws_env(monkeypatch)
    return ResultStore(BUCKET, TABLE)


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
    offline_store: ResultStore, code: str, status: int
) -> None:
    stubber = Stubber(offline_store.dynamodb)
    stubber.add_client_error("update_item", service_error_code=code, http_status_code=status)

    with stubber, pytest.raises(StorageError, match=code) as caught:
        offline_store.record_outcome(Outcome(task_id=TASK, kind=OutcomeKind.TIMED_OUT))

    assert isinstance(caught.value.__cause__, ClientError)


def test_a_permanent_dynamodb_error_propagates(offline_store: ResultStore) -> None:
    stubber = Stubber(offline_store.dynamodb)
    stubber.add_client_error(
        "update_item", service_error_code="ResourceNotFoundException", http_status_code=400
    )

    with stubber, pytest.raises(ClientError, match="ResourceNotFoundException"):
        offline_store.record_outcome(Outcome(task_id=TASK, kind=OutcomeKind.TIMED_OUT))


def test_a_connection_error_is_a_storage_error(
    offline_store: ResultStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://s3.example")

    monkeypatch.setattr(offline_store.s3, "put_object", unreachable)

    with pytest.raises(StorageError, match="EndpointConnectionError"):
        offline_store.put_raw(TASK, b"{}")


def test_s3_slow_down_is_a_storage_error(offline_store: ResultStore) -> None:
    stubber = Stubber(offline_store.s3)
    stubber.add_client_error("put_object", service_error_code="SlowDown", http_status_code=503)

    with stubber, pytest.raises(StorageError, match="SlowDown"):
        offline_store.put_raw(TASK, b"{}")


def test_clients_are_created_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    offline_aws_env(monkeypatch)
    store = ResultStore(BUCKET, TABLE)

    assert store._s3 is None
    assert store.s3.meta.region_name == REGION
