"""The checks fail on what they exist to catch: a region misread, an item not Completed, an event
carrying recognised text or another correlation id, an alarm in ALARM now or at any time since the
deploy; and a state history that cannot be read is said so, never taken as clean."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.ops.cli.views import Region, TaskReport
from infra.ops.smoke import checks
from infra.ops.smoke.report import FAILED, PASSED, Report
from infra.ops.smoke.sample import Sample, similarity
from infra.stack.history import Execution
from infra.stack.results import StoredObject

TASK = "3d1f2fce-92eb-44e5-8241-0b0582fd07c6"
SINCE = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def found(sample: Sample, **texts: str) -> TaskReport:
    """What ``inspect --show-text`` finds for a task that read the sample (``texts`` override)."""
    regions = tuple(
        Region(i, name, "Text", "text/plain", f"results/{TASK}/r/{i}", 1, None, texts.get(name, v))
        for i, (name, v) in enumerate(sample.printed.items())
    )
    objects = tuple(StoredObject(str(r.s3_key), 1, "text/plain", None) for r in regions)
    return TaskReport(TASK, {}, objects, regions, (), "bucket")


def execution(status: str = "SUCCEEDED") -> Execution:
    return Execution("arn", TASK, status, None, None, None, None, (), ())


def item(sample: Sample, **changes: Any) -> dict[str, Any]:
    count = len(sample.names)
    return {
        "status": "Completed",
        "regionCount": count,
        "decodedCount": count,
        "errorCount": 0,
        "manifestKey": "m",
        "polls": 2,
        **changes,
    }


def event(sample: Sample, **detail: Any) -> dict[str, Any]:
    return {
        "source": "ocr.region-results",
        "detail-type": "Region Recognition Completed",
        "detail": {
            "taskId": TASK,
            "status": "Completed",
            "errorCount": 0,
            "correlationId": "smoke-1",
            "regions": [{"index": i, "name": n} for i, n in enumerate(sample.names)],
            **detail,
        },
    }


def test_similarity_forgives_case_and_spaces_not_other_words() -> None:
    assert similarity(" Mustermann\n", "MUSTERMANN") == 1.0
    assert similarity("MUSTERMAN", "MUSTERMANN") > 0.9
    assert similarity("ERIKA", "MUSTERMANN") < 0.5


def test_regions_pass_when_read_and_fail_when_misread(sample: Sample) -> None:
    assert checks.check_regions(found(sample), sample).status == PASSED
    misread = checks.check_regions(found(sample, surname="SCHMIDT"), sample)
    assert misread.status == FAILED
    assert misread.lines[0].startswith("surname: read 'SCHMIDT', printed 'MUSTERMANN'")


def test_regions_fail_when_one_is_not_decoded_or_not_stored(sample: Sample) -> None:
    report = found(sample)
    first = replace(report.regions[0], error="DecodeError", text=None)
    broken = replace(report, regions=(first, *report.regions[1:]))
    assert "not decoded (DecodeError)" in checks.check_regions(broken, sample).lines[0]
    unstored = replace(report, objects=report.objects[1:])
    assert "is not in the bucket" in checks.check_regions(unstored, sample).lines[0]


def test_the_item_must_record_completed_with_every_region(sample: Sample) -> None:
    assert checks.check_item(item(sample), execution(), sample).status == PASSED
    assert checks.check_item(None, execution(), sample).status == FAILED
    failed = checks.check_item(item(sample, status="Failed", decodedCount=4), execution(), sample)
    assert failed.lines[:2] == [
        "status is 'Failed', expected 'Completed'",
        "decodedCount is 4, expected 5",
    ]
    assert checks.check_item(item(sample), execution("FAILED"), sample).status == FAILED


def test_the_event_must_be_completed_carry_the_correlation_id_and_no_text(sample: Sample) -> None:
    assert checks.check_event(event(sample), TASK, sample, "smoke-1").status == PASSED
    assert checks.check_event(None, TASK, sample, "smoke-1").status == FAILED
    other = checks.check_event(event(sample), TASK, sample, "smoke-2")
    assert other.lines[0] == "correlationId is 'smoke-1', expected 'smoke-2'"
    leaked = checks.check_event(event(sample, note="Erika"), TASK, sample, "smoke-1")
    assert leaked.lines[0] == "the event carries the recognised text of ['given_names']"


class FakeAws:
    """CloudFormation listing two alarms and CloudWatch answering with the given states and
    history (or failing to read it)."""

    def __init__(self, states: dict[str, str], history: dict[str, list[str]] | None) -> None:
        self.states, self.history = states, history

    def __call__(self, service: str) -> Any:
        return self

    def get_paginator(self, operation: str) -> Any:
        resources = [
            {"ResourceType": "AWS::CloudWatch::Alarm", "PhysicalResourceId": name}
            for name in self.states
        ] + [{"ResourceType": "AWS::SNS::Topic", "PhysicalResourceId": "topic"}]
        pages = [{"StackResourceSummaries": resources}]
        return type("Pages", (), {"paginate": lambda _, **kw: pages})()

    def describe_alarms(self, **request: Any) -> dict[str, Any]:
        alarms = [{"AlarmName": n, "StateValue": s} for n, s in self.states.items()]
        return {"MetricAlarms": [a for a in alarms if a["AlarmName"] in request["AlarmNames"]]}

    def describe_alarm_history(self, **request: Any) -> dict[str, Any]:
        if self.history is None:
            error = RuntimeError("boom")
            error.response = {"Error": {"Code": "AccessDenied"}}  # type: ignore[attr-defined]
            raise error
        moves = self.history.get(request["AlarmName"], [])
        data = [json.dumps({"newState": {"stateValue": state}}) for state in moves]
        return {"AlarmHistoryItems": [{"HistoryData": d} for d in data]}


@pytest.mark.parametrize(
    ("states", "history", "status", "says"),
    [
        ({"a": "OK", "b": "INSUFFICIENT_DATA"}, {}, PASSED, "0 went into ALARM"),
        ({"a": "OK", "b": "ALARM"}, {}, FAILED, "b: ALARM"),
        ({"a": "OK", "b": "OK"}, {"b": ["ALARM", "OK"]}, FAILED, "b: went into ALARM"),
        ({"a": "OK", "b": "OK"}, None, PASSED, "not readable (AccessDenied)"),
    ],
)
def test_alarms(
    states: dict[str, str], history: dict[str, list[str]] | None, status: str, says: str
) -> None:
    check = checks.check_alarms(FakeAws(states, history), "stack", SINCE)
    assert check.status == status
    assert any(says in line for line in check.lines), check.lines


def test_a_run_that_stopped_early_does_not_pass() -> None:
    report = Report("somewhere", False, "stack", deleted=True)
    report.finish_checks()
    assert [c.status for c in report.checks] == ["not run"] * 4
    assert not report.passed
    assert report.exit_code() == 1
