"""Where polling's learning lives: one small DynamoDB item per kind of task and day.

Key ``kind`` (e.g. ``regions-5``) and ``day`` (``2026-11-29``, UTC); one number attribute per
histogram bin (``b0`` ... ``b48``, :data:`ocr_fetch.learning.EDGES`), and ``expiresAt`` so days
older than the history read expire. Recording a completed task is one ``UpdateItem`` that ``ADD``s
its share to the bins it covers: atomic, so concurrent tasks never lose each other's counts and
no read is needed. Reading a kind is one ``Query`` for its last days, combined with ageing
(:meth:`~ocr_fetch.learning.DurationSummary.from_days`).

Learning is an optimisation: reading or writing it never fails a task. The caller gets no plan
(the geometric defaults) when the history cannot be read, and a warning is logged and counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ocr_fetch import aws
from ocr_fetch.learning import HISTORY_DAYS, DurationSummary, Observation

#: How long a warm starter reuses a kind's summary before reading it again.
CACHE_SECONDS = 60.0
_PREFIX = "b"


class PollingHistory:
    """The learnt durations in table ``table``."""

    client = aws.LazyClient("dynamodb")

    def __init__(
        self,
        table: str,
        client: Any = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.table = table
        self.client = client
        self._clock = clock
        self._cache: dict[str, tuple[float, DurationSummary]] = {}

    def record(self, kind: str, observation: Observation) -> None:
        """Add one completed task; raises ``ClientError``/``BotoCoreError`` for the caller to
        log (never to fail the task)."""
        today = self._clock()
        shares = observation.weights()
        values: dict[str, Any] = {f":v{i}": {"N": _number(w)} for i, w in shares.items()}
        values[":expires"] = {"N": str(int((today + timedelta(days=HISTORY_DAYS + 1)).timestamp()))}
        names = {f"#b{i}": f"{_PREFIX}{i}" for i in shares}
        names["#expires"] = "expiresAt"
        self.client.update_item(
            TableName=self.table,
            Key={"kind": {"S": kind}, "day": {"S": today.date().isoformat()}},
            UpdateExpression="ADD "
            + ", ".join(f"#b{i} :v{i}" for i in shares)
            + " SET #expires = :expires",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def summary(self, kind: str) -> DurationSummary:
        """The kind's aged history (cached for :data:`CACHE_SECONDS`); raises like
        :meth:`record`."""
        cached = self._cache.get(kind)
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        today = self._clock().date()
        since = (today - timedelta(days=HISTORY_DAYS - 1)).isoformat()
        items = self.client.query(
            TableName=self.table,
            KeyConditionExpression="#kind = :kind AND #day >= :since",
            ExpressionAttributeNames={"#kind": "kind", "#day": "day"},
            ExpressionAttributeValues={":kind": {"S": kind}, ":since": {"S": since}},
        ).get("Items", [])
        summary = DurationSummary.from_days(_day(item, today) for item in items)
        self._cache[kind] = (time.monotonic(), summary)
        return summary


#: What reading or writing the history may raise; the callers catch exactly these.
HISTORY_ERRORS = (ClientError, BotoCoreError)


def _day(item: dict[str, Any], today: Any) -> tuple[float, dict[int, object]]:
    try:
        age = float((today - datetime.fromisoformat(item["day"]["S"]).date()).days)
    except (KeyError, TypeError, ValueError):
        age = float(HISTORY_DAYS)
    bins: dict[int, object] = {}
    for name, value in item.items():
        if name.startswith(_PREFIX) and name[1:].isdigit() and isinstance(value, dict):
            bins[int(name[1:])] = value.get("N")
    return age, bins


def _number(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"
