"""The dashboard in template.yaml: valid, and every product metric it shows is one the code emits.

A metric renamed in a handler would otherwise leave an empty graph that nobody notices until the
night it is needed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from infra.build.packaging import load_template
from ocr_fetch.observability import NAMESPACE, SERVICE

ROOT = Path(__file__).resolve().parents[2]
SOURCES = "\n".join(
    path.read_text(encoding="utf-8") for path in sorted((ROOT / "functions").rglob("*.py"))
)


def dashboard() -> dict[str, Any]:
    template = load_template(ROOT / "template.yaml")
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    loaded: dict[str, Any] = json.loads(re.sub(r"\$\{[^}]+\}", "placeholder", body))
    return loaded


def product_metrics() -> set[str]:
    names: set[str] = set()
    for widget in dashboard()["widgets"]:
        namespace = None
        for row in widget["properties"].get("metrics", []):
            cells = [cell for cell in row if isinstance(cell, str)]
            expression = next(
                (c["expression"] for c in row if isinstance(c, dict) and "expression" in c), ""
            )
            if expression:
                names.update(re.findall(r'MetricName=\\?"(\w+)', expression))
                continue
            if cells and cells[0] not in (".", "..."):
                namespace = cells[0]
            if namespace == NAMESPACE and len(cells) > 1 and cells[1] not in (".", "..."):
                names.add(cells[1])
    return names


def test_the_dashboard_is_valid_json_in_the_products_namespace() -> None:
    body = json.dumps(dashboard())
    assert NAMESPACE in body
    assert SERVICE in body
    assert len(dashboard()["widgets"]) >= 10


def test_every_product_metric_on_the_dashboard_is_emitted_by_a_handler() -> None:
    shown = product_metrics()
    assert {"TimeToResult", "PollsPerTask", "DetectionDelay", "TransientFaults"} <= shown
    missing = sorted(name for name in shown if f'"{name}"' not in SOURCES)
    assert missing == []


def test_every_alarm_of_the_stack_is_on_the_dashboard() -> None:
    template = load_template(ROOT / "template.yaml")
    alarms = {
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    shown = set(re.findall(r"\$\{(\w+)\.Arn\}", body))
    assert alarms == shown
