"""Event details: ids, counts, S3 locations and error names, never recognised text.

:func:`build_outcome_detail` is the detail of an outcome event, which the state machine publishes
itself (``events:putEvents``) with ``source`` :data:`SOURCE` and the outcome's detail type
(``Region Recognition Completed`` ...). A detail stays under EventBridge's 256 KiB entry limit: when
the regions list would push it over, it is cut and ``regionsTruncated`` is set (the manifest in S3
lists them all). :class:`EventPublisher` announces submitted tasks, for submitters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ocr_fetch import aws
from ocr_fetch.errors import (
    MAX_STATE_MESSAGE_BYTES,
    EventPublishError,
    aws_error_code,
    clip_bytes,
    is_transient,
)
from ocr_fetch.layout import task_prefix
from ocr_fetch.outcome import Outcome, OutcomeKind
from ocr_fetch.submission import SUBMITTED_DETAIL_TYPE

SOURCE = "ocr.region-results"
#: EventBridge's limit for one entry.
MAX_ENTRY_BYTES = 256 * 1024
#: What a detail may use: the rest of an entry is source, detail type, resources and time.
MAX_DETAIL_BYTES = MAX_ENTRY_BYTES - 8 * 1024
_TIME_BYTES = 14  # EventBridge counts the Time field as 14 bytes whether sent or not


def build_outcome_detail(outcome: Outcome, *, max_bytes: int = MAX_DETAIL_BYTES) -> dict[str, Any]:
    """The detail of an outcome event; JSON-serialisable and at most ``max_bytes`` encoded."""
    detail: dict[str, Any] = {
        "taskId": outcome.task_id,
        "status": outcome.kind.value,
        "taskStatus": outcome.task_status,
        "responseStatusCode": outcome.response_status_code,
        "executionArn": outcome.execution_arn,
        "polls": outcome.polls,
        "results": {
            "bucket": outcome.bucket,
            "prefix": outcome.prefix or task_prefix(outcome.task_id),
            "manifestKey": outcome.manifest_key,
            "rawKey": outcome.raw_key,
        },
        "regions": [],
        "regionCount": len(outcome.regions),
        "errorCount": outcome.region_error_count,
        "countMismatch": outcome.count_mismatch,
        "expectedRegionCount": outcome.expected_region_count,
        "receivedResultCount": outcome.received_result_count,
        "warnings": list(outcome.warnings),
    }
    if outcome.correlation_id is not None:
        detail["correlationId"] = outcome.correlation_id
    if outcome.metadata is not None:
        # Round-tripped so Decimals read back from DynamoDB become plain JSON numbers.
        detail["metadata"] = json.loads(_dumps(outcome.metadata))
    if outcome.kind is not OutcomeKind.COMPLETED:
        detail["error"] = {
            "name": outcome.error_name,
            "message": clip_bytes(outcome.error_message, MAX_STATE_MESSAGE_BYTES),
        }
    if encoded_size(detail) > max_bytes and "metadata" in detail:
        # Metadata is meant to be small; one that does not fit is left to the table item.
        del detail["metadata"]
        detail["metadataTruncated"] = True
    budget = max_bytes - encoded_size(detail) - len(',"regionsTruncated":true')
    for region in outcome.regions:
        entry = region.as_published()
        budget -= encoded_size(entry) + 1
        if budget < 0:
            detail["regionsTruncated"] = True
            break
        detail["regions"].append(entry)
    return detail


def build_submitted_detail(
    task_id: str,
    region_names: Sequence[str | None],
    correlation_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The detail announcing a submitted task: its id and its regions' names, in order."""
    detail: dict[str, Any] = {
        "taskId": task_id,
        "regions": [{"index": i, "name": name} for i, name in enumerate(region_names)],
    }
    if correlation_id is not None:
        detail["correlationId"] = correlation_id
    if metadata is not None:
        detail["metadata"] = json.loads(_dumps(metadata))
    return detail


class EventPublisher:
    """Puts events on one bus, one at a time. The client is created on first use unless given.

    Outcome events are published by the state machine itself; this is for submitters, who
    announce the tasks they submitted (``Region Recognition Submitted``).
    """

    def __init__(self, bus_name: str, *, source: str = SOURCE, client: Any = None) -> None:
        self.bus_name = bus_name
        self.source = source
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("events")
        return self._client

    def publish(
        self, detail_type: str, detail: Mapping[str, Any], *, source: str | None = None
    ) -> str:
        """Put one event; return its id.

        An event over EventBridge's 256 KiB is a ``ValueError`` (nothing is sent); a rejected or
        transiently failed one raises :class:`EventPublishError` naming the error code.
        """
        entry = self._entry(detail_type, detail, source)
        try:
            answer = self.client.put_events(Entries=[entry])
        except (ClientError, BotoCoreError) as exc:
            if not is_transient(exc):
                raise
            raise EventPublishError(f"PutEvents failed transiently: {aws_error_code(exc)}") from exc
        results: list[dict[str, Any]] = answer.get("Entries", [])
        if (
            int(answer.get("FailedEntryCount", 0))
            or len(results) != 1
            or "EventId" not in results[0]
        ):
            codes = sorted({str(r["ErrorCode"]) for r in results if r.get("ErrorCode")})
            raise EventPublishError(
                f"EventBridge rejected the {detail_type!r} event: "
                f"{', '.join(codes) or 'no error code given'}"
            )
        return str(results[0]["EventId"])

    def publish_submitted(
        self,
        task_id: str,
        region_names: Sequence[str | None],
        correlation_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        source: str | None = None,
    ) -> str:
        """Announce a submitted task (``Region Recognition Submitted``)."""
        detail = build_submitted_detail(task_id, region_names, correlation_id, metadata)
        return self.publish(SUBMITTED_DETAIL_TYPE, detail, source=source)

    def _entry(
        self, detail_type: str, detail: Mapping[str, Any], source: str | None
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "EventBusName": self.bus_name,
            "Source": source or self.source,
            "DetailType": detail_type,
            "Detail": _dumps(detail),
        }
        size = _entry_size(entry)
        if size > MAX_ENTRY_BYTES:
            raise ValueError(
                f"{detail_type!r} event is {size} bytes, over EventBridge's {MAX_ENTRY_BYTES}"
            )
        return entry


def _entry_size(entry: Mapping[str, Any]) -> int:
    parts = (entry["Source"], entry["DetailType"], entry["Detail"])
    return _TIME_BYTES + sum(len(part.encode("utf-8")) for part in parts)


def _dumps(value: Any) -> str:
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default
    )


def encoded_size(value: Any) -> int:
    """UTF-8 bytes of ``value`` as compact JSON: how EventBridge and Step Functions count it."""
    return len(_dumps(value).encode("utf-8"))


def _json_default(value: Any) -> Any:
    # Metadata read back from DynamoDB holds Decimals.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
