"""What the fleet's budget and breaker cost and save, at the capacity plan's volume.

*The budget.* Every call to Aspose takes a slot from one item (``ocr_fetch.fleet``): one
conditional write when the next slot is free now, two when it lies ahead (the condition fails,
then an ``ADD``), and every check reads the item once. The simulation replays the ``realistic``
workload's polls (:mod:`tests.bench.polling`, after learning) for tasks arriving at the plan's
peak rate for ten minutes, through slots spaced as the budget spaces them at Aspose's limit,
and reports the writes per call and the delay the budget adds to the poll that finds each task
done.

*The breaker.* A one-hour outage at the plan's average rate: every task arriving during it, and
those in flight, polled by the defaults (growing waits to every 120 s) with no breaker, against
the run of non-answers that opens the breaker, one probe per ``BreakerProbeSeconds`` and nothing
else; and what pausing costs after recovery, each task waking at the end of its paused wait.
"""

from __future__ import annotations

import heapq
import random
import statistics
from dataclasses import dataclass
from typing import Any

from infra.ops import prices
from ocr_fetch.fleet import BREAKER_RUN, HEADROOM, paused_wait
from ocr_fetch.polling import PollingPolicy, base_interval
from tests.bench.polling import (
    LEARNING_TASKS,
    Project,
    realistic_tasks,
    template_settings,
)

HOUR = 3600.0
#: The budget is simulated over this long at the peak rate: long enough for its queue to settle.
PEAK_WINDOW = 600.0
#: The default probe interval (template's BreakerProbeSeconds).
PROBE_SECONDS = 30.0


@dataclass(frozen=True)
class Budget:
    calls_per_second: float
    tasks_per_second: float

    @property
    def spacing(self) -> float:
        return 1.0 / (self.calls_per_second * (1 - HEADROOM))


def budget_figures(aspose_calls_per_second: float, tasks_per_second: float) -> dict[str, Any]:
    """The realistic workload at ``tasks_per_second`` for an hour, through the budget."""
    settings = template_settings()
    rand = random.Random(20261206)
    learner = Project(settings, random.Random(1))
    for task in realistic_tasks(LEARNING_TASKS, rand):
        learner.run(task)
    learner.learning = False  # what was learnt stays put, so each kind's plan is made once
    budget = Budget(aspose_calls_per_second, tasks_per_second)
    count = int(tasks_per_second * PEAK_WINDOW)
    tasks = realistic_tasks(count, rand)
    arrivals = sorted(rand.uniform(0, PEAK_WINDOW) for _ in range(count))
    calls: list[tuple[float, int, int]] = []  # (due, task, poll index)
    found: list[tuple[float, int]] = []
    for index, (task, arrived) in enumerate(zip(tasks, arrivals, strict=True)):
        polled = learner.run(task)
        for number, at in enumerate(polled.times):
            calls.append((arrived + at, index, number))
        found.append((arrived + polled.times[-1], len(polled.times) - 1))
    calls.sort()
    next_slot, writes, added = 0.0, 0, {}
    for due, index, number in calls:
        slot = max(due, next_slot)
        writes += 1 if slot == due else 2
        next_slot = slot + budget.spacing
        if number == found[index][1]:
            added[index] = slot - due
    delays = sorted(added.values())
    demand = len(calls) / PEAK_WINDOW
    reads = len(calls) * prices.DDB_READ  # a read of the fleet item a call, rounded up
    return {
        "calls_per_second_budget": aspose_calls_per_second,
        "tasks_per_second": tasks_per_second,
        "calls_per_second_demand": round(demand, 1),
        "writes_per_call": round(writes / len(calls), 3),
        "reads_per_check": 1.0,
        "added_delay_p50_s": round(statistics.median(delays), 3),
        "added_delay_p95_s": round(delays[int(0.95 * (len(delays) - 1))], 3),
        "added_delay_max_s": round(delays[-1], 1),
        "cost_per_1000_tasks": round(1000 * (writes * prices.DDB_WRITE + reads) / count, 4),
    }


def outage_figures(tasks_per_second: float, probe_seconds: float = PROBE_SECONDS) -> dict[str, Any]:
    """Calls to Aspose during a one-hour outage, without and with the breaker, and the delay the
    breaker's paused waits add after recovery."""
    policy = PollingPolicy()
    rand = random.Random(7)
    count = int(tasks_per_second * HOUR)
    arrivals = sorted(rand.uniform(0, HOUR) for _ in range(count))
    # Tasks already in flight when it starts: a few minutes' worth, polling every two minutes.
    in_flight = int(tasks_per_second * 300)
    without = 0
    for arrived in [*arrivals, *(rand.uniform(-300, 0) for _ in range(in_flight))]:
        at, polls = max(arrived, 0.0) + 1.0, 1
        while at < HOUR:
            without += 1
            at += base_interval(policy, polls)
            polls += 1
    probes = int(HOUR / probe_seconds)
    with_breaker = BREAKER_RUN + probes
    # After recovery each paused task polls at the end of its current paused wait.
    wakes: list[float] = []
    for arrived in arrivals:
        at, paused = max(arrived, 0.0) + 1.0, 0
        while at < HOUR:
            at += paused_wait(probe_seconds, paused, 0.0, rand.random)
            paused += 1
        heapq.heappush(wakes, at - HOUR)
    late = sorted(wakes)
    return {
        "tasks_per_second": round(tasks_per_second, 2),
        "outage_seconds": HOUR,
        "calls_without_breaker": without,
        "calls_with_breaker": with_breaker,
        "calls_saved": without - with_breaker,
        "aspose_cost_saved": round((without - with_breaker) * prices.ASPOSE_CALL, 2),
        "probe_seconds": probe_seconds,
        "resume_after_recovery_p50_s": round(statistics.median(late), 0),
        "resume_after_recovery_p95_s": round(late[int(0.95 * (len(late) - 1))], 0),
        "resume_after_recovery_max_s": round(late[-1], 0),
    }
