"""DynamoDB's update expressions checked once, at their root: moto checks an expression's clause
count and overlapping paths at every nested node, quadratic in its actions (the results table's
upsert has many); at the root, which holds every clause and action, the errors are the same."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infra.local.cloud.moto_internals.patching import Patch


def patches() -> list[Patch]:
    from moto.dynamodb.parsing.validators import ActionCountValidator, OverlappingPathsValidator

    return [
        (ActionCountValidator, "traverse", _at_root("verify_action_counts")),
        (OverlappingPathsValidator, "traverse", _at_root("check_for_overlapping_paths")),
    ]


def _at_root(check: str) -> Callable[[Any, Any], Any]:
    """A validator's ``traverse`` that checks an update expression once, at its root."""

    def traverse(validator: Any, node: Any) -> Any:
        from moto.dynamodb.parsing.ast_nodes import UpdateExpression  # type: ignore[attr-defined]

        return getattr(validator, check)(node) if isinstance(node, UpdateExpression) else node

    return traverse
