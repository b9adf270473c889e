"""The ``Region Recognition Submitted`` event and the execution input it becomes.

This is the public start contract: detail ``{"taskId": "<GUID>", "regions": [{"name": ...}],
"correlationId": ..., "metadata": {...}, "refetch": ..., "expectedSeconds": ...}``; everything but
``taskId`` is optional. ``expectedSeconds`` is the submitter's guess of how long the service will
take; polling plans with it (:mod:`ocr_fetch.learning`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ocr_fetch.errors import InvalidEventError
from ocr_fetch.learning import PollStart, task_kind

SUBMITTED_DETAIL_TYPE = "Region Recognition Submitted"
#: An announcement larger than this (UTF-8 bytes) is refused.
MAX_EVENT_BYTES = 64 * 1024
#: The execution input (UTF-8 bytes, as sent): state data grows from it and must stay far under
#: Step Functions' 256 KiB.
MAX_EXECUTION_INPUT_BYTES = 64 * 1024
MAX_METADATA_BYTES = 2048
#: Levels of nesting inside metadata (DynamoDB allows 32 in an item; the item adds its own).
MAX_METADATA_DEPTH = 16
#: DynamoDB numbers hold 38 significant digits.
MAX_NUMBER_DIGITS = 38
MAX_REGIONS = 500
MAX_REGION_NAME_CHARS = 64
MAX_CORRELATION_ID_CHARS = 128
#: An ``expectedSeconds`` hint must be in this range (the results are kept 24 hours).
EXPECTED_SECONDS_RANGE = (1, 86_400)
_REFETCH = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


@dataclass(frozen=True)
class SubmittedTask:
    """A validated submission: what one execution works on."""

    task_id: str
    region_names: tuple[str | None, ...] | None
    correlation_id: str | None
    metadata: dict[str, Any] | None
    submitted_at: datetime
    refetch: str | None = None
    source: str | None = None
    expected_seconds: float | None = None

    @property
    def execution_name(self) -> str:
        """The task id, so a person finds the execution by it; ``<id>-<refetch>`` for a re-fetch."""
        return f"{self.task_id}-{self.refetch}" if self.refetch else self.task_id

    def execution_input_json(self, start: PollStart | None = None) -> str:
        """The execution input exactly as sent to StartExecution (UTF-8, compact)."""
        return json.dumps(self.execution_input(start), ensure_ascii=False, separators=(",", ":"))

    def execution_input(self, start: PollStart | None = None) -> dict[str, Any]:
        """State data: ids, labels and counters only (every key present, for JSONPath), and how
        polling starts (its plan; without one, at once by the geometric policy)."""
        start = start or PollStart(task_kind(len(self.region_names or ())))
        return {
            "taskId": self.task_id,
            "regions": (
                [{"name": name} for name in self.region_names]
                if self.region_names is not None
                else None
            ),
            "correlationId": self.correlation_id,
            "metadata": self.metadata,
            "submittedAt": self.submitted_at.isoformat().replace("+00:00", "Z"),
            "source": self.source,
            "poll": start.to_state(),
        }


def parse_submitted_event(body: str | bytes) -> SubmittedTask:
    """Validate an EventBridge event (as delivered to SQS); raise InvalidEventError naming why.

    Whatever is accepted can be carried to a recorded outcome: every text is valid Unicode, the
    metadata fits DynamoDB (numbers, depth) and the execution input fits its limit, counted in
    UTF-8 bytes of what is actually sent.
    """
    size = len(body.encode("utf-8", errors="surrogatepass") if isinstance(body, str) else body)
    if size > MAX_EVENT_BYTES:
        raise InvalidEventError(f"event is {size} bytes, more than {MAX_EVENT_BYTES}")
    try:
        event = json.loads(body)
    except ValueError as exc:
        raise InvalidEventError("event is not valid JSON") from exc
    if not isinstance(event, dict):
        raise InvalidEventError("event must be a JSON object")
    detail_type = event.get("detail-type")
    if detail_type != SUBMITTED_DETAIL_TYPE:
        raise InvalidEventError(
            f"detail-type must be {SUBMITTED_DETAIL_TYPE!r}, got {detail_type!r}"
        )
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidEventError("detail must be a JSON object")
    _require_unicode(event)
    source = event.get("source")
    task = SubmittedTask(
        task_id=validate_task_id(detail.get("taskId")),
        region_names=_region_names(detail.get("regions")),
        correlation_id=_correlation_id(detail.get("correlationId")),
        metadata=_metadata(detail.get("metadata")),
        submitted_at=_event_time(event.get("time")),
        refetch=_refetch(detail.get("refetch")),
        source=source if isinstance(source, str) else None,
        expected_seconds=_expected_seconds(detail.get("expectedSeconds")),
    )
    sent = len(task.execution_input_json().encode("utf-8"))
    if sent > MAX_EXECUTION_INPUT_BYTES:
        raise InvalidEventError(
            f"the execution input would be {sent} bytes, more than {MAX_EXECUTION_INPUT_BYTES} "
            "(shorter or fewer region names, smaller metadata)"
        )
    return task


def validate_task_id(value: object) -> str:
    """A task id in canonical form: a GUID's 36 characters with hyphens, in lower case.

    Any case is accepted and lowered, so every spelling of one task names one execution; other
    forms (``urn:uuid:``, braces, no hyphens) are refused rather than guessed.
    """
    if value is None:
        raise InvalidEventError("detail.taskId is missing")
    if not isinstance(value, str):
        raise InvalidEventError("detail.taskId must be a string")
    if not _GUID.match(value):
        raise InvalidEventError(
            "detail.taskId is not a GUID in its 36-character form (8-4-4-4-12 hex digits)"
        )
    return value.lower()


def _region_names(value: object) -> tuple[str | None, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidEventError("detail.regions must be a list")
    if len(value) > MAX_REGIONS:
        raise InvalidEventError(f"detail.regions has {len(value)} entries, more than {MAX_REGIONS}")
    names: list[str | None] = []
    for index, region in enumerate(value):
        if not isinstance(region, dict):
            raise InvalidEventError(f"detail.regions[{index}] must be an object")
        name = region.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > MAX_REGION_NAME_CHARS):
            raise InvalidEventError(
                f"detail.regions[{index}].name must be a string of at most "
                f"{MAX_REGION_NAME_CHARS} characters"
            )
        names.append(name or None)
    return tuple(names)


def _correlation_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_CORRELATION_ID_CHARS:
        raise InvalidEventError(
            f"detail.correlationId must be a string of at most {MAX_CORRELATION_ID_CHARS} chars"
        )
    return value


def _metadata(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidEventError("detail.metadata must be an object")
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise InvalidEventError(
            f"detail.metadata is {size} bytes, more than {MAX_METADATA_BYTES} (keep it small)"
        )
    _storable(value, "detail.metadata", 1)
    return value


def _storable(value: Any, where: str, depth: int) -> None:
    """Raise InvalidEventError unless DynamoDB and EventBridge can hold ``value`` as it is."""
    if depth > MAX_METADATA_DEPTH:
        raise InvalidEventError(f"{where} is nested more than {MAX_METADATA_DEPTH} levels deep")
    if isinstance(value, dict):
        for key, item in value.items():
            if not key:
                raise InvalidEventError(f"{where} has an empty key")
            _storable(item, f"{where}.{_quoted(key)}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _storable(item, f"{where}[{index}]", depth + 1)
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        return
    elif isinstance(value, int | float):
        _storable_number(value, where)


def _quoted(key: str) -> str:
    """A metadata key as a reason quotes it: bounded and ASCII (a dead letter's reason is an SQS
    attribute, where control characters are not allowed)."""
    return json.dumps(key[:40])


def _storable_number(value: int | float, where: str) -> None:
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise InvalidEventError(f"{where} is not a finite number") from None
    if not number.is_finite():
        raise InvalidEventError(f"{where} is not a finite number")
    # As written: boto3 refuses a 50-digit integer even when it is 10**49 (Rounded).
    digits = len(number.as_tuple().digits)
    exponent = number.adjusted() if number else 0
    if digits > MAX_NUMBER_DIGITS or not -130 <= exponent <= 125:
        raise InvalidEventError(
            f"{where} has more than {MAX_NUMBER_DIGITS} significant digits or is out of range "
            "(send it as a string)"
        )


def _require_unicode(event: Any) -> None:
    """Every text in the event must be valid Unicode (a JSON escape can make a lone surrogate,
    which nothing downstream can encode)."""
    try:
        json.dumps(event, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidEventError(
            "the event holds text that is not valid Unicode (a lone surrogate)"
        ) from None


def _expected_seconds(value: object) -> float | None:
    if value is None:
        return None
    low, high = EXPECTED_SECONDS_RANGE
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidEventError(f"detail.expectedSeconds must be a number from {low} to {high}")
    return float(value)


def _refetch(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _REFETCH.match(value):
        raise InvalidEventError("detail.refetch must be 1-36 characters of A-Z, a-z, 0-9, _ or -")
    return value


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 timestamp (``Z`` or an offset; none means UTC) as an aware datetime.

    None when ``value`` is not a string in that form: each caller decides what that means.
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _event_time(value: object) -> datetime:
    if not isinstance(value, str):
        return datetime.now(UTC)
    parsed = parse_timestamp(value)
    if parsed is None:
        raise InvalidEventError("event time is not an ISO 8601 timestamp")
    return parsed
