"""The ``Region Recognition Submitted`` event and the execution input it becomes.

This is the public start contract: detail ``{"taskId": "<GUID>", "regions": [{"name": ...}],
"correlationId": ..., "metadata": {...}, "refetch": ..., "expectedSeconds": ...}``; everything but
``taskId`` is optional. ``expectedSeconds`` is the submitter's guess of how long the service will
take; polling plans with it (:mod:`ocr_fetch.learning`).

What a task was submitted with is fixed by its first accepted submission
(:class:`SubmittedFacts`, kept once in the results bucket): a duplicate or a re-fetch reads it
and never changes it, so the names an execution stores are always the first submission's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ocr_fetch import jsonlimits
from ocr_fetch.errors import InvalidEventError
from ocr_fetch.layout import safe_key_segment, submitted_key
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
#: Aspose keeps a task's results this long after its submission: an older event names a task
#: whose results are gone.
RESULTS_KEPT_SECONDS = 86_400
#: An ``expectedSeconds`` hint must be in this range.
EXPECTED_SECONDS_RANGE = (1, RESULTS_KEPT_SECONDS)
#: How far ahead of the starter's clock an event's time may be (clocks differ a little); a time
#: ahead by less counts as now.
MAX_CLOCK_SKEW_SECONDS = 300
#: A task announced later than this after its event's time does not teach polling: its
#: duration, counted from when the product first saw it, would be too short.
MAX_TEACHING_LAG_SECONDS = 10
#: The submitted facts object, read back by the starter and the store (names of 64 characters of
#: 4 bytes each, 500 of them, and metadata fit far below it).
MAX_FACTS_BYTES = 256 * 1024
_REFETCH = re.compile(r"[A-Za-z0-9_-]{1,36}")
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
#: What Step Functions accepts as an execution name (1-80 characters, none of whitespace,
#: brackets, wildcards, control characters or ``"#%\^|~`$&,;:/``), narrowed to what this product
#: makes: a task id, optionally followed by ``-<refetch label>``.
_EXECUTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
#: A history scope (``tenant:<id>`` or ``source:<source>``) is kept to this many characters.
MAX_SCOPE_CHARS = 72


def execution_name_of(task_id: str, refetch: str | None = None) -> str:
    """The name of the execution a submission starts: the task id, so a person finds the
    execution by it; ``<id>-<refetch>`` for a re-fetch."""
    return f"{task_id}-{refetch}" if refetch else task_id


@dataclass(frozen=True)
class SubmittedTask:
    """A validated submission: what one execution works on."""

    task_id: str
    region_names: tuple[str | None, ...] | None
    correlation_id: str | None
    metadata: dict[str, Any] | None
    #: The event's time: when the submitter says it submitted the task (never ahead of
    #: ``received_at``; range-checked when parsed).
    submitted_at: datetime
    refetch: str | None = None
    source: str | None = None
    expected_seconds: float | None = None
    #: When the starter received the event (its own clock).
    received_at: datetime | None = None
    event_id: str | None = None

    @property
    def execution_name(self) -> str:
        return execution_name_of(self.task_id, self.refetch)

    @property
    def history_scope(self) -> str:
        """Whose history polling learns from for this task: the tenant the metadata names
        (``metadata.tenant``), else the event's source, so no submitter steers another's polls."""
        tenant = (self.metadata or {}).get("tenant")
        if isinstance(tenant, str) and tenant:
            scope = f"tenant:{safe_key_segment(tenant, max_chars=MAX_SCOPE_CHARS)}"
        else:
            scope = f"source:{safe_key_segment(self.source or '', max_chars=MAX_SCOPE_CHARS)}"
        return scope[:MAX_SCOPE_CHARS]

    def facts(self) -> SubmittedFacts:
        """What this submission says, as the task's facts if it is the first accepted one."""
        received = self.received_at or self.submitted_at
        lag = (received - self.submitted_at).total_seconds()
        return SubmittedFacts(
            task_id=self.task_id,
            region_names=self.region_names,
            correlation_id=self.correlation_id,
            metadata=self.metadata,
            submitted_at=self.submitted_at,
            received_at=received,
            history_scope=self.history_scope,
            event_id=self.event_id,
            on_time=lag <= MAX_TEACHING_LAG_SECONDS,
        )

    def execution_input_json(
        self, facts: SubmittedFacts | None = None, start: PollStart | None = None
    ) -> str:
        """The execution input exactly as sent to StartExecution (UTF-8, compact)."""
        return json.dumps(
            self.execution_input(facts, start), ensure_ascii=False, separators=(",", ":")
        )

    def execution_input(
        self, facts: SubmittedFacts | None = None, start: PollStart | None = None
    ) -> dict[str, Any]:
        """State data: ids, labels and counters only (every key present, for JSONPath), and how
        polling starts (its plan; without one, at once by the geometric policy).

        Everything about what was submitted comes from ``facts``, the task's first accepted
        submission (this one's own when not given). Region names are kept by reference
        (``submittedKey``), so the state stays small whatever the number of regions: only their
        count travels. ``teach`` says whether this run's duration may teach polling: only the
        first submission's own run, announced on time."""
        own = self.facts()
        facts = facts or own
        start = start or PollStart(task_kind(len(facts.region_names or ())))
        # The first submission's own run, or a redelivery of the very same event.
        first = (
            facts.event_id == own.event_id
            if facts.event_id is not None
            else facts.received_at == own.received_at
        )
        return {
            "taskId": self.task_id,
            "regionCount": facts.region_count,
            "submittedKey": submitted_key(self.task_id),
            "correlationId": facts.correlation_id,
            "metadata": facts.metadata,
            "submittedAt": iso(facts.submitted_at),
            "receivedAt": iso(facts.received_at),
            "source": self.source,
            "eventId": self.event_id,
            "teach": first and facts.on_time and self.refetch is None,
            "poll": start.to_state(),
        }


@dataclass(frozen=True)
class SubmittedFacts:
    """What a task was submitted with, fixed by its first accepted submission: never changed
    by a duplicate or a re-fetch (the starter writes it once, conditionally, and reads it after)."""

    task_id: str
    region_names: tuple[str | None, ...] | None
    correlation_id: str | None
    metadata: dict[str, Any] | None
    submitted_at: datetime
    #: When the product first saw the task: durations that teach polling count from here.
    received_at: datetime
    history_scope: str
    event_id: str | None = None
    #: Announced within :data:`MAX_TEACHING_LAG_SECONDS` of its event's time.
    on_time: bool = True

    @property
    def region_count(self) -> int | None:
        return len(self.region_names) if self.region_names is not None else None

    def to_json(self) -> bytes:
        """The object kept at :func:`~ocr_fetch.layout.submitted_key`: labels, never recognised
        text."""
        names = self.region_names
        body = {
            "taskId": self.task_id,
            "regions": None
            if names is None
            else [{"index": i, "name": name} for i, name in enumerate(names)],
            "correlationId": self.correlation_id,
            "metadata": self.metadata,
            "submittedAt": iso(self.submitted_at),
            "receivedAt": iso(self.received_at),
            "historyScope": self.history_scope,
            "eventId": self.event_id,
            "onTime": self.on_time,
        }
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes, where: str) -> SubmittedFacts:
        """Read what :meth:`to_json` wrote; ``ValueError`` naming ``where`` when it is not."""
        try:
            value = jsonlimits.loads(body, max_bytes=MAX_FACTS_BYTES, what=where)
            regions = value["regions"]
            names = None if regions is None else tuple(region["name"] for region in regions)
            submitted_at = parse_timestamp(value["submittedAt"])
            received_at = parse_timestamp(value["receivedAt"])
            facts = cls(
                task_id=validate_task_id(value["taskId"]),
                region_names=names,
                correlation_id=value.get("correlationId"),
                metadata=value.get("metadata"),
                submitted_at=submitted_at or datetime.now(UTC),
                received_at=received_at or submitted_at or datetime.now(UTC),
                history_scope=str(value.get("historyScope") or "source:"),
                event_id=value.get("eventId"),
                on_time=value.get("onTime") is True,
            )
        except (ValueError, KeyError, TypeError, InvalidEventError) as exc:
            raise ValueError(f"{where} is not a submitted-facts object") from exc
        if submitted_at is None or received_at is None or not _facts_typed(facts):
            raise ValueError(f"{where} is not a submitted-facts object")
        return facts


def _facts_typed(facts: SubmittedFacts) -> bool:
    names = facts.region_names or ()
    return (
        all(name is None or isinstance(name, str) for name in names)
        and (facts.correlation_id is None or isinstance(facts.correlation_id, str))
        and (facts.metadata is None or isinstance(facts.metadata, dict))
        and (facts.event_id is None or isinstance(facts.event_id, str))
    )


def iso(moment: datetime) -> str:
    """A timestamp as state data and stored objects carry it: ISO 8601, UTC, ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_submitted_event(body: str | bytes, received_at: datetime | None = None) -> SubmittedTask:
    """Validate an EventBridge event (as delivered to SQS); raise InvalidEventError naming why.

    Whatever is accepted can be carried to a recorded outcome: every text is valid Unicode, the
    metadata fits DynamoDB (numbers, depth) and the execution input fits its limit, counted in
    UTF-8 bytes of what is actually sent. The event's time is checked against ``received_at``
    (the starter's clock, now when not given).
    """
    received_at = received_at or datetime.now(UTC)
    try:
        event = jsonlimits.loads(body, max_bytes=MAX_EVENT_BYTES, what="event")
    except jsonlimits.JsonLimitError as exc:
        raise InvalidEventError(str(exc)) from None
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
    event_id = event.get("id")
    task = SubmittedTask(
        task_id=validate_task_id(detail.get("taskId")),
        region_names=_region_names(detail.get("regions")),
        correlation_id=_correlation_id(detail.get("correlationId")),
        metadata=_metadata(detail.get("metadata")),
        submitted_at=_event_time(event.get("time"), received_at),
        refetch=_refetch(detail.get("refetch")),
        source=source if isinstance(source, str) else None,
        expected_seconds=_expected_seconds(detail.get("expectedSeconds")),
        received_at=received_at,
        event_id=event_id if isinstance(event_id, str) else None,
    )
    validate_execution_name(task.execution_name)
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
    if not _GUID.fullmatch(value):
        raise InvalidEventError(
            "detail.taskId is not a GUID in its 36-character form (8-4-4-4-12 hex digits)"
        )
    return value.lower()


def validate_execution_name(name: object) -> str:
    """An execution name as this product makes them, valid on AWS; InvalidEventError if not."""
    if not isinstance(name, str) or not _EXECUTION_NAME.fullmatch(name):
        raise InvalidEventError(
            "the execution name must be 1-80 characters of A-Z, a-z, 0-9, _ or -"
        )
    return name


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
    if not isinstance(value, str) or not _REFETCH.fullmatch(value):
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


def _event_time(value: object, received_at: datetime) -> datetime:
    """The event's time, range-checked against the starter's clock: not ahead of it by more
    than :data:`MAX_CLOCK_SKEW_SECONDS` (less counts as now), not older than the results."""
    if value is None:
        return received_at
    parsed = parse_timestamp(value)
    if parsed is None:
        raise InvalidEventError("event time is not an ISO 8601 timestamp")
    try:
        age = (received_at - parsed).total_seconds()
    except OverflowError:
        raise InvalidEventError("event time is out of range") from None
    if age < -MAX_CLOCK_SKEW_SECONDS:
        raise InvalidEventError(
            f"event time is {-age:.0f} s ahead of the starter's clock "
            f"(more than {MAX_CLOCK_SKEW_SECONDS} s)"
        )
    if age > RESULTS_KEPT_SECONDS:
        raise InvalidEventError(
            f"event time is {age / 3600:.1f} h old: Aspose keeps results "
            f"{RESULTS_KEPT_SECONDS // 3600} h after submission, so this task's are gone"
        )
    return min(parsed, received_at)
