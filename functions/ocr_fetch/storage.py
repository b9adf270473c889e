"""Where results live: the bytes in S3, one DynamoDB item per task.

Under the keys of :mod:`ocr_fetch.layout`: the raw answer, each decoded region with its content
type, and the manifest (what each region is, never its text). The table item says how the task
ended and where to look; it never holds recognised text. Writes are idempotent: storing the same
outcome twice leaves the same objects and an identical item, and a recorded outcome is never
downgraded.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from ocr_fetch import aws
from ocr_fetch.errors import (
    MAX_ERROR_MESSAGE_CHARS,
    TRANSIENT_AWS_EXCEPTIONS,
    RawResponseMissingError,
    StorageError,
    StoredDataError,
    aws_error_code,
    clip,
    is_transient,
)
from ocr_fetch.layout import manifest_key, raw_key, region_key, region_names_key
from ocr_fetch.model import OcrResponse
from ocr_fetch.settings import Settings

if TYPE_CHECKING:
    # Only storing a completed task decodes and makes its outcome: the check function, which
    # stores raw answers alone, loads neither.
    from ocr_fetch.decoding import DecodeReport
    from ocr_fetch.outcome import Outcome, RegionRecord, TaskRun

#: The regions list is cut in the table item beyond this many bytes (items are capped at 400 KB);
#: the manifest always lists every region.
MAX_ITEM_REGIONS_BYTES = 256 * 1024
_DIGEST = "outcomeDigest"
_serializer = TypeSerializer()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ResultStore:
    """Results bucket and table. The S3 and DynamoDB clients are created on first use."""

    def __init__(
        self,
        bucket: str,
        table: str,
        *,
        retention_days: int = 30,
        clock: Callable[[], datetime] = _utc_now,
        s3: Any = None,
    ) -> None:
        self.bucket = bucket
        self.table = table
        self.retention_days = retention_days
        self._clock = clock
        self._s3: Any = s3
        self._dynamodb: Any = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ResultStore:
        return cls(
            settings.results_bucket, settings.results_table, retention_days=settings.retention_days
        )

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = aws.client("s3")
        return self._s3

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = aws.client("dynamodb")
        return self._dynamodb

    # --- S3 ---------------------------------------------------------------------------------------
    def put_raw(self, task_id: str, body: bytes) -> str:
        """Store the service's answer as received; return its key."""
        key = raw_key(task_id)
        self._put(key, body, "application/json")
        return key

    def put_region_names(self, task_id: str, names: Sequence[str | None]) -> str:
        """Keep a task's region names (the starter, before its execution starts); return the
        key. Names are labels the submitter chose, never recognised text."""
        key = region_names_key(task_id)
        body = {"regions": [{"index": i, "name": name} for i, name in enumerate(names)]}
        self._put(key, json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json")
        return key

    def get_region_names(self, key: str) -> tuple[str | None, ...]:
        """The names kept by :meth:`put_region_names`; :class:`StoredDataError` naming the key
        when the object is missing or not what was written."""
        where = f"s3://{self.bucket}/{key}"
        try:
            answer = _call(self.s3.get_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if aws_error_code(exc) in {"NoSuchKey", "404", "NotFound"}:
                raise StoredDataError(f"no region names at {where}") from None
            raise
        try:
            regions = json.loads(answer["Body"].read())["regions"]
            names = tuple(region["name"] for region in regions)
        except (ValueError, KeyError, TypeError) as exc:
            raise StoredDataError(f"the region names at {where} are malformed") from exc
        if not all(name is None or isinstance(name, str) for name in names):
            raise StoredDataError(f"the region names at {where} are malformed")
        return names

    def get_raw(self, task_id: str) -> bytes:
        """The raw answer stored by :meth:`put_raw`, or :class:`RawResponseMissingError`."""
        key = raw_key(task_id)
        try:
            answer = _call(self.s3.get_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if aws_error_code(exc) in {"NoSuchKey", "404", "NotFound"}:
                raise RawResponseMissingError(
                    f"no raw response at s3://{self.bucket}/{key}"
                ) from None
            raise
        body: bytes = answer["Body"].read()
        return body

    def store_completed(self, run: TaskRun, response: OcrResponse, report: DecodeReport) -> Outcome:
        """Write every decoded region and the manifest, then record the Completed outcome.

        The raw response is expected at :func:`~ocr_fetch.layout.raw_key` (written first by
        :meth:`put_raw`).
        """
        from ocr_fetch.decoding import DecodedRegion
        from ocr_fetch.outcome import Outcome, OutcomeKind

        task_id = run.task_id
        records: list[RegionRecord] = []
        for region in report.regions:
            if isinstance(region, DecodedRegion):
                key = region_key(task_id, region.index, region.name, region.extension)
                self._put(key, region.data, region.content_type)
                records.append(region.to_record(key))
            else:
                records.append(region.to_record(None))
        outcome = Outcome(
            task_id=task_id,
            kind=OutcomeKind.COMPLETED,
            task_status=response.raw_task_status or response.task_status.value,
            response_status_code=response.response_status_code,
            execution_arn=run.execution_arn,
            polls=run.polls,
            bucket=self.bucket,
            raw_key=raw_key(task_id),
            manifest_key=manifest_key(task_id),
            regions=tuple(records),
            expected_region_count=report.expected_count,
            received_result_count=report.received_count,
            warnings=_completion_warnings(response, report),
            correlation_id=run.correlation_id,
            metadata=dict(run.metadata) if run.metadata is not None else None,
        )
        manifest = json.dumps(build_manifest(outcome), indent=2, ensure_ascii=False)
        self._put(manifest_key(task_id), manifest.encode("utf-8"), "application/json")
        self.record_outcome(outcome)
        return outcome

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        _call(self.s3.put_object, Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    # --- DynamoDB ---------------------------------------------------------------------------------
    def record_outcome(self, outcome: Outcome) -> bool:
        """Upsert the task's item. False when an outcome of higher rank is already recorded.

        Recording the same outcome again changes nothing (not even timestamps) and returns True.
        """
        attributes = outcome_attributes(outcome)
        digest = _digest(attributes)
        now = self._clock().astimezone(UTC)
        expires = now + timedelta(days=self.retention_days)
        names: dict[str, str] = {"#taskId": "taskId", "#digest": _DIGEST}
        values: dict[str, Any] = {
            ":now": _iso(now),
            ":expires": int(expires.timestamp()),
            ":digest": digest,
            ":rank": outcome.kind.rank,
        }
        sets = [
            "#createdAt = if_not_exists(#createdAt, :now)",
            "#recordedAt = :now",
            "#expiresAt = :expires",
            "#digest = :digest",
        ]
        names.update({"#createdAt": "createdAt", "#recordedAt": "recordedAt"})
        names["#expiresAt"] = "expiresAt"
        removes: list[str] = []
        for position, (name, value) in enumerate(attributes.items()):
            names[f"#a{position}"] = name
            if value is None:
                removes.append(f"#a{position}")
            else:
                values[f":a{position}"] = value
                sets.append(f"#a{position} = :a{position}")
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        names["#rank"] = "outcomeRank"
        try:
            _call(
                self.dynamodb.update_item,
                TableName=self.table,
                Key={"taskId": {"S": outcome.task_id}},
                UpdateExpression=expression,
                ConditionExpression=(
                    "attribute_not_exists(#taskId) OR (#rank <= :rank AND "
                    "(attribute_not_exists(#digest) OR #digest <> :digest))"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={k: _serializer.serialize(v) for k, v in values.items()},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if aws_error_code(exc) != "ConditionalCheckFailedException":
                raise
            return _already_recorded(exc, digest)
        return True


def _already_recorded(exc: ClientError, digest: str) -> bool:
    """After a failed condition: True when this very outcome is what is recorded."""
    # ReturnValuesOnConditionCheckFailure=ALL_OLD: the error carries the item, so no read (and no
    # dynamodb:GetItem in the role) is needed.
    item = exc.response.get("Item", {})
    recorded: str | None = item.get(_DIGEST, {}).get("S")
    return recorded == digest


def outcome_attributes(outcome: Outcome) -> dict[str, Any]:
    """The item's attributes (None = absent), ready for the serializer: no floats, no tuples."""
    regions = [region.as_stored() for region in outcome.regions]
    kept, truncated = _bounded(regions, MAX_ITEM_REGIONS_BYTES)
    return {
        **_summary(outcome),
        "regions": kept,
        "regionsTruncated": True if truncated else None,
        "manifestKey": outcome.manifest_key,
        "polls": outcome.polls,
        "executionArn": outcome.execution_arn,
        "correlationId": outcome.correlation_id,
        "errorName": outcome.error_name,
        "errorMessage": clip(outcome.error_message, MAX_ERROR_MESSAGE_CHARS),
        "warnings": list(outcome.warnings),
        "metadata": _dynamo_safe(outcome.metadata) if outcome.metadata is not None else None,
        "outcomeRank": outcome.kind.rank,
    }


def build_manifest(outcome: Outcome) -> dict[str, Any]:
    """What each region is and where it lives; never its text. No timestamps, so it is stable."""
    return {
        "taskId": outcome.task_id,
        **_summary(outcome),
        "regions": [region.as_stored() for region in outcome.regions],
        "warnings": list(outcome.warnings),
    }


def _summary(outcome: Outcome) -> dict[str, Any]:
    """Status, counts and locations: what the manifest and the table item both say."""
    return {
        "status": outcome.kind.value,
        "taskStatus": outcome.task_status,
        "responseStatusCode": outcome.response_status_code,
        "bucket": outcome.bucket,
        "rawKey": outcome.raw_key,
        "regionCount": len(outcome.regions),
        "decodedCount": len(outcome.regions) - outcome.region_error_count,
        "errorCount": outcome.region_error_count,
        "countMismatch": outcome.count_mismatch,
        "expectedRegionCount": outcome.expected_region_count,
        "receivedResultCount": outcome.received_result_count,
    }


def _completion_warnings(response: OcrResponse, report: DecodeReport) -> tuple[str, ...]:
    warnings = list(response.warnings)
    if response.is_anomalous_completion:
        warnings.append(f"task completed with responseStatusCode {response.response_status_code!r}")
    if report.count_mismatch:
        warnings.append(
            f"expected {report.expected_count} results, received {report.received_count}; "
            "region names were not attached"
        )
    failures = len(report.failures)
    if failures:
        warnings.append(f"{failures} of {report.received_count} regions could not be decoded")
    return tuple(warnings)


def _bounded(regions: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], bool]:
    total = 0
    for position, region in enumerate(regions):
        total += len(json.dumps(region, ensure_ascii=False).encode("utf-8"))
        if total > limit:
            return regions[:position], True
    return regions, False


def _dynamo_safe(value: Any) -> Any:
    """JSON-like data DynamoDB accepts: floats become Decimal, tuples lists."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str | Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): _dynamo_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dynamo_safe(v) for v in value]
    return value


def _digest(attributes: Mapping[str, Any]) -> str:
    canonical = json.dumps(attributes, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _call(operation: Callable[..., Any], **kwargs: Any) -> Any:
    """Call an AWS operation, raising transient failures as :class:`StorageError`."""
    try:
        return operation(**kwargs)
    except (ClientError, *TRANSIENT_AWS_EXCEPTIONS) as exc:
        if not is_transient(exc):
            raise
        name = getattr(operation, "__name__", "call")
        raise StorageError(f"{name} failed transiently: {aws_error_code(exc)}") from exc
