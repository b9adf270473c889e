"""The public event contract: what we publish validates against the documented JSON Schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ocr_fetch.events import build_outcome_detail, build_submitted_detail
from ocr_fetch.outcome import DETAIL_TYPES, Outcome, OutcomeKind, RegionRecord

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
TASK = "2ce30237-86da-41ef-88e9-84f0b7acffc0"


def schema(detail_type: str) -> dict[str, Any]:
    name = detail_type.lower().replace(" ", "-")
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return loaded


@pytest.mark.parametrize("kind", list(OutcomeKind))
def test_every_outcome_detail_matches_its_schema(kind: OutcomeKind) -> None:
    outcome = Outcome(
        task_id=TASK,
        kind=kind,
        task_status="Completed",
        response_status_code="Ok",
        execution_arn="arn:aws:states:us-east-1:1:execution:m:" + TASK,
        polls=3,
        bucket="b",
        raw_key=f"results/{TASK}/raw.json",
        manifest_key=f"results/{TASK}/manifest.json",
        regions=(
            RegionRecord(0, "surname", "Text", "text/plain", "k", 5, "ab"),
            RegionRecord(1, None, "Pdf", error="bad_signature", error_message="no %PDF-"),
        ),
        expected_region_count=2,
        received_result_count=2,
        error_name=None if kind is OutcomeKind.COMPLETED else "SomeError",
        error_message=None if kind is OutcomeKind.COMPLETED else "what went wrong",
        correlation_id="c",
        metadata={"tenant": "acme"},
    )
    jsonschema.validate(build_outcome_detail(outcome), schema(DETAIL_TYPES[kind]))


def test_a_detail_of_the_wrong_kind_does_not_match() -> None:
    outcome = Outcome(task_id=TASK, kind=OutcomeKind.FAILED, error_name="E", error_message="m")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(build_outcome_detail(outcome), schema("Region Recognition Completed"))


def test_submitted_detail_matches_its_schema() -> None:
    detail = build_submitted_detail(TASK, ["surname", None], "corr", {"k": 1})
    jsonschema.validate(detail, schema("Region Recognition Submitted"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"taskId": "nope"}, schema("Region Recognition Submitted"))
