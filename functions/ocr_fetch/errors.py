"""Every error the product raises, by name.

The state machine's ``Retry``/``Catch`` match on the exception class name, so transient and
permanent failures are different classes. Messages never carry tokens, secrets, response bodies or
recognised text, and every message or name that is recorded, published or passed on is bounded by
:func:`clip` with one of the limits below. :func:`is_transient` says which AWS failures are worth
retrying.
"""

from __future__ import annotations

from typing import overload

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

# --- How long a message may be -------------------------------------------------------------------
#: An error message as recorded in the table, published in an event or sent to the dead letters.
MAX_ERROR_MESSAGE_CHARS = 1000
#: Each message, warning and status string taken from the service's answer.
MAX_SERVICE_MESSAGE_CHARS = 500
#: The title and detail of an HTTP problem answer, quoted in an error message.
MAX_PROBLEM_CHARS = 300
#: An error name, as the outcome event and the Fail state carry it.
MAX_ERROR_NAME_CHARS = 128
#: The service's task status, as passed on in state data or quoted in a message.
MAX_STATUS_CHARS = 100
#: A rejected input value quoted back in an error message.
MAX_QUOTED_CHARS = 40
#: An error message as it travels in state data (UTF-8 bytes): the state stays within its
#: budget on every path (:data:`ocr_fetch.handlers.workflow_state.STATE_BUDGET_BYTES`).
MAX_STATE_MESSAGE_BYTES = 512


@overload
def clip(text: str, limit: int) -> str: ...
@overload
def clip(text: None, limit: int) -> None: ...
def clip(text: str | None, limit: int) -> str | None:
    """``text`` if it has at most ``limit`` characters, else cut to ``limit`` ending with "…"."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


@overload
def clip_bytes(text: str, limit: int) -> str: ...
@overload
def clip_bytes(text: None, limit: int) -> None: ...
def clip_bytes(text: str | None, limit: int) -> str | None:
    """``text`` cut so that its UTF-8 encoding is at most ``limit`` bytes, ending with "…" when
    cut (a character is never split)."""
    if text is None:
        return None
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    ellipsis = "…".encode()
    kept = data[: max(limit - len(ellipsis), 0)].decode("utf-8", "ignore")
    return kept + "…"


class TransientError(Exception):
    """Worth retrying: the same call may succeed later."""


class PermanentError(Exception):
    """Retrying the same call will not help."""


# --- Aspose.OCR Cloud: transient ---------------------------------------------------------------
class AsposeThrottledError(TransientError):
    """HTTP 429. ``retry_after`` is the service's ``Retry-After`` in seconds, when it sent one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AsposeUnavailableError(TransientError):
    """HTTP 5xx or 408, a timeout, a dropped or truncated answer, or a body that is not JSON."""


class BudgetWaitError(TransientError):
    """The fleet's call budget has no slot soon enough: the call was not made. ``retry_after``
    is how long until the slot kept for the next poll (``slot``, epoch seconds; None: none
    kept)."""

    def __init__(self, message: str, retry_after: float, slot: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.slot = slot


class BreakerOpenError(TransientError):
    """The fleet's circuit breaker is open: the poll was not made (the task is Paused)."""


class CredentialsUnavailableError(TransientError):
    """The Aspose credentials could not be read from Secrets Manager right now."""


# --- Aspose.OCR Cloud: permanent ---------------------------------------------------------------
class AsposeAuthError(PermanentError):
    """HTTP 401 after one token refresh, 403, or credentials the token endpoint refused."""


class AsposeBadRequestError(PermanentError):
    """Any other 4xx: the request itself is wrong."""


class AsposeProtocolError(PermanentError):
    """A 200 whose JSON is not the documented shape, or an answer no client should follow."""


class ResponseTooLarge(PermanentError):
    """An answer larger than the configured cap (``MaxResponseBytes``), on the wire or inflated.

    Named as the outcome's reason, like ``DeadlineReached``: the task ends ``Failed`` with it.
    """


class CredentialsNotConfigured(PermanentError):
    """The stack's Aspose secret still holds its placeholder, or no usable client id and secret."""


# --- Product --------------------------------------------------------------------------------
class ConfigurationError(PermanentError):
    """A missing or malformed setting; the message names the variable."""


class InvalidEventError(PermanentError):
    """An input event that does not match the contract; the message names what was wrong."""


class ResultDecodeError(PermanentError):
    """One region's result could not be decoded; ``reason`` is a short machine-readable code."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class StorageError(TransientError):
    """S3 or DynamoDB refused a write that may succeed on retry."""


class EventPublishError(TransientError):
    """EventBridge ``PutEvents`` reported failed entries."""


class RawResponseMissingError(PermanentError):
    """The raw response a later state points at is not in S3."""


class RawAnswerMismatchError(PermanentError):
    """The answer a state points at is not this execution's Completed answer for its task (another
    key, a changed object, another task, another status): it is refused, never decoded."""


class StoredDataError(PermanentError):
    """Something the product stored for a later state (the submitted region names) is missing
    or not what was written."""


# --- AWS failures --------------------------------------------------------------------------------
#: AWS error codes worth retrying: throttling, the service's own trouble, a conflicting transaction.
TRANSIENT_AWS_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalError",
        "InternalFailure",
        "InternalServiceError",  # Secrets Manager's 500
        "InternalException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "TransactionConflictException",
        "ConditionalRequestConflict",  # S3: two conditional writes of one key at once
    }
)
#: The AWS error codes that mean "slow down": waited out, never a final outcome.
THROTTLING_AWS_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
#: botocore's connection failures: the same call may well succeed later.
TRANSIENT_AWS_EXCEPTIONS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)


def aws_error_code(exc: BaseException) -> str:
    """A ``ClientError``'s AWS error code (``ThrottlingException``...), else the class name."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def is_throttling(exc: BaseException) -> bool:
    """Whether ``exc`` (or the AWS error it wraps) is AWS asking us to slow down."""
    found: BaseException | None = exc
    while found is not None:
        if isinstance(found, ClientError) and aws_error_code(found) in THROTTLING_AWS_CODES:
            return True
        found = found.__cause__
    return False


def is_transient(exc: BaseException) -> bool:
    """Throttling, 5xx and connection trouble from an AWS call: worth retrying."""
    if isinstance(exc, TRANSIENT_AWS_EXCEPTIONS):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return aws_error_code(exc) in TRANSIENT_AWS_CODES or (
            isinstance(status, int) and status >= 500
        )
    return False
