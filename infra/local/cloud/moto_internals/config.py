"""moto's Step Functions configuration, saved when a cloud starts and put back when it stops: it
is process-wide, and a cloud switches on executing state machines."""

from __future__ import annotations

from typing import Any


def stepfunctions_config() -> dict[str, Any]:
    """The Step Functions part of moto's process-wide configuration (to restore it later)."""
    from moto.core.config import default_user_config

    return dict(default_user_config.get("stepfunctions", {}))


def restore_stepfunctions_config(saved: dict[str, Any]) -> None:
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = saved  # type: ignore[typeddict-item]
