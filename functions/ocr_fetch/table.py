"""The results table: one item per task saying how it ended and where its results are.

The item never holds recognised text. It is written by one conditional ``UpdateItem``: an
outcome replaces the recorded one only when it is better (:attr:`Outcome.score`: Completed over
a definite failure over giving up, then more regions decoded), or when it is the same
execution's. So a later run that is worse or no better (a duplicate, a re-fetch) never replaces a
stored result, and recording one outcome twice (a retried invocation) changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from ocr_fetch import aws
from ocr_fetch.errors import MAX_ERROR_MESSAGE_CHARS, aws_error_code, clip
from ocr_fetch.outcome import Outcome

#: The regions list is cut in the table item beyond this many bytes (items are capped at 400 KB);
#: the manifest always lists every region.
MAX_ITEM_REGIONS_BYTES = 256 * 1024
_DIGEST = "outcomeDigest"
_serializer = TypeSerializer()
#: Recorded unless an outcome is already there that is better, or as good and another run's, or
#: this very one (a retried invocation then changes nothing, not even timestamps).
_CONDITION = (
    "attribute_not_exists(#taskId) OR #score < :score "
    "OR (#executionArn = :executionArn AND #score <= :score AND #digest <> :digest)"
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ResultTable:
    """The results table; the DynamoDB client is created on first use unless given."""

    dynamodb = aws.LazyClient("dynamodb")

    def __init__(
        self,
        name: str,
        *,
        retention_days: int = 30,
        clock: Callable[[], datetime] = _utc_now,
        dynamodb: Any = None,
    ) -> None:
        self.name = name
        self.retention_days = retention_days
        self._clock = clock
        self.dynamodb = dynamodb

    def record(self, outcome: Outcome) -> bool:
        """Upsert the task's item; False when a better outcome, or one as good from another run,
        is recorded. Recording the same outcome again changes nothing (not even timestamps) and
        returns True."""
        attributes = outcome_attributes(outcome)
        digest = _digest(attributes)
        now = self._clock().astimezone(UTC)
        expires = now + timedelta(days=self.retention_days)
        names: dict[str, str] = {
            "#taskId": "taskId",
            "#digest": _DIGEST,
            "#createdAt": "createdAt",
            "#recordedAt": "recordedAt",
            "#expiresAt": "expiresAt",
            "#score": "outcomeScore",
            "#executionArn": "executionArn",
        }
        values: dict[str, Any] = {
            ":now": _iso(now),
            ":expires": int(expires.timestamp()),
            ":digest": digest,
            ":score": outcome.score,
            ":executionArn": outcome.execution_arn or "",
        }
        sets = [
            "#createdAt = if_not_exists(#createdAt, :now)",
            "#recordedAt = :now",
            "#expiresAt = :expires",
            "#digest = :digest",
            "#score = :score",
        ]
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
        try:
            aws.call(
                self.dynamodb.update_item,
                TableName=self.name,
                Key={"taskId": {"S": outcome.task_id}},
                UpdateExpression=expression,
                ConditionExpression=_CONDITION,
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
        **outcome.summary(),
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
