"""The error helpers: one way to bound a message, one test of what AWS failure is transient."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from ocr_fetch.errors import aws_error_code, clip, is_transient


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Operation",
    )


@pytest.mark.parametrize(
    ("text", "clipped"),
    [
        (None, None),
        ("", ""),
        ("short", "short"),
        ("x" * 10, "x" * 10),
        ("x" * 11, "x" * 9 + "…"),
        ("é" * 50, "é" * 9 + "…"),
    ],
)
def test_clip_bounds_a_message_and_marks_the_cut(text: str | None, clipped: str | None) -> None:
    assert clip(text, 10) == clipped


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (client_error("ThrottlingException", 400), True),
        (client_error("ProvisionedThroughputExceededException", 400), True),
        (client_error("SlowDown", 503), True),
        (client_error("SomethingNew", 502), True),
        (client_error("ResourceNotFoundException", 400), False),
        (client_error("ConditionalCheckFailedException", 400), False),
        (EndpointConnectionError(endpoint_url="https://s3.example"), True),
        (ReadTimeoutError(endpoint_url="https://s3.example"), True),
        (ValueError("not AWS"), False),
    ],
)
def test_is_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_aws_error_code_is_the_code_or_the_class_name() -> None:
    assert aws_error_code(client_error("SlowDown", 503)) == "SlowDown"
    assert aws_error_code(ClientError({}, "Operation")) == "ClientError"
    assert aws_error_code(EndpointConnectionError(endpoint_url="x")) == "EndpointConnectionError"
