"""Measured on the local stack (emulator + moto running template.yaml): tasks through the public
start path, with time to result, polls, Lambda invocations, history events and handler time."""

from __future__ import annotations

import statistics
import time

from infra.emulator import Timing
from infra.samples import id_card
from tests.bench import prices
from tests.bench.polling import TRANSITIONS_FIXED, TRANSITIONS_PER_POLL
from tests.support.local_stack import local_stack


def local_stack_run(tasks: int = 10) -> None:
    print(f"\n## 2. Local stack: {tasks} tasks through the bus (polling 1 s doubling to 4 s)")
    card = id_card()
    with local_stack(timing=Timing(queue_delay_s=3.0, per_region_s=0.2)) as stack:
        started = time.monotonic()
        submitted: dict[str, float] = {}
        for _ in range(tasks):
            task_id = stack.submit(card)
            stack.session.announce(task_id, list(card.region_names))
            submitted[task_id] = time.monotonic()
        outcomes = stack.session.wait_for_outcomes(
            list(submitted), timeout=120, subscription=stack.outcomes
        )
        done = time.monotonic()
        wall = done - started
        kinds = sorted({str(o.detail_type) for o in outcomes.values()})
        print(f"all {tasks} announced and ended in {wall:.1f}s wall time; outcomes: {kinds}")
        polls = [len(o.execution.polls()) for o in outcomes.values()]
        events = [len(o.execution.history) for o in outcomes.values()]
        latencies = [
            (o.execution.stopped.timestamp() if o.execution.stopped else time.time())
            - (o.execution.started.timestamp() if o.execution.started else 0)
            for o in outcomes.values()
        ]
        print(
            f"execution time (s): median {statistics.median(latencies):.1f}, "
            f"max {max(latencies):.1f}  (the emulator completes a task ~4 s after submission)"
        )
        print(f"polls per task: {sorted(polls)}")
        print(f"history events per execution: median {statistics.median(events)}")
        invocations = stack.cloud.runtime.invocations
        by_function: dict[str, list[float]] = {}
        names = {name: logical for logical, name in stack.stack.functions.items()}
        for inv in invocations:
            by_function.setdefault(names.get(inv.function_name, inv.function_name), []).append(
                inv.duration_ms
            )
        print("Lambda invocations per task and handler time (ms, in worker processes):")
        for name, durations in sorted(by_function.items()):
            durations.sort()
            p95 = durations[int(0.95 * (len(durations) - 1))]
            print(
                f"  {name:<24} {len(durations) / tasks:>5.1f}/task  "
                f"median {statistics.median(durations):>7.1f}  p95 {p95:>7.1f}"
            )
        cold = [inv.init_ms for inv in invocations if inv.init_ms is not None]
        print(f"cold starts: {len(cold)}, init median {statistics.median(cold):.0f} ms")
        mean_polls = statistics.mean(polls)
        transitions = mean_polls * TRANSITIONS_PER_POLL + TRANSITIONS_FIXED
        lambda_calls = len(invocations) / tasks
        gb_seconds = lambda_calls * 0.256 * 0.2  # 256 MB, ~200 ms billed each, generous
        s3_puts = len(card.fields) + 2
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
