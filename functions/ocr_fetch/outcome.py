"""What a finished workflow recorded: the shape shared by storage, events and the handlers.

An outcome carries ids, counts, S3 locations and error names/messages from the service, never
recognised text, so it may enter execution history, the results table and published events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class OutcomeKind(StrEnum):
    COMPLETED = "Completed"
    FAILED = "Failed"
    NOT_FOUND = "NotFound"
    TIMED_OUT = "TimedOut"

    @property
    def detail_type(self) -> str:
        return DETAIL_TYPES[self]

    @property
    def rank(self) -> int:
        """A recorded outcome is only replaced by one of equal or higher rank."""
        return _RANKS[self]


DETAIL_TYPES: dict[OutcomeKind, str] = {
    OutcomeKind.COMPLETED: "Region Recognition Completed",
    OutcomeKind.FAILED: "Region Recognition Failed",
    OutcomeKind.NOT_FOUND: "Region Recognition Not Found",
    OutcomeKind.TIMED_OUT: "Region Recognition Timed Out",
}
# Completed wins over everything; a definite answer from the service (Error, NotExist) wins over
# our own giving up, so a late duplicate that timed out never hides a real result.
_RANKS: dict[OutcomeKind, int] = {
    OutcomeKind.TIMED_OUT: 1,
    OutcomeKind.FAILED: 2,
    OutcomeKind.NOT_FOUND: 2,
    OutcomeKind.COMPLETED: 3,
}


@dataclass(frozen=True)
class RegionRecord:
    """One region as stored: where its bytes are and what they are, or why it failed."""

    index: int
    name: str | None = None
    type: str | None = None
    content_type: str | None = None
    s3_key: str | None = None
    size: int | None = None
    error: str | None = None  # a short reason code, e.g. "invalid_base64"
    error_message: str | None = None  # names what was wrong, never the data itself

    def as_published(self) -> dict[str, Any]:
        """The region in an outcome event: every field, null when unknown."""
        return {name: getattr(self, attr) for attr, name, _ in _REGION_FIELDS if name}

    def as_stored(self) -> dict[str, Any]:
        """The region in the manifest and the table item: only the fields that have a value."""
        values = ((name, getattr(self, attr)) for attr, _, name in _REGION_FIELDS)
        return {name: value for name, value in values if value is not None}


#: The one definition of a region's fields, in order: (attribute, name in an outcome event, name
#: in the manifest and the table item). Both are public contracts (docs/schemas/ and the README):
#: the size is ``size`` in events and ``bytes`` when stored. No digest of the bytes is kept
#: anywhere: a plain hash of a short field (a date of birth) gives the field back by brute force.
_REGION_FIELDS: tuple[tuple[str, str | None, str], ...] = (
    ("index", "index", "index"),
    ("name", "name", "name"),
    ("type", "type", "type"),
    ("content_type", "contentType", "contentType"),
    ("s3_key", "s3Key", "s3Key"),
    ("size", "size", "bytes"),
    ("error", "error", "error"),
    ("error_message", "errorMessage", "errorMessage"),
)


@dataclass(frozen=True)
class TaskRun:
    """One workflow run over a task, as its state data knows it; its outcome carries all of it."""

    task_id: str
    execution_arn: str | None = None
    #: The execution's name: its objects are under its own prefix (:mod:`ocr_fetch.layout`).
    execution_name: str | None = None
    polls: int = 0
    correlation_id: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class Outcome:
    """The recorded end of one task's workflow."""

    task_id: str
    kind: OutcomeKind
    task_status: str | None = None  # the service's last taskStatus, verbatim
    response_status_code: str | None = None
    execution_arn: str | None = None
    #: Where this run's objects are (``results/<taskId>/runs/<executionName>/``), if any.
    prefix: str | None = None
    polls: int = 0
    bucket: str | None = None
    raw_key: str | None = None
    manifest_key: str | None = None
    regions: tuple[RegionRecord, ...] = ()
    expected_region_count: int | None = None
    received_result_count: int | None = None
    error_name: str | None = None
    error_message: str | None = None
    warnings: tuple[str, ...] = ()
    correlation_id: str | None = None
    metadata: dict[str, Any] | None = field(default=None)

    @property
    def count_mismatch(self) -> bool:
        return (
            self.expected_region_count is not None
            and self.received_result_count is not None
            and self.expected_region_count != self.received_result_count
        )

    @property
    def region_error_count(self) -> int:
        return sum(1 for region in self.regions if region.error)

    def summary(self) -> dict[str, Any]:
        """Status, counts and locations: what the manifest and the table item both say."""
        return {
            "status": self.kind.value,
            "taskStatus": self.task_status,
            "responseStatusCode": self.response_status_code,
            "bucket": self.bucket,
            "rawKey": self.raw_key,
            "regionCount": len(self.regions),
            "decodedCount": len(self.regions) - self.region_error_count,
            "errorCount": self.region_error_count,
            "countMismatch": self.count_mismatch,
            "expectedRegionCount": self.expected_region_count,
            "receivedResultCount": self.received_result_count,
        }

    def manifest(self) -> dict[str, Any]:
        """What each region is and where it lives; never its text. No timestamps: stable."""
        return {
            "taskId": self.task_id,
            **self.summary(),
            "regions": [region.as_stored() for region in self.regions],
            "warnings": list(self.warnings),
        }

    @property
    def score(self) -> int:
        """How good an outcome is: its rank, then (for Completed) the regions decoded. A
        recorded outcome is replaced only by a better one (:mod:`ocr_fetch.table`)."""
        decoded = len(self.regions) - self.region_error_count
        return self.kind.rank * 1000 + (decoded if self.kind is OutcomeKind.COMPLETED else 0)
