"""What the stack stored for a task: its table item, read by key (never a scan), and its objects
under ``results/<taskId>/`` (the layout is the product's, ``ocr_fetch.layout``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from infra.stack.client import StackClient
from ocr_fetch.layout import submitted_key, task_prefix
from ocr_fetch.outcome import OutcomeKind
from ocr_fetch.submission import SubmittedFacts

#: The outcomes a task records (``Completed``, ``Failed``, ``NotFound``, ``TimedOut``).
OUTCOMES = frozenset(kind.value for kind in OutcomeKind)
COMPLETED = OutcomeKind.COMPLETED.value
#: BatchGetItem reads at most this many keys a call.
_BATCH_KEYS = 100


def recorded_outcome(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """The item when it records an outcome; None for no item, or one written before the outcome
    (say, by the starter)."""
    if item is None or item.get("status") not in OUTCOMES:
        return None
    return item


@dataclass(frozen=True)
class StoredObject:
    """One object stored for a task: its key, size and content type."""

    key: str
    size: int
    content_type: str
    last_modified: datetime | None

    @property
    def name(self) -> str:
        """The key below the task's prefix: ``submitted.json``, and each run's own objects
        (``runs/<execution>/answer-3.json``, ``runs/<execution>/regions/0-surname.txt``...)."""
        parts = self.key.split("/", 2)
        return parts[2] if len(parts) == 3 and parts[0] == "results" else self.key


class Results(StackClient):
    """The results table and bucket, read."""

    def item(self, task_id: str) -> dict[str, Any] | None:
        """The task's table item, as plain JSON values (numbers as int or float)."""
        answer = self.client("dynamodb").get_item(
            TableName=self.outputs.results_table,
            Key={"taskId": {"S": task_id}},
            ConsistentRead=True,
        )
        return _plain_item(answer["Item"]) if "Item" in answer else None

    def items(self, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The table items of the tasks that have one, by task id (BatchGetItem, 100 at a time:
        never a scan)."""
        dynamodb = self.client("dynamodb")
        table = self.outputs.results_table
        found: dict[str, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(task_ids))
        for start in range(0, len(wanted), _BATCH_KEYS):
            batch = wanted[start : start + _BATCH_KEYS]
            keys: list[dict[str, Any]] = [{"taskId": {"S": t}} for t in batch]
            while keys:
                answer = dynamodb.batch_get_item(
                    RequestItems={table: {"Keys": keys, "ConsistentRead": True}}
                )
                for raw in answer.get("Responses", {}).get(table, []):
                    item = _plain_item(raw)
                    found[str(item["taskId"])] = item
                keys = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
        return found

    def stored_objects(self, task_id: str) -> list[StoredObject]:
        """Every object stored for the task, sorted by key, with its size and content type."""
        s3 = self.client("s3")
        bucket = self.outputs.results_bucket
        found = []
        for obj in self._listing(task_id):
            head = s3.head_object(Bucket=bucket, Key=obj["Key"])
            found.append(
                StoredObject(
                    key=obj["Key"],
                    size=int(obj["Size"]),
                    content_type=str(head.get("ContentType", "")),
                    last_modified=obj.get("LastModified"),
                )
            )
        return sorted(found, key=lambda o: o.key)

    def object_keys(self, task_id: str) -> list[str]:
        """Every stored object of the task (``results/<taskId>/...``), sorted."""
        return sorted(obj["Key"] for obj in self._listing(task_id))

    def read_object(self, key: str) -> tuple[bytes, str]:
        """An object's bytes and content type."""
        answer = self.client("s3").get_object(Bucket=self.outputs.results_bucket, Key=key)
        body: bytes = answer["Body"].read()
        return body, str(answer.get("ContentType", ""))

    def manifest(self, task_id: str) -> dict[str, Any] | None:
        """The task's manifest (what each stored region is), if the task completed."""
        key = (self.item(task_id) or {}).get("manifestKey")
        return self.manifest_at(str(key)) if key else None

    def manifest_at(self, key: str) -> dict[str, Any] | None:
        """The manifest stored at ``key`` (an item's ``manifestKey``), if it is there."""
        s3 = self.client("s3")
        try:
            body, _ = self.read_object(key)
        except s3.exceptions.NoSuchKey:
            return None
        manifest: dict[str, Any] = json.loads(body)
        return manifest

    def submitted(self, task_id: str) -> SubmittedFacts | None:
        """What the task was submitted with, as its first accepted submission fixed it (None:
        never announced, or announced before the facts were kept)."""
        s3 = self.client("s3")
        key = submitted_key(task_id)
        try:
            body, _ = self.read_object(key)
        except s3.exceptions.NoSuchKey:
            return None
        return SubmittedFacts.from_json(body, f"s3://{self.outputs.results_bucket}/{key}")

    def _listing(self, task_id: str) -> list[dict[str, Any]]:
        paginator = self.client("s3").get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.outputs.results_bucket, Prefix=task_prefix(task_id))
        return [obj for page in pages for obj in page.get("Contents", [])]


def _plain_item(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain JSON values (numbers as int or float)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    item = {k: deserializer.deserialize(v) for k, v in raw.items()}
    plain: dict[str, Any] = json.loads(json.dumps(item, default=_plain_number))
    return plain


def _plain_number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
