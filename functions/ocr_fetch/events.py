"""Event details: ids, counts, S3 locations and error names, never recognised text.

:func:`build_outcome_detail` is the detail of an outcome event, which the state machine publishes
itself (``events:putEvents``) with ``source`` :data:`SOURCE` and the outcome's detail type
(``Region Recognition Completed`` ...). A detail stays under EventBridge's 256 KiB entry limit: when
the regions list would push it over, it is cut and ``regionsTruncated`` is set (the manifest in S3
lists them all). :class:`EventPublisher` announces submitted tasks, for submitters: one, or many in
``PutEvents`` batches whose failed entries are retried.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ocr_fetch import aws
from ocr_fetch.errors import (
    MAX_STATE_MESSAGE_BYTES,
    TRANSIENT_AWS_CODES,
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
#: What an outcome event carries of the service's warnings and statuses (the manifest and the
#: table item keep them whole): the event joins the execution's state, which has a budget.
MAX_EVENT_WARNINGS = 5
MAX_EVENT_WARNING_BYTES = 256
MAX_EVENT_STATUS_BYTES = 128
#: EventBridge takes at most this many entries in one ``PutEvents`` call (and 256 KiB in all).
MAX_BATCH_ENTRIES = 10
#: Tries of one entry, the first included, while its error is transient.
MAX_PUT_ATTEMPTS = 4


def build_outcome_detail(outcome: Outcome, *, max_bytes: int = MAX_DETAIL_BYTES) -> dict[str, Any]:
    """The detail of an outcome event; JSON-serialisable and at most ``max_bytes`` encoded."""
    detail: dict[str, Any] = {
        "taskId": outcome.task_id,
        "status": outcome.kind.value,
        "taskStatus": clip_bytes(outcome.task_status, MAX_EVENT_STATUS_BYTES),
        "responseStatusCode": clip_bytes(outcome.response_status_code, MAX_EVENT_STATUS_BYTES),
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
        "warnings": [
            clip_bytes(warning, MAX_EVENT_WARNING_BYTES)
            for warning in outcome.warnings[:MAX_EVENT_WARNINGS]
        ],
    }
    if len(outcome.warnings) > MAX_EVENT_WARNINGS:
        detail["warningsTruncated"] = True
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
    if encoded_size(detail) > max_bytes and detail["warnings"]:
        # The service's warnings are kept whole in the manifest and the table item.
        detail["warnings"] = []
        detail["warningsTruncated"] = True
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


@dataclass(frozen=True)
class Event:
    """One event to put: its detail type and detail, and optionally its source (the
    publisher's own by default) and time (when it happened; the call's time by default)."""

    detail_type: str
    detail: Mapping[str, Any]
    source: str | None = None
    time: datetime | None = None


@dataclass(frozen=True)
class EntryFailure:
    """An event that was not put: its index among those given, and EventBridge's error code."""

    index: int
    code: str
    message: str = ""


@dataclass(frozen=True)
class PutResult:
    """What :meth:`EventPublisher.publish_batch` did: each event's id (None where it failed),
    the events that failed after every retry, how many ``PutEvents`` calls it made and how many
    entries it sent again. ``stopped_by`` is a permanent error of a whole call (access denied,
    no such bus): nothing after it was sent, and its events are failures too."""

    event_ids: tuple[str | None, ...]
    failures: tuple[EntryFailure, ...] = ()
    calls: int = 0
    retried: int = 0
    stopped_by: ClientError | None = None


@dataclass(frozen=True)
class Retries:
    """How failed entries are tried again: at most ``attempts`` tries of each entry (the first
    included), with full-jitter exponential backoff between tries, as AWS advises for
    ``PutEvents``: throttled retries that all wake at once would be throttled again."""

    attempts: int = MAX_PUT_ATTEMPTS
    base_seconds: float = 0.1
    max_seconds: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random

    def pause(self, retry: int) -> None:
        """Wait before retry number ``retry`` (1 for the first)."""
        self.sleep(min(self.max_seconds, self.base_seconds * 2 ** (retry - 1)) * self.rand())


class EventPublisher:
    """Puts events on one bus. The client is created on first use unless given.

    Outcome events are published by the state machine itself; this is for submitters, who
    announce the tasks they submitted (``Region Recognition Submitted``). A ``PutEvents`` call can
    succeed while some of its entries fail (``FailedEntryCount``): those entries, and only those,
    are sent again (:class:`Retries`), and what still fails is reported, never dropped.
    """

    client = aws.LazyClient("events")

    def __init__(
        self,
        bus_name: str,
        *,
        source: str = SOURCE,
        client: Any = None,
        retries: Retries | None = None,
    ) -> None:
        self.bus_name = bus_name
        self.source = source
        self.retries = retries or Retries()
        self.client = client

    def publish(
        self,
        detail_type: str,
        detail: Mapping[str, Any],
        *,
        source: str | None = None,
        at: datetime | None = None,
    ) -> str:
        """Put one event (through :meth:`publish_batch`, so retried as any entry); its id.
        ``at``: when it happened (the call's time by default).

        An event over EventBridge's 256 KiB is a ``ValueError`` (nothing is sent); a rejected or
        transiently failed one raises :class:`EventPublishError` naming the error code, once
        its retries are spent; a permanent error of the call itself is raised as it came.
        """
        result = self.publish_batch([Event(detail_type, detail, source, at)])
        if result.stopped_by is not None:
            raise result.stopped_by
        event_id = result.event_ids[0]
        if event_id is None:
            codes = sorted({failure.code for failure in result.failures})
            raise EventPublishError(
                f"EventBridge rejected the {detail_type!r} event: "
                f"{', '.join(codes) or 'no error code given'}"
            )
        return event_id

    def publish_batch(
        self, events: Sequence[Event], on_put: Callable[[int], None] | None = None
    ) -> PutResult:
        """Put many events, :data:`MAX_BATCH_ENTRIES` (and at most 256 KiB) a call; retry exactly
        the entries each answer reports failed (or every entry of a call that failed
        transiently) while the error is transient. ``on_put(n)`` is told each time ``n`` more
        events are settled (put or failed for good), for a progress bar.

        Every event is checked first: one over EventBridge's 256 KiB is a ``ValueError`` and
        nothing is sent."""
        entries = [self._entry(e.detail_type, e.detail, e.source, e.time) for e in events]
        batch = _Batch(len(entries))
        for chunk in _chunks(entries):
            if batch.stopped_by is not None:
                batch.stop(chunk, batch.stopped_by)
            else:
                self._put_chunk(entries, chunk, batch)
            if on_put is not None:
                on_put(len(chunk))
        return batch.result()

    def _put_chunk(
        self, entries: Sequence[dict[str, Any]], chunk: list[int], batch: _Batch
    ) -> None:
        """One chunk's tries: the entries still failing transiently are sent again, alone."""
        pending = chunk
        for attempt in range(1, self.retries.attempts + 1):
            if attempt > 1:
                self.retries.pause(attempt - 1)
                batch.retried += len(pending)
            pending = self._put(entries, pending, batch)
            if not pending:
                return
        batch.give_up(pending)

    def _put(
        self, entries: Sequence[dict[str, Any]], indexes: list[int], batch: _Batch
    ) -> list[int]:
        """One ``PutEvents`` call of the entries at ``indexes``; those worth sending again."""
        batch.calls += 1
        try:
            answer = self.client.put_events(Entries=[entries[i] for i in indexes])
        except (ClientError, BotoCoreError) as exc:
            if not is_transient(exc):
                if not isinstance(exc, ClientError):
                    raise
                batch.stop(indexes, exc)
                return []
            batch.note(indexes, aws_error_code(exc), "PutEvents failed transiently")
            return indexes
        results: list[dict[str, Any]] = list(answer.get("Entries") or [])
        if len(results) != len(indexes):  # an answer that does not say which: all again
            batch.note(indexes, "InternalFailure", "PutEvents answered for other entries")
            return indexes
        again: list[int] = []
        for index, entry in zip(indexes, results, strict=True):
            if entry.get("EventId") and not entry.get("ErrorCode"):
                batch.event_ids[index] = str(entry["EventId"])
                continue
            code = str(entry.get("ErrorCode") or "no error code given")
            batch.note([index], code, str(entry.get("ErrorMessage") or ""))
            if code in TRANSIENT_AWS_CODES or not entry.get("ErrorCode"):
                again.append(index)
            else:
                batch.give_up([index])
        return again

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
        self,
        detail_type: str,
        detail: Mapping[str, Any],
        source: str | None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "EventBusName": self.bus_name,
            "Source": source or self.source,
            "DetailType": detail_type,
            "Detail": _dumps(detail),
        }
        if at is not None:
            entry["Time"] = at
        size = _entry_size(entry)
        if size > MAX_ENTRY_BYTES:
            raise ValueError(
                f"{detail_type!r} event is {size} bytes, over EventBridge's {MAX_ENTRY_BYTES}"
            )
        return entry


class _Batch:
    """What one :meth:`EventPublisher.publish_batch` has learnt so far."""

    def __init__(self, count: int) -> None:
        self.event_ids: list[str | None] = [None] * count
        self.last_error: dict[int, tuple[str, str]] = {}
        self.failed: dict[int, EntryFailure] = {}
        self.calls = 0
        self.retried = 0
        self.stopped_by: ClientError | None = None

    def note(self, indexes: Sequence[int], code: str, message: str) -> None:
        for index in indexes:
            self.last_error[index] = (code, message)

    def give_up(self, indexes: Sequence[int]) -> None:
        for index in indexes:
            code, message = self.last_error.get(index, ("no error code given", ""))
            self.failed[index] = EntryFailure(index, code, message)

    def stop(self, indexes: Sequence[int], exc: ClientError) -> None:
        """A permanent error of a whole call: these entries, and every later one, are not sent."""
        self.stopped_by = exc
        said = clip_bytes(str(exc.response.get("Error", {}).get("Message") or ""), 300)
        self.note(indexes, aws_error_code(exc), f"not sent: PutEvents refused the call ({said})")
        self.give_up(indexes)

    def result(self) -> PutResult:
        failures = tuple(self.failed[index] for index in sorted(self.failed))
        return PutResult(tuple(self.event_ids), failures, self.calls, self.retried, self.stopped_by)


def _chunks(entries: Sequence[dict[str, Any]]) -> list[list[int]]:
    """The entries' indexes, in order, cut into ``PutEvents`` calls: at most
    :data:`MAX_BATCH_ENTRIES` entries and :data:`MAX_ENTRY_BYTES` in all a call."""
    chunks: list[list[int]] = []
    size = 0
    for index, entry in enumerate(entries):
        entry_size = _entry_size(entry)
        if (
            not chunks
            or len(chunks[-1]) >= MAX_BATCH_ENTRIES
            or size + entry_size > MAX_ENTRY_BYTES
        ):
            chunks.append([])
            size = 0
        chunks[-1].append(index)
        size += entry_size
    return chunks


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
