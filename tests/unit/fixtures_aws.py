"""Offline AWS for unit tests: dummy credentials, one region, moto-backed resources."""

from __future__ import annotations

import base64
from typing import Any

import boto3
import pytest

from ocr_fetch.model import OcrResponse

REGION = "us-east-1"
BUCKET = "ocr-results-test"
TABLE = "ocr-results-test"
BUS = "ocr-events-test"

#: Recognised text in the fixture response: it must never appear outside the region objects.
TEXTS = ("Jane Q. Doe", "42 Wallaby Way, Sydney", "Passport X1234567")


def offline_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and a fixed region, so nothing can reach a real account."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def create_results_bucket_and_table() -> tuple[Any, Any]:
    """Inside ``mock_aws``: the results bucket and the table (``taskId`` key, TTL on expiresAt)."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "taskId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "taskId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=TABLE,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"},
    )
    return s3, dynamodb


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def completed_response(*results: tuple[str | None, str | None], status_code: str = "Ok") -> Any:
    """An OCRResponse body (dict) for a completed task."""
    return {
        "id": "task-1",
        "taskStatus": "Completed",
        "responseStatusCode": status_code,
        "results": [{"type": kind, "data": data} for kind, data in results],
        "error": None,
    }


def fixture_response() -> OcrResponse:
    """Three text regions holding TEXTS, one JSON region, one corrupt region."""
    return OcrResponse.from_json(
        completed_response(
            ("Text", b64(TEXTS[0].encode())),
            ("Text", b64(TEXTS[1].encode())),
            ("JSON", b64(('{"text": "' + TEXTS[2] + '"}').encode())),
            ("Text", "bm90*YmFzZTY0"),
        )
    )
