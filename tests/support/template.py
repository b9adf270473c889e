"""What template.yaml gives a function: its environment with the parameters' defaults.

Benchmarks measure the product as deployed with the template's defaults, so they read the
defaults from the template rather than repeating them. A ``Ref`` to a parameter is its
``Default``; a ``Ref`` to a resource, a ``FindInMap`` or any other intrinsic becomes a placeholder
naming it (a bucket or table name that only a deployment knows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.build.packaging import load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def function_environment(logical_id: str, template_path: Path = TEMPLATE) -> dict[str, str]:
    """The variables ``logical_id`` runs with: Globals, then the function's own."""
    template = load_template(template_path)
    shared = (((template.get("Globals") or {}).get("Function") or {}).get("Environment")) or {}
    own = template["Resources"][logical_id]["Properties"].get("Environment") or {}
    variables = {**(shared.get("Variables") or {}), **(own.get("Variables") or {})}
    return {name: _resolve(value, template) for name, value in variables.items()}


def _resolve(value: Any, template: dict[str, Any]) -> str:
    """A variable's value as deployed with the defaults: a parameter's default, a mapping's
    value, a placeholder naming a resource or any other intrinsic."""
    if not isinstance(value, dict):
        return str(value)
    if set(value) == {"Ref"}:
        name = str(value["Ref"])
        parameter = (template.get("Parameters") or {}).get(name)
        if parameter is not None and "Default" in parameter:
            return str(parameter["Default"])
        return f"placeholder-{name}"
    if "Fn::FindInMap" in value:
        mapping, key, field = value["Fn::FindInMap"]
        return str(template["Mappings"][mapping][key][field])
    return f"placeholder-{next(iter(value), 'value')}"
