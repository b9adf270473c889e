"""State data and outcome events by region count, measured on the local stack.

Tasks of 5, 50 and 500 regions, each region named with the longest name the contract allows, go
through the public start path; every state's input and output in the execution history is
measured (UTF-8 bytes, as Step Functions counts them), with the outcome event as delivered.
Target: no state over :data:`ocr_fetch.handlers.workflow_state.STATE_BUDGET_BYTES` at any count.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from infra.local.emulator import Timing
from infra.local.samples import SampleDocument, id_card
from ocr_fetch.handlers.workflow_state import STATE_BUDGET_BYTES
from ocr_fetch.submission import MAX_REGION_NAME_CHARS
from tests.support.local_stack import local_stack

OUTPUT = Path(".local/bench/state.json")
COUNTS = (5, 50, 500)
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
    """The largest state data in an execution's history, and where."""
    largest, where = 0, ""
    for event in history:
        for key, details in event.items():
            if not key.endswith("EventDetails") or not isinstance(details, dict):
                continue
            for name in _DETAILS:
                value = details.get(name)
                if isinstance(value, str) and len(value.encode("utf-8")) > largest:
                    largest = len(value.encode("utf-8"))
                    where = f"{details.get('name') or event['type']} {name}"
    return largest, where


def state_sizes() -> None:
    print(f"\n## State data and outcome events by region count (budget {STATE_BUDGET_BYTES} B)")
    results: dict[str, Any] = {}
    with local_stack(timing=Timing(queue_delay_s=1.0, per_region_s=0.0)) as stack:
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
    print(f"{'regions':>8} | {'largest state':>13} {'at':<40} | {'event':>7} {'regions in it':>13}")
    for regions, row in results.items():
        cut = " (truncated)" if row["regions_truncated"] else ""
        print(
            f"{regions:>8} | {row['largest_state_bytes']:>11} B {row['largest_state_at']:<40} | "
            f"{row['event_bytes']:>5} B {row['event_regions']:>13}{cut}"
        )
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(
        json.dumps({"budget_bytes": STATE_BUDGET_BYTES, "by_region_count": results}, indent=2)
        + "\n",
        encoding="utf-8",
    )
    print(f"written: {OUTPUT}")
