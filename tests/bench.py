"""Benchmarks: polls, latency and cost per task. Prints figures; asserts nothing (`make bench`).

1. The polling policy, analytically: for tasks that take from 1 s to an hour, how many polls
   (Aspose calls, which may cost quota), how late the result is noticed, and the Step Functions
   state transitions it costs, against the tutorial's doubling loop and a fixed 5 s poll.
2. Measured on the local stack (emulator + moto running template.yaml): N tasks through the
   public start path, with time to result, polls, Lambda invocations, history events and the
   handlers' own time per call.
3. Decoding throughput of the store step.
"""

from __future__ import annotations

import base64
import statistics
import time
import uuid
from collections.abc import Callable

from infra.emulator import Timing
from infra.samples import id_card
from ocr_fetch.decoding import decode_results
from ocr_fetch.model import OcrResponse
from ocr_fetch.polling import PollingPolicy, next_poll
from tests.support.local_stack import local_stack

# AWS list prices (us-east-1, 2026), stated so the arithmetic can be checked and redone.
PRICE_TRANSITION = 0.025 / 1000  # Step Functions Standard, per state transition
PRICE_LAMBDA_REQUEST = 0.20 / 1_000_000
PRICE_LAMBDA_GB_SECOND = 0.0000133334  # arm64
PRICE_S3_PUT = 0.005 / 1000
PRICE_DDB_WRITE = 0.625 / 1_000_000  # on-demand write request unit
TRANSITIONS_PER_POLL = 3  # Check Task Status, Route On Task Status, Wait Before Next Poll
TRANSITIONS_FIXED = 6  # Start Polling, Decode And Store, Was Recorded?, Publish, Is Completed?, end


def simulate(wait_after: Callable[[int, float], int | None], duration: float) -> tuple[int, float]:
    """Polls made and the delay between completion and the poll that sees it (None = gave up)."""
    elapsed, polls = 0.0, 0
    while True:
        polls += 1
        if elapsed >= duration:
            return polls, elapsed - duration
        wait = wait_after(polls, elapsed)
        if wait is None:
            return polls, float("inf")
        elapsed += wait


def policy_table() -> None:
    policy = PollingPolicy()

    def ours(polls: int, elapsed: float) -> int | None:
        decision = next_poll(policy, polls, elapsed)
        return None if decision.give_up else decision.wait_seconds

    def tutorial(polls: int, elapsed: float) -> int | None:
        return None if polls >= 10 else 2 ** (polls - 1)  # 1, 2, 4 ... ten attempts

    def fixed(polls: int, elapsed: float) -> int | None:
        return None if elapsed >= policy.deadline_seconds else 5

    print("\n## 1. Polling policy (defaults: 2 s doubling to 120 s, 1 h deadline, 40 polls)")
    print(
        f"{'task takes':>10} | {'ours: polls':>11} {'late by':>8} {'$/1000 tasks':>12} | "
        f"{'tutorial: polls':>15} {'late by':>8} | {'fixed 5 s: polls':>16} {'late by':>8}"
    )
    for duration in (1, 3, 10, 30, 60, 120, 300, 900, 1800, 3600):
        p, late = simulate(ours, duration)
        tp, tlate = simulate(tutorial, duration)
        fp, flate = simulate(fixed, duration)
        transitions = p * TRANSITIONS_PER_POLL + TRANSITIONS_FIXED
        cost = transitions * PRICE_TRANSITION * 1000
        print(
            f"{duration:>9}s | {p:>11} {_late(late):>8} {cost:>12.3f} | "
            f"{tp:>15} {_late(tlate):>8} | {fp:>16} {_late(flate):>8}"
        )
    worst = policy.max_polls * 10
    print(f"history events per execution at most ~{worst} (limit 25,000)")


def _late(seconds: float) -> str:
    return "gave up" if seconds == float("inf") else f"{seconds:.0f}s"


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
            transitions * PRICE_TRANSITION
            + lambda_calls * PRICE_LAMBDA_REQUEST
            + gb_seconds * PRICE_LAMBDA_GB_SECOND
            + s3_puts * PRICE_S3_PUT
            + 2 * PRICE_DDB_WRITE
        )
        print(
            f"estimated AWS cost: ${cost * 1000:.3f} per 1000 tasks like these "
            f"({transitions:.0f} transitions, {lambda_calls:.1f} Lambda calls, "
            f"{s3_puts} S3 PUTs per task)"
        )


def decoding_throughput() -> None:
    print("\n## 3. Decoding throughput (strict Base64 + validation + SHA-256)")
    text = ("MUSTERMANN ERIKA 12.08.1964 " * 4000).encode()  # ~110 KB per region
    for regions in (10, 100):
        response = OcrResponse.from_json(
            {
                "id": str(uuid.uuid4()),
                "taskStatus": "Completed",
                "responseStatusCode": "Ok",
                "results": [{"type": "Text", "data": base64.b64encode(text).decode()}] * regions,
            }
        )
        t0 = time.perf_counter()
        report = decode_results(
            response, region_names=None, expected_count=regions, max_bytes=10 * 1024 * 1024
        )
        seconds = time.perf_counter() - t0
        size = sum(r.size for r in report.decoded) / 1e6
        print(
            f"{regions:>4} regions, {size:.1f} MB: {seconds * 1000:.0f} ms "
            f"({size / seconds:.0f} MB/s)"
        )


def main() -> None:
    policy_table()
    decoding_throughput()
    local_stack_run()


if __name__ == "__main__":
    main()
