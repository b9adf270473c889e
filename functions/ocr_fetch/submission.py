"""The ``Region Recognition Submitted`` event and the execution input it becomes.

This is the public start contract: detail ``{"taskId": "<GUID>", "regions": [{"name": ...}],
"correlationId": ..., "metadata": {...}, "refetch": ...}``; everything but ``taskId`` is optional.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ocr_fetch.errors import InvalidEventError

SUBMITTED_DETAIL_TYPE = "Region Recognition Submitted"
MAX_EVENT_BYTES = 64 * 1024
MAX_METADATA_BYTES = 2048
MAX_REGIONS = 500
MAX_REGION_NAME_CHARS = 64
MAX_CORRELATION_ID_CHARS = 128
_REFETCH = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


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

    @property
    def execution_name(self) -> str:
        """The task id, so a person finds the execution by it; ``<id>-<refetch>`` for a re-fetch."""
        return f"{self.task_id}-{self.refetch}" if self.refetch else self.task_id

    def execution_input(self) -> dict[str, Any]:
        """State data: ids, labels and counters only (every key present, for JSONPath)."""
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
        }


def parse_submitted_event(body: str | bytes) -> SubmittedTask:
    """Validate an EventBridge event (as delivered to SQS); raise InvalidEventError naming why."""
    if len(body) > MAX_EVENT_BYTES:
        raise InvalidEventError(f"event is {len(body)} bytes, more than {MAX_EVENT_BYTES}")
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
    source = event.get("source")
    return SubmittedTask(
        task_id=validate_task_id(detail.get("taskId")),
        region_names=_region_names(detail.get("regions")),
        correlation_id=_correlation_id(detail.get("correlationId")),
        metadata=_metadata(detail.get("metadata")),
        submitted_at=_event_time(event.get("time")),
        refetch=_refetch(detail.get("refetch")),
        source=source if isinstance(source, str) else None,
    )


def validate_task_id(value: object) -> str:
    if value is None:
        raise InvalidEventError("detail.taskId is missing")
    if not isinstance(value, str):
        raise InvalidEventError("detail.taskId must be a string")
    try:
        uuid.UUID(value)
    except ValueError:
        raise InvalidEventError("detail.taskId is not a GUID") from None
    if len(value) != 36:
        raise InvalidEventError("detail.taskId must be a GUID in its 36-character form")
    return value


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
    size = len(json.dumps(value, separators=(",", ":")))
    if size > MAX_METADATA_BYTES:
        raise InvalidEventError(
            f"detail.metadata is {size} bytes, more than {MAX_METADATA_BYTES} (keep it small)"
        )
    return value


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
