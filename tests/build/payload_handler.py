"""A handler as the ASL proof sees one: the payload keys it reads and requires (for
tests/build/test_asl_check.py)."""

from __future__ import annotations

from typing import Any

PAYLOAD_KEYS = frozenset({"taskId", "polls", "when"})
REQUIRED_PAYLOAD_KEYS = frozenset({"taskId"})


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Never invoked: the proof only reads the declarations above."""
    return {key: event.get(key) for key in PAYLOAD_KEYS}
