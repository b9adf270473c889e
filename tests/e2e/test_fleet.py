"""The fleet end to end, scaled down (issue 18, "Show it"): an outage ridden out by the breaker,
a shared budget kept at every moment, and Lambda throttling waited out.

Each test deploys template.yaml into its own local cloud with small parameters (a 10 s running
deadline, a 2 s probe interval, the results' lifetime a few minutes), submits single-region
tasks to the emulator, then announces them all, and holds the product to what it promises. The
calls are counted where they arrive, in the emulator's request log (``infra.local.call_rate``),
never from the product's account of them; every task is submitted before any is announced, so
from the first announcement on every logged call bar submissions is the product's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.local.call_rate import CallRates, Outage, Recovery, product_calls
from infra.local.emulator import EmulatorAdmin, Timing
from infra.local.samples import id_card
from infra.stack.outcomes import TaskOutcome
from infra.stack.waiting import wait_until
from ocr_fetch.client import RecognitionSettings
from tests.support.local_stack import LocalStack, local_stack

pytestmark = pytest.mark.slow

DEADLINE_S = 10
PROBE_S = 2
BUDGET = 4
#: Small local parameters: "still running" for 10 s ends a task, the results' lifetime (which an
#: outage counts against) is four minutes, the breaker is probed every 2 s.
FLEET = {
    "PollDeadlineSeconds": str(DEADLINE_S),
    "ResultsLifetimeSeconds": "240",
    "BreakerProbeSeconds": str(PROBE_S),
    "PollMaxPolls": "40",
}
#: The longest the product's first call may take after the announcements (cold starts).
OUTAGE_LEAD_S = 120
#: A single-region task: queued about a second, then recognised.
TIMING = Timing(queue_delay_s=1.0, per_region_s=0.05)
CARD = id_card()
NAMES: list[str | None] = list(CARD.region_names[:1])


@dataclass
class FleetRun:
    """What one run of many tasks did: their outcomes, and the product's calls to Aspose."""

    outcomes: dict[str, TaskOutcome]
    rates: CallRates
    took_s: float

    def statuses(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for outcome in self.outcomes.values():
            counted[str(outcome.status)] = counted.get(str(outcome.status), 0) + 1
        return counted

    def keep(self, folder: Path) -> None:
        """Write every call (when it arrived, what it was) where a failure can be looked into."""
        path = folder / "calls.json"
        path.write_text(json.dumps(self.rates.to_json(), indent=1), encoding="utf-8")
        print(f"\nthe calls are in {path}")

    def histories(self) -> Iterator[tuple[dict[str, Any], ...]]:
        return (outcome.execution.history for outcome in self.outcomes.values())


def run_fleet(
    stack: LocalStack, tasks: int, *, outage_s: float = 0.0, timeout: float = 240
) -> FleetRun:
    """Submit ``tasks`` single-region tasks, announce them all (into an outage of the emulator
    ``outage_s`` long from the product's first call, if given) and wait for every outcome."""
    assert stack.cloud.aspose is not None
    aspose, admin = stack.cloud.aspose.client(), stack.emulator.admin
    with ThreadPoolExecutor(max_workers=4) as pool:
        task_ids = list(
            pool.map(
                lambda _: aspose.submit_regions(CARD.png, CARD.rects[:1], RecognitionSettings()),
                range(tasks),
            )
        )
    started = time.time()
    if outage_s:
        # Armed before the announcements, so that every call of every task meets it.
        admin.inject("http_503", for_s=outage_s + OUTAGE_LEAD_S)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda t: stack.session.announce(t, NAMES, source="fleet-test"), task_ids))
    outage = hold_outage(admin, started, outage_s) if outage_s else None
    outcomes = stack.session.wait_for_outcomes(
        task_ids, timeout=timeout, subscription=stack.outcomes
    )
    took = time.time() - started
    budget = float(stack.stack.parameters.get("AsposeCallsPerSecond") or 0)
    rates = CallRates.of(admin.requests(), started, outage, budget)
    return FleetRun(outcomes, rates, took)


def hold_outage(admin: EmulatorAdmin, since: float, seconds: float) -> Outage:
    """End the outage ``seconds`` after the product's first call: the tasks meet all of it, not
    what is left of it once the first of them has been started and polls (seconds, locally:
    the starter and the check function start cold)."""

    def first_call() -> float | None:
        calls = product_calls(admin.requests(), since)
        return calls[0] if calls else None

    start = wait_until(first_call, timeout=OUTAGE_LEAD_S, what="the product's first call")
    time.sleep(max(start + seconds - time.time(), 0.0))
    admin.clear_faults()
    return Outage(start, time.time())


def transitions(history: tuple[dict[str, Any], ...]) -> int:
    """State transitions, as Step Functions bills them: one per state entered."""
    return sum(1 for event in history if str(event["type"]).endswith("StateEntered"))


def test_an_outage_three_deadlines_long_is_ridden_out_within_the_breakers_bound(
    tmp_path: Path,
) -> None:
    outage_s = 3 * DEADLINE_S
    with local_stack({**FLEET, "AsposeCallsPerSecond": str(BUDGET)}, TIMING) as stack:
        # Given 30 tasks announced into an outage: every answer a 503 for 30 s
        run = run_fleet(stack, 30, outage_s=outage_s)
        histories = list(run.histories())
        paused = sum(
            poll.get("status") == "Paused"
            for outcome in run.outcomes.values()
            for poll in outcome.execution.polls()
        )
    run.keep(tmp_path)

    rates, outage = run.rates, run.rates.outage
    assert outage is not None
    published = [o.published.timestamp() for o in run.outcomes.values() if o.published]
    recovery = Recovery.of(published, outage)
    bound = 30 + outage_s / PROBE_S + 5
    events = max(len(history) for history in histories)
    most_transitions = max(transitions(history) for history in histories)
    after = rates.busiest_after_recovery()
    print(
        f"\noutage {outage_s} s: {rates.calls_during_outage()} calls during it (bound {bound:.0f});"
        f" {paused} checks paused by the breaker;"
        f" busiest 1-second window in the 10 s after it {after.calls} (budget {BUDGET});"
        f" {recovery.line()}; the most history events of a task {events}, the most state"
        f" transitions {most_transitions}; {run.took_s:.0f} s in all"
    )
    # Then every task completes, after the outage: none ended TimedOut for it
    assert run.statuses() == {"Completed": 30}
    assert len(published) == 30
    assert min(published) >= outage.end
    # And the breaker opened, and kept the calls during the outage to a run, a probe an
    # interval, and slack
    assert paused > 0
    assert rates.calls_during_outage() <= bound
    # And the first 10 s after it stay within the budget
    assert after.calls <= BUDGET


def test_a_budget_of_four_calls_a_second_holds_in_every_window(tmp_path: Path) -> None:
    with local_stack({**FLEET, "AsposeCallsPerSecond": str(BUDGET)}, TIMING) as stack:
        # Given 150 tasks announced at once, with a budget of 4 calls a second
        run = run_fleet(stack, 150, timeout=300)
    run.keep(tmp_path)

    busiest = run.rates.busiest()
    print(
        f"\n150 tasks, budget {BUDGET}/s: {len(run.rates.calls)} calls, busiest 1-second window "
        f"{busiest.calls}; calls/s {run.rates.phases()['before']:.2f}; "
        f"{run.took_s:.0f} s in all"
    )
    # Then every task completes, and no 1-second window, wherever it starts, holds more than 4
    assert run.statuses() == {"Completed": 150}
    assert busiest.calls <= BUDGET, (
        f"{busiest.calls} calls from {busiest.start - run.rates.origin:.2f} s"
        if busiest.start
        else ""
    )


def test_lambda_throttling_at_a_reserved_concurrency_of_one_is_waited_out(
    tmp_path: Path,
) -> None:
    parameters = {**FLEET, "AsposeReservedConcurrency": "1"}
    with local_stack(parameters, TIMING) as stack:
        # Given 40 tasks, and the check function allowed one invocation at a time
        run = run_fleet(stack, 40, timeout=300)
        throttled = sum(
            error.endswith("TooManyRequestsException")
            for outcome in run.outcomes.values()
            for step in outcome.execution.steps
            for error in step.errors
        )
    run.keep(tmp_path)

    print(
        f"\n40 tasks at a reserved concurrency of 1: {run.statuses()}; {throttled} invocations "
        f"throttled and retried; {run.took_s:.0f} s in all"
    )
    # Then throttling happened, and none of it became a failure: every task completes
    assert throttled > 0
    assert run.statuses() == {"Completed": 40}
