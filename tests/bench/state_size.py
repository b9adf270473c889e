"""State data and outcome events by region count and on every failure path, measured on the
local stack.

Tasks of 5, 50 and 500 regions, each region named with the longest name the contract allows, go
through the public start path; every state's input and output in the execution history is
measured (UTF-8 bytes, as Step Functions counts them), with the outcome event as delivered. Then
every path that ends otherwise, each with 500 such names, the largest metadata and correlation id
the contract allows and the longest messages the service can send: every Catch (Check Task
Status, Decode And Store Results, a recording state), every Fail state's Cause, giving up by
either clock, an answer nobody can route. Target: no state over
:data:`ocr_fetch.handlers.workflow_state.STATE_BUDGET_BYTES` on any of them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from infra.local.emulator import Timing
from infra.local.samples import SampleDocument, id_card
from ocr_fetch.handlers.workflow_state import STATE_BUDGET_BYTES
from ocr_fetch.submission import MAX_CORRELATION_ID_CHARS, MAX_REGION_NAME_CHARS
from tests.support.local_stack import LocalStack, local_stack

OUTPUT = Path(".local/bench/state.json")
COUNTS = (5, 50, 500)
#: The longest of everything a submission may carry: 2 KiB of metadata (4-byte characters
#: counted), a 128-character correlation id.
METADATA = {"tenant": "t", "note": "\U0001f600" * 480}
CORRELATION_ID = "c" * MAX_CORRELATION_ID_CHARS
#: The service's longest error: 20 messages of 500 four-byte characters.
LONG_MESSAGES = ["\U0001f4a5" * 500] * 20
#: Each failure path: how it is set up (emulator faults, local-cloud faults).
FAILURE_PATHS: dict[
    str, tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]
] = {
    "Error with 20 long messages": ([("error", {"messages": LONG_MESSAGES})], []),
    "unknown status, 500 characters": ([("unknown_status", {"value": "\U0001f4a5" * 500})], []),
    "not found": ([("expire", {})], []),
    "deadline (service says running)": ([("stuck", {})], []),
    "lifetime (no answer)": ([("http_503", {"times": 10_000})], []),
    "4xx with a long problem body": (
        [("http_status", {"status": 400, "title": "x" * 300, "detail": "y" * 3000})],
        [],
    ),
    "Catch at Check Task Status (crash)": (
        [],
        [("lambda_crash", {"target": "CheckStatusFunction", "times": 3})],
    ),
    "Catch at Decode And Store (crash)": (
        [],
        [("lambda_crash", {"target": "StoreResultsFunction", "times": 3})],
    ),
    "Catch at a recording state": (
        [("error", {"messages": LONG_MESSAGES})],
        [("lambda_crash", {"target": "RecordOutcomeFunction", "times": 3})],
    ),
    "outcome not published": (
        [("error", {"messages": LONG_MESSAGES})],
        [("events_failed_entry", {"target": "events:PutEvents", "times": 20})],
    ),
}
_DETAILS = ("input", "output", "parameters")


def document_of(count: int) -> SampleDocument:
    """The ID card's first field, ``count`` times, each with a name of the longest length."""
    card = id_card()
    field = card.fields[0]
    fields = tuple(
        replace(field, name=f"{index:03d}-" + "n" * (MAX_REGION_NAME_CHARS - 4))
        for index in range(count)
    )
    return SampleDocument(card.title, card.png, fields)


def largest_state(history: list[dict[str, Any]]) -> tuple[int, str]:
    """The largest state data in an execution's history, and where: UTF-8 bytes of its JSON, as
    Step Functions counts them (moto's history escapes every non-ASCII character, six or twelve
    bytes for what UTF-8 spells in two to four: its text is read back and measured as it is)."""
    largest, where = 0, ""
    for event in history:
        for key, details in event.items():
            if not key.endswith("EventDetails") or not isinstance(details, dict):
                continue
            for name in _DETAILS:
                value = details.get(name)
                size = _utf8_size(value) if isinstance(value, str) else 0
                if size > largest:
                    largest, where = size, f"{details.get('name') or event['type']} {name}"
    return largest, where


def _utf8_size(text: str) -> int:
    try:
        value = json.loads(text)
    except ValueError:
        return len(text.encode("utf-8"))
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def failure_paths(stack: LocalStack) -> dict[str, Any]:
    """Every failure path, at once, each announced with 500 longest names (kept by reference: the
    service's task has the ID card's five regions, so it answers at once): its largest state,
    where, and its Fail state's Cause."""
    document = id_card()
    names: list[str | None] = list(document_of(500).region_names)
    started: dict[str, str] = {}
    for path, (service, cloud) in FAILURE_PATHS.items():
        task_id = stack.submit(document)
        for fault, params in service:
            stack.emulator.admin.inject(fault, task_id=task_id, **params)
        stack.session.announce(task_id, names, correlation_id=CORRELATION_ID, metadata=METADATA)
        # Armed after the announcement, whose own PutEvents names the task too.
        for kind, params in cloud:
            stack.cloud.faults.inject(kind, match=task_id, **params)
        started[path] = task_id
    ended = stack.session.wait_for_outcomes(
        list(started.values()), timeout=300, subscription=stack.outcomes
    )
    results: dict[str, Any] = {}
    for path, task_id in started.items():
        execution = ended[task_id].execution
        size, where = largest_state(list(execution.history))
        results[path] = {
            "status": execution.status,
            "error": execution.error,
            "largest_state_bytes": size,
            "largest_state_at": where,
            "cause_bytes": len((execution.cause or "").encode("utf-8")),
        }
    return results


def state_sizes() -> None:
    print(f"\n## State data and outcome events by region count (budget {STATE_BUDGET_BYTES} B)")
    results: dict[str, Any] = {}
    # A deadline the 500-region task's real OCR finishes within; a lifetime the "no answer" path
    # reaches in two minutes.
    parameters = {"PollDeadlineSeconds": "60", "ResultsLifetimeSeconds": "120"}
    with local_stack(parameters, timing=Timing(queue_delay_s=1.0, per_region_s=0.0)) as stack:
        for count in COUNTS:
            document = document_of(count)
            task_id = stack.submit(document)
            stack.session.announce(task_id, list(document.region_names))
            outcome = stack.outcome(task_id, timeout=180)
            size, where = largest_state(list(outcome.execution.history))
            event = outcome.event or {}
            detail = event.get("detail") or {}
            results[str(count)] = {
                "outcome": outcome.status,
                "largest_state_bytes": size,
                "largest_state_at": where,
                "event_bytes": len(json.dumps(event, ensure_ascii=False).encode("utf-8")),
                "event_regions": len(detail.get("regions") or []),
                "regions_truncated": bool(detail.get("regionsTruncated")),
            }
        failures = failure_paths(stack)
    print(f"{'regions':>8} | {'largest state':>13} {'at':<40} | {'event':>7} {'regions in it':>13}")
    for regions, row in results.items():
        cut = " (truncated)" if row["regions_truncated"] else ""
        print(
            f"{regions:>8} | {row['largest_state_bytes']:>11} B {row['largest_state_at']:<40} | "
            f"{row['event_bytes']:>5} B {row['event_regions']:>13}{cut}"
        )
    print(f"\n{'failure path (500 names, largest inputs)':<40} | {'ended':<24} | largest state")
    for path, row in failures.items():
        ended = f"{row['status']} {row['error'] or ''}"[:24]
        print(
            f"{path:<40} | {ended:<24} | {row['largest_state_bytes']:>5} B "
            f"{row['largest_state_at']:<34} cause {row['cause_bytes']} B"
        )
    worst = max([r["largest_state_bytes"] for r in [*results.values(), *failures.values()]])
    print(f"largest state on any path: {worst} B (budget {STATE_BUDGET_BYTES} B)")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    written = {
        "budget_bytes": STATE_BUDGET_BYTES,
        "by_region_count": results,
        "failure_paths": failures,
        "largest_on_any_path": worst,
    }
    OUTPUT.write_text(json.dumps(written, indent=2) + "\n", encoding="utf-8")
    print(f"written: {OUTPUT}")
