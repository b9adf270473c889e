"""Every error the product raises, by name.

The state machine's ``Retry``/``Catch`` match on the exception class name, so transient and
permanent failures are different classes. Messages never carry tokens, secrets, response bodies or
recognised text.
"""

from __future__ import annotations


class OcrFetchError(Exception):
    """Base class of the product's errors."""


class TransientError(OcrFetchError):
    """Worth retrying: the same call may succeed later."""


class PermanentError(OcrFetchError):
    """Retrying the same call will not help."""


# --- Aspose.OCR Cloud: transient ---------------------------------------------------------------
class AsposeThrottledError(TransientError):
    """HTTP 429. ``retry_after`` is the service's ``Retry-After`` in seconds, when it sent one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AsposeUnavailableError(TransientError):
    """HTTP 5xx, a timeout or a connection error."""


# --- Aspose.OCR Cloud: permanent ---------------------------------------------------------------
class AsposeAuthError(PermanentError):
    """HTTP 401 after one token refresh, 403, or credentials the token endpoint refused."""


class AsposeBadRequestError(PermanentError):
    """Any other 4xx: the request itself is wrong."""


class AsposeProtocolError(PermanentError):
    """A 200 whose body is not the documented JSON."""


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
