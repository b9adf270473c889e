"""Times as every tool shows them: ISO 8601 in UTC to the millisecond, seconds between two."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def iso(moment: Any) -> str | None:
    """``2026-01-31T12:00:00.000Z``; None for anything that is not a time (a missing one)."""
    if not isinstance(moment, datetime):
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from ``start`` to ``end`` (to the millisecond); None when either is unknown."""
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)
