"""Measured on the local stack (emulator + moto running template.yaml): tasks through the public
start path, with time to result, polls, Lambda invocations, history events and handler time.

Besides the printed table, the figures are written to ``.local/bench/local_run.json`` for the
capacity plan (:mod:`tests.bench.capacity`): invocations and handler time per function, history
events and state transitions per execution, polls per task, cold-start init, the AWS requests each
task made (by the functions' code and the state machine; not the SQS pollers' time-driven
receives, nor the benchmark's own calls), the log bytes each function wrote, and the size of the
table items.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from infra.build.packaging import load_template
from infra.local.cloud.iam_calls import CODE, STATES
from infra.local.emulator import Timing
from infra.local.samples import id_card
from infra.ops import prices
from tests.bench.polling import TRANSITIONS_FIXED, TRANSITIONS_PER_POLL
from tests.support.local_stack import FAST_POLLING, LocalStack, local_stack
from tests.support.template import TEMPLATE

OUTPUT = Path(".local/bench/local_run.json")
TIMING = Timing(queue_delay_s=3.0, per_region_s=0.2)
#: CloudWatch Logs counts each event's message bytes plus this overhead.
LOG_EVENT_OVERHEAD_BYTES = 26


def local_stack_run(tasks: int = 10) -> None:
    print(f"\n## 2. Local stack: {tasks} tasks through the bus (polling 1 s doubling to 4 s)")
    card = id_card()
    with local_stack(timing=TIMING) as stack:
        stack.cloud.clear_aws_calls()
        started = time.monotonic()
        submitted: dict[str, float] = {}
        for _ in range(tasks):
            task_id = stack.submit(card)
            stack.session.announce(task_id, list(card.region_names))
            submitted[task_id] = time.monotonic()
        outcomes = stack.session.wait_for_outcomes(
            list(submitted), timeout=120, subscription=stack.outcomes
        )
        wall = time.monotonic() - started
        kinds = sorted({str(o.detail_type) for o in outcomes.values()})
        print(f"all {tasks} announced and ended in {wall:.1f}s wall time; outcomes: {kinds}")
        executions = [o.execution for o in outcomes.values()]
        polls = [len(e.polls()) for e in executions]
        events = [len(e.history) for e in executions]
        entered = [len(e.steps) for e in executions]
        latencies = [
            (e.stopped.timestamp() if e.stopped else time.time())
            - (e.started.timestamp() if e.started else 0)
            for e in executions
        ]
        print(
            f"execution time (s): median {statistics.median(latencies):.1f}, "
            f"max {max(latencies):.1f}  (the emulator completes a task ~4 s after submission)"
        )
        print(f"polls per task: {sorted(polls)}")
        print(f"history events per execution: median {statistics.median(events)}")
        functions = function_figures(stack, tasks)
        print("Lambda invocations per task and handler time (ms, in worker processes):")
        for name, figures in functions.items():
            print(
                f"  {name:<24} {figures['invocations_per_task']:>5.1f}/task  "
                f"median {figures['median_ms']:>7.1f}  p95 {figures['p95_ms']:>7.1f}"
            )
        cold = [i.init_ms for i in stack.cloud.runtime.invocations if i.init_ms is not None]
        print(f"cold starts: {len(cold)}, init median {statistics.median(cold):.0f} ms")
        print_estimate(polls, len(stack.cloud.runtime.invocations) / tasks, len(card.fields))
        document = {
            "tasks": tasks,
            "regions_per_task": len(card.region_names),
            "outcomes": kinds,
            "wall_s": round(wall, 1),
            "execution_s": {"median": statistics.median(latencies), "max": max(latencies)},
            "polls_per_task": {"mean": statistics.mean(polls), "values": sorted(polls)},
            "history_events_per_execution": {
                "median": statistics.median(events),
                "mean": statistics.mean(events),
            },
            "states_entered_per_execution": {"mean": statistics.mean(entered)},
            "functions": functions,
            "cold_start_init_ms": {
                "count": len(cold),
                "median": statistics.median(cold) if cold else None,
            },
            "aws_requests_per_task": aws_requests(stack, tasks),
            "log_bytes_per_task": log_bytes(stack, tasks),
            "item_bytes": item_bytes(stack),
            "parameters": {**FAST_POLLING, "timing": dataclasses.asdict(TIMING)},
        }
    write(document)


def print_estimate(polls: list[int], lambda_calls: float, fields: int) -> None:
    """A rough cost of tasks like these; the capacity plan (``capacity.py``) prices them in
    full from the figures written."""
    transitions = statistics.mean(polls) * TRANSITIONS_PER_POLL + TRANSITIONS_FIXED
    gb_seconds = lambda_calls * 0.256 * 0.2  # 256 MB, ~200 ms billed each, generous
    s3_puts = fields + 2
    cost = (
        transitions * prices.TRANSITION
        + lambda_calls * prices.LAMBDA_REQUEST
        + gb_seconds * prices.LAMBDA_GB_SECOND
        + s3_puts * prices.S3_PUT
        + 2 * prices.DDB_WRITE
    )
    print(
        f"estimated AWS cost: ${cost * 1000:.3f} per 1000 tasks like these "
        f"({transitions:.0f} transitions, {lambda_calls:.1f} Lambda calls, "
        f"{s3_puts} S3 PUTs per task)"
    )


def function_figures(stack: LocalStack, tasks: int) -> dict[str, dict[str, Any]]:
    """Per function (logical id): invocations per task, handler time, peak RSS, cold starts."""
    names = {name: logical for logical, name in stack.stack.functions.items()}
    by_function: dict[str, list[Any]] = {}
    for inv in stack.cloud.runtime.invocations:
        by_function.setdefault(names.get(inv.function_name, inv.function_name), []).append(inv)
    figures: dict[str, dict[str, Any]] = {}
    for name, invocations in sorted(by_function.items()):
        durations = sorted(inv.duration_ms for inv in invocations)
        inits = [inv.init_ms for inv in invocations if inv.init_ms is not None]
        figures[name] = {
            "invocations": len(durations),
            "invocations_per_task": len(durations) / tasks,
            "median_ms": statistics.median(durations),
            "p95_ms": durations[int(0.95 * (len(durations) - 1))],
            "mean_ms": statistics.mean(durations),
            "max_rss_mb": max(inv.max_rss_mb for inv in invocations),
            "cold_starts": len(inits),
            "init_median_ms": statistics.median(inits) if inits else None,
        }
    return figures


def aws_requests(stack: LocalStack, tasks: int) -> dict[str, float]:
    """AWS requests per task, made by the functions' code and the state machine, keyed by IAM
    action and the stack resource it touched (``"s3:PutObject ResultsBucket"``)."""
    names = {
        physical.rsplit("/", 1)[-1] if physical.startswith("http") else physical: logical
        for logical, physical in stack.stack.resources.items()
    }
    counts: Counter[str] = Counter()
    for call, count in stack.cloud.calls.counts().items():
        if call.origin in (CODE, STATES):
            touched = [n for n in names for r in call.resources if n and n in r]
            key = f"{call.action} {names[max(touched, key=len)]}" if touched else call.action
            counts[key] += count
    return {key: count / tasks for key, count in sorted(counts.items())}


def log_bytes(stack: LocalStack, tasks: int) -> dict[str, float]:
    """Bytes each function wrote to CloudWatch Logs per task (messages plus per-event overhead)."""
    stack.cloud.flush_logs()
    logs = stack.cloud.client("logs")
    written: dict[str, float] = {}
    for logical, group in function_log_groups(stack).items():
        total = 0
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
            total += sum(
                len(event["message"].encode()) + LOG_EVENT_OVERHEAD_BYTES
                for event in page["events"]
            )
        written[logical] = total / tasks
    return written


def function_log_groups(stack: LocalStack) -> dict[str, str]:
    """Each function's log group (its ``LoggingConfig.LogGroup``), as deployed."""
    resources = load_template(TEMPLATE)["Resources"]
    groups: dict[str, str] = {}
    for logical in stack.stack.functions:
        logging_config = resources[logical]["Properties"].get("LoggingConfig") or {}
        group = logging_config.get("LogGroup") or {}
        if isinstance(group, dict) and group.get("Ref") in stack.stack.resources:
            groups[logical] = stack.stack.resources[group["Ref"]]
    return groups


def item_bytes(stack: LocalStack) -> dict[str, float]:
    """Mean item size of each table (approximated by DynamoDB's sizing rules)."""
    dynamodb = stack.cloud.client("dynamodb")
    sizes: dict[str, float] = {}
    for logical in ("ResultsTable", "PollingHistoryTable"):
        items = dynamodb.scan(TableName=stack.stack.resources[logical]).get("Items", [])
        if items:
            sizes[logical] = statistics.mean(dynamodb_item_size(item) for item in items)
    return sizes


def dynamodb_item_size(item: dict[str, Any]) -> int:
    """Approximate bytes of an item in DynamoDB's wire format: names plus values (strings and
    binary by length, numbers about half their digits, containers 3 bytes plus their parts)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    kind, inner = next(iter(value.items()))
    if kind in ("S", "B"):
        return len(inner.encode() if isinstance(inner, str) else inner)
    if kind == "N":
        return len(str(inner)) // 2 + 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _value_size(v) for k, v in inner.items())
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(v)) for v in inner)
    return 1  # BOOL, NULL


def write(document: dict[str, Any]) -> None:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"written: {OUTPUT}")
