"""The checks of a smoke run, each on what a user of the stack would see: the regions stored in
S3, the item in the table, the outcome event a downstream consumer receives, and the stack's
alarms. Each returns a :class:`~infra.ops.smoke.report.Check` saying what it saw, line by line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from infra.ops.cli.views import TaskReport
from infra.ops.smoke.report import FAILED, PASSED, Check
from infra.ops.smoke.sample import SIMILAR_ENOUGH, Sample, similarity
from infra.stack.history import Execution
from ocr_fetch.events import SOURCE as OUTCOME_SOURCE
from ocr_fetch.outcome import OutcomeKind

COMPLETED = OutcomeKind.COMPLETED.value
#: Alarm states that say nothing is wrong: a new alarm has too little data for a while.
QUIET_STATES = frozenset({"OK", "INSUFFICIENT_DATA"})
ALARM = "ALARM"
#: DescribeAlarms takes at most this many names a call.
_ALARM_NAMES_PER_CALL = 100


def _verdict(name: str, problems: list[str], seen: list[str]) -> Check:
    return Check(name, FAILED if problems else PASSED, problems + seen)


def check_regions(found: TaskReport, sample: Sample) -> Check:
    """Every named region of the sample stored and decoded, its text close to what was printed,
    its object in the bucket."""
    problems: list[str] = []
    seen: list[str] = []
    keys = {stored.key for stored in found.objects}
    by_name = {region.name: region for region in found.regions}
    for name in sample.names:
        region = by_name.get(name)
        if region is None:
            problems.append(f"{name}: not in the manifest")
            continue
        if region.error or region.text is None:
            problems.append(f"{name}: not decoded ({region.error or 'no text'})")
            continue
        read, printed = region.text.strip(), sample.printed[name]
        score = similarity(read, printed)
        line = f"{name}: read {read!r}, printed {printed!r} (similarity {score:.2f})"
        if score < SIMILAR_ENOUGH:
            problems.append(f"{line}, under {SIMILAR_ENOUGH}")
        elif region.s3_key not in keys:
            problems.append(f"{name}: its object {region.s3_key} is not in the bucket")
        else:
            seen.append(line)
    extra = sorted(str(n) for n in set(by_name) - set(sample.names))
    if extra:
        problems.append(f"regions the sample does not have: {extra}")
    if not problems:
        seen.insert(0, f"{len(sample.names)} of {len(sample.names)} named regions decoded")
    return _verdict("regions", problems, seen)


def check_item(item: Mapping[str, Any] | None, execution: Execution, sample: Sample) -> Check:
    """The task's item records Completed with every region decoded; its execution succeeded."""
    if item is None:
        return Check("item", FAILED, ["no item in the results table for the task"])
    count = len(sample.names)
    expected = {
        "status": COMPLETED,
        "regionCount": count,
        "decodedCount": count,
        "errorCount": 0,
    }
    problems = [
        f"{key} is {item.get(key)!r}, expected {value!r}"
        for key, value in expected.items()
        if item.get(key) != value
    ]
    if not item.get("manifestKey"):
        problems.append("no manifestKey")
    if execution.status != "SUCCEEDED":
        problems.append(f"execution {execution.name} ended {execution.status}")
    seen = [
        f"status {item.get('status')}, {item.get('decodedCount')} of {item.get('regionCount')} "
        f"regions decoded, polls {item.get('polls')}; execution {execution.status}"
    ]
    return _verdict("item", problems, seen)


def check_event(
    event: Mapping[str, Any] | None, task_id: str, sample: Sample, correlation_id: str
) -> Check:
    """The outcome event reached a consumer of the bus: Completed, the sample's regions named,
    the submitter's correlation id carried, and no recognised text in it (the contract)."""
    if event is None:
        return Check("outcome event", FAILED, ["no outcome event reached the consumer"])
    detail = event.get("detail") or {}
    names = [entry.get("name") for entry in detail.get("regions") or []]
    expected: dict[str, tuple[object, object]] = {
        "source": (event.get("source"), OUTCOME_SOURCE),
        "detail-type": (event.get("detail-type"), OutcomeKind.COMPLETED.detail_type),
        "taskId": (detail.get("taskId"), task_id),
        "status": (detail.get("status"), COMPLETED),
        "errorCount": (detail.get("errorCount"), 0),
        "correlationId": (detail.get("correlationId"), correlation_id),
        "region names": (names, sample.names),
    }
    problems = [
        f"{key} is {got!r}, expected {want!r}"
        for key, (got, want) in expected.items()
        if got != want
    ]
    text = json.dumps(event).casefold()
    leaked = [name for name, value in sample.printed.items() if value.casefold() in text]
    if leaked:
        problems.append(f"the event carries the recognised text of {leaked}")
    seen = [
        f"{event.get('detail-type')} from {event.get('source')}: {len(names)} regions, "
        f"{detail.get('errorCount')} with an error, correlation id {detail.get('correlationId')}, "
        "no recognised text"
    ]
    return _verdict("outcome event", problems, seen)


# --- alarms --------------------------------------------------------------------------------------
def stack_alarm_names(client: Callable[[str], Any], stack_name: str) -> list[str]:
    """The names of the stack's alarms (its ``AWS::CloudWatch::Alarm`` resources)."""
    pages = client("cloudformation").get_paginator("list_stack_resources")
    return sorted(
        str(resource["PhysicalResourceId"])
        for page in pages.paginate(StackName=stack_name)
        for resource in page["StackResourceSummaries"]
        if resource.get("ResourceType") == "AWS::CloudWatch::Alarm"
        and resource.get("PhysicalResourceId")
    )


def check_alarms(client: Callable[[str], Any], stack_name: str, since: datetime) -> Check:
    """No alarm of the stack is in ALARM now (each OK or INSUFFICIENT_DATA), and none went into
    ALARM since ``since`` (its state history), so a fault that came and went is seen too."""
    names = stack_alarm_names(client, stack_name)
    if not names:
        return Check("alarms", FAILED, ["the stack has no alarms: is it this product's?"])
    cloudwatch = client("cloudwatch")
    states: dict[str, str] = {}
    for start in range(0, len(names), _ALARM_NAMES_PER_CALL):
        answer = cloudwatch.describe_alarms(
            AlarmNames=names[start : start + _ALARM_NAMES_PER_CALL],
            AlarmTypes=["MetricAlarm", "CompositeAlarm"],
        )
        for alarm in [*answer.get("MetricAlarms", []), *answer.get("CompositeAlarms", [])]:
            states[str(alarm["AlarmName"])] = str(alarm["StateValue"])
    problems = [f"{name}: not found by DescribeAlarms" for name in names if name not in states]
    problems += [
        f"{name}: {state}" for name, state in sorted(states.items()) if state not in QUIET_STATES
    ]
    fired, history = _fired_since(cloudwatch, names, since)
    problems += [f"{name}: went into ALARM during the run" for name in fired]
    counts = {state: list(states.values()).count(state) for state in sorted(set(states.values()))}
    summary = ", ".join(f"{count} {state}" for state, count in counts.items())
    seen = [f"{len(names)} alarms: {summary}", history]
    return _verdict("alarms", problems, seen)


def _fired_since(cloudwatch: Any, names: list[str], since: datetime) -> tuple[list[str], str]:
    """The alarms whose history shows a move into ALARM since ``since``, and one line saying how
    this was found. A history that cannot be read is said so, never taken as clean."""
    fired = []
    for name in names:
        try:
            items = cloudwatch.describe_alarm_history(
                AlarmName=name, HistoryItemType="StateUpdate", StartDate=since, MaxRecords=100
            ).get("AlarmHistoryItems", [])
        except Exception as error:  # botocore's errors; judged on the states alone, and said so
            reason = (
                getattr(error, "response", {}).get("Error", {}).get("Code") or type(error).__name__
            )
            return [], f"state history not readable ({reason}): judged on the current states only"
        if any(_new_state(item) == ALARM for item in items):
            fired.append(name)
    return fired, f"state history since {since:%H:%M:%S} UTC: {len(fired)} went into ALARM"


def _new_state(item: Mapping[str, Any]) -> str | None:
    try:
        data = json.loads(item.get("HistoryData") or "{}")
    except ValueError:
        return None
    state = (data.get("newState") or {}).get("stateValue")
    return str(state) if state else None
