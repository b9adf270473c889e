"""Polling, side by side with the tutorial: polls made and how late a finished task is noticed.

Both loops run on the same tasks, with the product's own code deciding ours: the starter's plan
(:func:`ocr_fetch.learning.plan_start`) and the check function's waits
(:func:`ocr_fetch.polling.next_poll`), configured from the **template's default parameters**, and
what a completed task teaches (:class:`ocr_fetch.learning.Observation`) fed back as the check
function records it.

The model, stated so the figures can be checked:

* **Durations** follow the emulator's timing model (``infra/local/emulator``: ``queue_delay_s +
  regions x per_region_s``), times a log-normal factor (sigma :data:`LOAD_SIGMA`) for the service's
  changing load; in ``realistic``, a tenth of the tasks are slow: uniform between that and 10 min.
* **The tutorial** polls at submission and after 1, 2, 4, 8 ... s (at 0, 1, 3, 7, 15 ... s). Its
  give-up after ten attempts is not applied: it is counted as if it kept doubling (a loop that gives
  up loses the result, which is worse than any delay). Its requests take no time.
* **Ours** starts when the submitted event reaches the starter (:data:`EVENT_AGE`), waits whole
  seconds in Wait states, and each poll comes :data:`TRANSITION_LATENCY` after the Wait ends or, if
  later, when it was due (the check function makes up the fraction of a second).
* A poll at or after the finish sees ``Completed``; the delay is that poll's time minus the finish.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.emulator.config import Timing
from infra.ops import prices
from ocr_fetch.learning import DurationSummary, Observation, plan_start, task_kind
from ocr_fetch.polling import Progress, next_poll, on_time, whole_wait
from ocr_fetch.settings import StarterSettings
from tests.support.template import function_environment

OUTPUT = Path(".local/bench/polling.json")
FIXED_DURATIONS = (1, 2, 3, 5, 8, 13, 20, 30, 60, 120, 180, 300, 600)
#: Each fixed duration is run this many times (event ages and jitter differ).
FIXED_REPLICAS = 20
REALISTIC_TASKS = 300
LEARNING_TASKS = 600
SLOW_SHARE = 0.1
SLOW_UP_TO_SECONDS = 600.0
LOAD_SIGMA = 0.25
#: Seconds from submission until the starter plans (EventBridge, then SQS, then the starter).
EVENT_AGE = (0.2, 0.8)
TRANSITION_LATENCY = 0.05
TRANSITIONS_PER_POLL = 3  # Check Task Status, Route On Task Status, Wait Before Next Poll
TRANSITIONS_FIXED = 6  # Start Polling, Decode And Store, Was Recorded?, Publish, Is Completed?, end
TARGETS = {
    "realistic": {"polls": 0.6, "median_delay_s": 1.0, "p95_delay_s": 1.5},
    "fixed": {"polls": 0.9, "median_delay_s": 1.0},
}


@dataclass(frozen=True)
class Task:
    regions: int
    duration: float
    age: float


@dataclass(frozen=True)
class Polled:
    polls: int
    delay: float
    #: When each poll was made, in seconds after submission (the fleet bench replays them).
    times: tuple[float, ...] = ()


def tutorial(task: Task) -> Polled:
    """The tutorial's loop: polls at 0, 1, 3, 7 ... s, never giving up."""
    at, wait, polls = 0.0, 1.0, 1
    while at < task.duration:
        at, wait, polls = at + wait, wait * 2, polls + 1
    return Polled(polls, at - task.duration)


@dataclass
class Project:
    """Our loop as the deployed product runs it, learning as it goes."""

    settings: StarterSettings
    rand: random.Random
    #: False: polled as a fresh deployment polls, nothing learnt from these tasks.
    learning: bool = True
    learnt: dict[str, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))

    def summary(self, kind: str) -> DurationSummary:
        return DurationSummary.from_days([(0.0, self.learnt[kind])])

    def run(self, task: Task) -> Polled:
        kind = task_kind(task.regions)
        start = plan_start(kind, self.summary(kind), None, task.age, self.settings.planning)
        due, woken = start.first_poll_at, task.age + start.first_wait_seconds
        polls, running_at, times = 0, 0.0, []
        while True:
            early, made_at = on_time(due, woken + TRANSITION_LATENCY)
            at = woken + TRANSITION_LATENCY + early
            polls += 1
            times.append(at)
            if at >= task.duration:
                self.learn(kind, Observation(running_at, at))
                return Polled(polls, at - task.duration, tuple(times))
            running_at = at
            progress = Progress(
                polls, made_at, plan=start.plan, running_seconds=made_at, answered_polls=polls
            )
            decision = next_poll(self.settings.planning.policy, progress, self.rand.random)
            if decision.give_up:
                return Polled(polls, math.inf, tuple(times))
            due = made_at + decision.interval_seconds
            woken = at + whole_wait(due, at)

    def learn(self, kind: str, observation: Observation) -> None:
        if not self.learning:
            return
        bins = self.learnt[kind]
        for index, share in observation.weights().items():
            bins[index] = bins.get(index, 0.0) + share


def template_settings(**overrides: str) -> StarterSettings:
    """The starter's settings (its planner and the policy after the plan) with the template's
    default parameters (environment variables in ``overrides`` changed)."""
    return StarterSettings.from_env({**function_environment("StarterFunction"), **overrides})


TIMING = Timing()


def model_duration(regions: int, rand: random.Random) -> float:
    base = TIMING.queue_delay_s + regions * TIMING.per_region_s
    return float(base * rand.lognormvariate(0.0, LOAD_SIGMA))


def realistic_tasks(count: int, rand: random.Random) -> list[Task]:
    tasks = []
    for _ in range(count):
        regions = rand.randint(1, 20)
        duration = model_duration(regions, rand)
        if rand.random() < SLOW_SHARE:
            duration = rand.uniform(duration, SLOW_UP_TO_SECONDS)
        tasks.append(Task(regions, duration, rand.uniform(*EVENT_AGE)))
    return tasks


def fixed_tasks(rand: random.Random) -> list[Task]:
    tasks = [
        Task(0, float(duration), rand.uniform(*EVENT_AGE))
        for duration in FIXED_DURATIONS
        for _ in range(FIXED_REPLICAS)
    ]
    rand.shuffle(tasks)
    return tasks


def figures(results: Sequence[Polled]) -> dict[str, float]:
    delays = sorted(result.delay for result in results)
    return {
        "polls": sum(result.polls for result in results),
        "median_delay_s": round(statistics.median(delays), 2),
        "p95_delay_s": round(delays[max(math.ceil(0.95 * len(delays)) - 1, 0)], 2),
        "mean_delay_s": round(statistics.fmean(delays), 2),
    }


def compare(tasks: Sequence[Task], ours: Callable[[Task], Polled]) -> dict[str, Any]:
    tutorial_figures = figures([tutorial(task) for task in tasks])
    project_figures = figures([ours(task) for task in tasks])
    ratios = {
        name: round(project_figures[name] / tutorial_figures[name], 2)
        if tutorial_figures[name]
        else (0.0 if not project_figures[name] else math.inf)
        for name in tutorial_figures
    }
    return {
        "tasks": len(tasks),
        "tutorial": tutorial_figures,
        "project": project_figures,
        "ratio": ratios,
    }


def workloads(seed: int = 20261129) -> tuple[dict[str, Any], StarterSettings]:
    """``fixed`` as a fresh deployment polls (nothing learnt), ``realistic`` after learning;
    for comparison, ``fixed`` without jitter, and after learning from those same tasks."""
    settings = template_settings()
    calm = template_settings(POLL_JITTER="0")
    fixed = fixed_tasks(random.Random(seed))
    learner = Project(settings, random.Random(seed + 2))
    rand = random.Random(seed + 3)
    for task in realistic_tasks(LEARNING_TASKS, rand):
        learner.run(task)
    spread = Project(settings, random.Random(seed + 4))
    for task in fixed:
        spread.run(task)
    return {
        "fixed": compare(fixed, Project(settings, random.Random(seed + 1), learning=False).run),
        "realistic": compare(realistic_tasks(REALISTIC_TASKS, rand), learner.run),
        "fixed_without_jitter": compare(fixed, Project(calm, random.Random(0), False).run),
        "fixed_after_learning": compare(fixed, spread.run),
    }, settings


def policy_table() -> None:
    results, settings = workloads()
    policy, planning = settings.planning.policy, settings.planning
    print(
        "\n## 1. Polling, side by side with the tutorial (template defaults: first poll "
        f"{planning.first_poll_seconds:g} s, then {policy.initial_seconds:g} s x"
        f"{policy.multiplier:g} to {policy.max_interval_seconds:g} s, jitter {policy.jitter:g}, "
        f"a poll worth {planning.poll_worth_seconds:g} s of delay)"
    )
    print(
        f"{'workload':>20} {'tasks':>6} | {'polls: tutorial':>15} {'ours':>6} {'ratio':>6} "
        f"{'target':>6} | {'median delay':>12} {'ours':>6} {'ratio':>6} {'target':>6} | "
        f"{'p95 delay':>9} {'ours':>6} {'ratio':>6} {'target':>6} | "
        f"{'mean delay':>10} {'ours':>6} {'ratio':>6} {'':>6}"
    )
    for name, result in results.items():
        cells = [f"{name:>20} {result['tasks']:>6}"]
        figures_shown = (("polls", 15), ("median_delay_s", 12), ("p95_delay_s", 9))
        for figure, width in (*figures_shown, ("mean_delay_s", 10)):
            target = TARGETS.get(name, {}).get(figure)
            goal = f"<={target:g}" if target else ""
            cells.append(
                f"{result['tutorial'][figure]:>{width}g} {result['project'][figure]:>6g} "
                f"{result['ratio'][figure]:>6.2f} {goal:>6}"
            )
        print(" | ".join(cells))
    per_poll = TRANSITIONS_PER_POLL * prices.TRANSITION * 1000
    print(
        f"each poll: one Aspose call and {TRANSITIONS_PER_POLL} state transitions "
        f"(${per_poll:.3f} per 1,000 polls)"
    )
    durations_table(settings)
    write(results, settings)


def durations_table(settings: StarterSettings) -> None:
    """Per fixed duration, without jitter and with nothing learnt: where each loop polls."""
    print(
        f"{'task takes':>10} | {'ours: polls':>11} {'late by':>8} | {'tutorial':>8} {'late by':>8}"
    )
    calm = template_settings(POLL_JITTER="0")
    for duration in FIXED_DURATIONS:
        task = Task(0, float(duration), 0.5)
        ours = Project(calm, random.Random(0)).run(task)
        theirs = tutorial(task)
        print(
            f"{duration:>9}s | {ours.polls:>11} {ours.delay:>7.1f}s | "
            f"{theirs.polls:>8} {theirs.delay:>7.1f}s"
        )
    del settings


def write(results: dict[str, Any], settings: StarterSettings) -> None:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "workloads": results,
        "targets": TARGETS,
        "model": {
            "durations": "emulator timing (queue_delay_s + regions x per_region_s) x "
            f"lognormal(0, {LOAD_SIGMA}); realistic: regions 1-20, {SLOW_SHARE:.0%} slow "
            f"(uniform up to {SLOW_UP_TO_SECONDS:g} s), after {LEARNING_TASKS} learning tasks",
            "tutorial": "polls at 0, 1, 3, 7 ... s; counted as if it kept doubling",
            "project": f"template defaults; event age {EVENT_AGE[0]}-{EVENT_AGE[1]} s; "
            f"{TRANSITION_LATENCY} s per Wait-to-poll transition",
            "fixed_replicas": FIXED_REPLICAS,
        },
        "settings": {
            "poll_first_seconds": settings.planning.first_poll_seconds,
            "poll_worth_seconds": settings.planning.poll_worth_seconds,
            "poll_initial_seconds": settings.planning.policy.initial_seconds,
            "poll_multiplier": settings.planning.policy.multiplier,
            "poll_max_interval_seconds": settings.planning.policy.max_interval_seconds,
            "poll_jitter": settings.planning.policy.jitter,
        },
    }
    OUTPUT.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"written: {OUTPUT}")
