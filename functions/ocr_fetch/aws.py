"""The boto3 clients every handler makes, configured once.

Standard retries (three attempts, jittered backoff), not boto3's legacy default, which for
DynamoDB makes ten attempts over about 25 s: a call that keeps failing should reach the state
machine's own Retry, which waits longer between tries and records each in the history. Every call
is bounded in time by connect and read timeouts, so three attempts of one call take at most
about :data:`WORST_CALL_SECONDS`: an invocation's deadline covers its AWS calls as well as its
calls to Aspose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ocr_fetch.errors import TRANSIENT_AWS_EXCEPTIONS, StorageError, aws_error_code, is_transient

CONNECT_TIMEOUT_SECONDS = 2.0
#: Waiting for an answer once a request is sent (a 10 MiB region's PUT included).
READ_TIMEOUT_SECONDS = 8.0
MAX_ATTEMPTS = 3
#: The longest one call can take: every attempt's connect and read, and the standard mode's
#: backoff between them (at most 1 s, then 2 s).
WORST_CALL_SECONDS = MAX_ATTEMPTS * (CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS) + 3

CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    # total_max_attempts counts the first try (botocore's max_attempts counts only retries).
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
)


def client(service: str) -> Any:
    """A boto3 client for ``service`` with the product's timeouts and retries."""
    return boto3.client(service, config=CONFIG)


class LazyClient:
    """A collaborator's boto3 client: the one given when it was built (a test's stub, the CLI's
    session), else one made on first use, so importing and building cost no client."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.attribute = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.attribute = "_" + name

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        found = instance.__dict__.get(self.attribute)
        if found is None:
            found = instance.__dict__[self.attribute] = client(self.service)
        return found

    def __set__(self, instance: object, value: Any) -> None:
        instance.__dict__[self.attribute] = value


def call(operation: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a storage operation (S3, DynamoDB), raising transient failures as
    :class:`StorageError`, which the state machine retries; anything else as raised."""
    try:
        return operation(**kwargs)
    except (ClientError, *TRANSIENT_AWS_EXCEPTIONS) as exc:
        if not is_transient(exc):
            raise
        name = getattr(operation, "__name__", "call")
        raise StorageError(f"{name} failed transiently: {aws_error_code(exc)}") from exc
