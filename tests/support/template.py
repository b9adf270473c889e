"""What template.yaml gives a function: its environment with the parameters' defaults.

Benchmarks measure the product as deployed with the template's defaults, so they read the
defaults from the template rather than repeating them. A ``Ref`` to a parameter is its
``Default``; a ``Ref`` to a resource, a ``FindInMap`` or any other intrinsic becomes a placeholder
naming it (a bucket or table name that only a deployment knows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.local_cloud.packaging import load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def function_environment(logical_id: str, template_path: Path = TEMPLATE) -> dict[str, str]:
    """The variables ``logical_id`` runs with: Globals, then the function's own."""
    template = load_template(template_path)
    parameters: dict[str, Any] = template.get("Parameters") or {}
    shared = (((template.get("Globals") or {}).get("Function") or {}).get("Environment")) or {}
    own = template["Resources"][logical_id]["Properties"].get("Environment") or {}
    variables = {**(shared.get("Variables") or {}), **(own.get("Variables") or {})}
    return {name: _resolve(value, parameters) for name, value in variables.items()}


def _resolve(value: Any, parameters: dict[str, Any]) -> str:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        name = str(value["Ref"])
        if name in parameters and "Default" in parameters[name]:
            return str(parameters[name]["Default"])
        return f"placeholder-{name}"
    if isinstance(value, dict):
        return f"placeholder-{next(iter(value), 'value')}"
    return str(value)
