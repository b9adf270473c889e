"""What the handlers share: their collaborators, built once per Lambda container, and what a
function the state machine calls wears (:func:`state_machine_task`: the bound on what an error
may carry into the execution's state, the task id on every log line, the metrics flushed)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from ocr_fetch.bucket import ResultBucket
from ocr_fetch.errors import MAX_STATE_MESSAGE_BYTES, clip_bytes
from ocr_fetch.observability import logger, metrics
from ocr_fetch.table import ResultTable

if TYPE_CHECKING:
    from ocr_fetch.client import AsposeClient
    from ocr_fetch.settings import CheckSettings

F = TypeVar("F", bound=Callable[..., Any])


@cache
def result_bucket(name: str) -> ResultBucket:
    return ResultBucket(name)


@cache
def result_table(name: str, retention_days: int) -> ResultTable:
    return ResultTable(name, retention_days=retention_days)


@cache
def aspose_client(settings: CheckSettings) -> AsposeClient:
    # Only the check function calls Aspose: the others do not import requests at all.
    from ocr_fetch.client import AsposeClient, Limits
    from ocr_fetch.credentials import SecretCredentials

    return AsposeClient.create(
        base_url=settings.aspose_base_url,
        token_url=settings.aspose_token_url,
        credentials=SecretCredentials(settings.aspose_secret_name, settings.secret_cache_seconds),
        limits=Limits(
            timeout=(settings.connect_timeout_seconds, settings.read_timeout_seconds),
            max_response_bytes=settings.max_response_bytes,
        ),
    )


def bounded_errors(handler: F) -> F:
    """Let an error leave the handler small: its message clipped, its traceback only this frame.

    Step Functions puts a failed task's error (the runtime's JSON: message, type, stack trace)
    in the state as the Catch's ``Cause``; unbounded, a long message or a deep stack would take
    the state past its budget. The class, whose name the state machine matches, is unchanged.
    """

    @functools.wraps(handler)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except Exception as exc:
            message = str(exc)
            clipped = clip_bytes(message, MAX_STATE_MESSAGE_BYTES)
            if clipped != message or len(exc.args) != 1:
                exc.args = (clipped,)
            raise exc.with_traceback(None) from None

    return bounded  # type: ignore[return-value]


Handler = Callable[..., Any]


def state_machine_task(correlation_id_path: str) -> Callable[[Handler], Handler]:
    """What the handler of a function a Task state calls wears: the error that leaves it bounded
    (:func:`bounded_errors`, outermost, so what reaches the state is what was clipped), the task
    id (at ``correlation_id_path`` in the payload) on every log line, its metrics flushed when
    it ends."""

    def wear(handler: Handler) -> Handler:
        logged = logger.inject_lambda_context(correlation_id_path=correlation_id_path)
        return bounded_errors(logged(metrics.log_metrics(handler)))

    return wear
