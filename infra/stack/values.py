"""Values that come from outside (execution input, history details, stored items), typed on the
way in: what is not of the expected type is treated as absent, never trusted."""

from __future__ import annotations

import json
from typing import Any


def json_value(text: Any) -> Any:
    """``text`` parsed as JSON; None when it is not a string, or not JSON."""
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def json_object(text: Any) -> dict[str, Any]:
    """``text`` parsed, when it is the JSON text of an object; else an empty one."""
    found = json_value(text)
    return found if isinstance(found, dict) else {}


def integer(value: Any) -> int | None:
    """``value`` when it is a whole number; a JSON ``true`` is not a count, so a bool is None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
