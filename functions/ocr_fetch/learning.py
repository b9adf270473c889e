"""Polling that learns: when tasks like this one have been finishing, and when to poll them.

What is learnt. Each completed task says when it finished, to within its polls: after the last
poll that saw it running and by the poll that saw it ``Completed``. Those intervals, for tasks of
the same *kind* (how many regions were submitted: the service's time grows with them), make a
histogram of durations (:class:`DurationSummary`), kept per day and aged (a day counts half as
much every :data:`HALF_LIFE_DAYS`), so a service that speeds up or slows down is followed within
days, and no single day, burst or client can own it for long.

What is decided. A *plan*: the seconds after submission at which to poll (:func:`plan_polls`).
Each poll costs a paid API call and three state transitions; each second a finished task waits
to be noticed costs the user. The plan minimises, over the learnt distribution, the expected
number of polls plus the expected delay priced at one poll per ``poll_worth_seconds`` (dynamic
programming over whole seconds, as Wait states count them). Where the distribution is tight the
plan is one poll just after the usual finish; where it is wide, polls sit where tasks finish.
After the plan, polling falls back to the geometric policy (:mod:`ocr_fetch.polling`), which also
bounds what any history can do: the first poll is never later than ``max_first_wait_seconds``.

When nothing is known. Too little history (fewer than :data:`MIN_SAMPLES` tasks' worth) gives no
plan: the geometric defaults, exactly as before learning. A submitter's ``expectedSeconds`` hint
counts as :data:`HINT_WEIGHT` tasks finishing within 40 % of it, alone or beside the history.

Why it resists bad history. Every observation weighs one task, whatever it claims; values that
are not finite and non-negative are dropped when read; durations past the last bin count there
and no further; and the plan is bounded as above. A poisoned kind can delay its own first poll by
at most ``max_first_wait_seconds``, and ages out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ocr_fetch.polling import PollingPolicy, growing_interval

#: Histogram edges in seconds; bin ``i`` holds durations in ``(EDGES[i], EDGES[i + 1]]``, the
#: last one everything longer. Whole seconds where tasks usually finish, coarser after.
EDGES: tuple[float, ...] = (
    *range(0, 31),
    35, 40, 45, 50, 60, 75, 90, 105, 120, 150, 180, 240, 300, 420, 600, 900, 1800, 3600,
)  # fmt: skip
BINS = len(EDGES)
#: A kind's history counts once it holds this many tasks' worth (after ageing).
MIN_SAMPLES = 20.0
#: How much a submitter's ``expectedSeconds`` counts, in tasks.
HINT_WEIGHT = 10.0
HINT_SPREAD = 0.4
#: A day of history counts half as much as the day after it, every this many days.
HALF_LIFE_DAYS = 3.0
#: Days of history read.
HISTORY_DAYS = 14
#: The plan covers whole seconds up to this; later, the geometric policy polls.
HORIZON_SECONDS = 180
#: Most polls a plan holds (it travels in the execution's state).
MAX_PLAN_POLLS = 12


_KIND_RANGES = ((13, 16), (17, 24), (25, 32), (33, 48), (49, 64), (65, 96), (97, 128))


def task_kind(region_count: int) -> str:
    """The kind of a task, for learning: its number of regions (0 = not said), in buckets that
    widen past 12."""
    if region_count <= 12:
        return f"regions-{max(region_count, 0)}"
    for low, high in _KIND_RANGES:
        if region_count <= high:
            return f"regions-{low}-{high}"
    return "regions-129+"


@dataclass(frozen=True)
class Observation:
    """A task finished after ``lower`` and by ``upper`` seconds from submission."""

    lower: float
    upper: float

    def weights(self) -> dict[int, float]:
        """One task's weight, spread over the bins the interval covers (by overlap)."""
        lower = min(max(self.lower, 0.0), EDGES[-1])
        upper = min(max(self.upper, lower), EDGES[-1] + 1)
        if upper - lower < 1e-9:
            return {_bin_of(upper): 1.0}
        shares: dict[int, float] = {}
        for index in range(BINS):
            start = EDGES[index]
            end = EDGES[index + 1] if index + 1 < BINS else math.inf
            overlap = min(upper, end) - max(lower, start)
            if overlap > 0:
                shares[index] = overlap / (upper - lower)
        return shares


def _bin_of(seconds: float) -> int:
    for index in range(BINS - 1):
        if seconds <= EDGES[index + 1]:
            return index
    return BINS - 1


@dataclass(frozen=True)
class DurationSummary:
    """Aged weights per bin for one kind of task."""

    weights: tuple[float, ...] = (0.0,) * BINS

    @property
    def total(self) -> float:
        return sum(self.weights)

    @classmethod
    def from_days(
        cls,
        days: Iterable[tuple[float, Mapping[int, object]]],
        half_life_days: float = HALF_LIFE_DAYS,
    ) -> DurationSummary:
        """Combine per-day bins (``(age in days, {bin: weight})``), each aged; anything that is
        not a finite, non-negative weight of a known bin is left out."""
        weights = [0.0] * BINS
        for age, bins in days:
            factor = 0.5 ** (max(age, 0.0) / half_life_days)
            for index, value in bins.items():
                weight = _weight(value)
                if 0 <= index < BINS and weight is not None:
                    weights[index] += weight * factor
        return cls(tuple(weights))

    def plus(self, other: DurationSummary) -> DurationSummary:
        return DurationSummary(
            tuple(a + b for a, b in zip(self.weights, other.weights, strict=True))
        )

    def scaled(self, factor: float) -> DurationSummary:
        return DurationSummary(tuple(w * factor for w in self.weights))

    def per_second(self, horizon: int) -> list[float]:
        """The share of tasks finishing in each whole second up to ``horizon``: ``[0]`` by 0 s,
        ``[s]`` in ``(s - 1, s]``; bins are spread evenly inside, the rest is beyond."""
        total = self.total
        mass = [0.0] * (horizon + 1)
        if total <= 0:
            return mass
        for index, weight in enumerate(self.weights):
            if not weight:
                continue
            start = EDGES[index]
            end = EDGES[index + 1] if index + 1 < BINS else start + 1
            per = weight / total / (end - start)
            for second in range(math.floor(start) + 1, min(math.ceil(end), horizon) + 1):
                mass[second] += per * (min(end, second) - max(start, second - 1))
        return mass


def _weight(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def hint_summary(expected_seconds: float) -> DurationSummary:
    """A submitter's ``expectedSeconds`` as :data:`HINT_WEIGHT` tasks finishing around it."""
    expected = min(max(expected_seconds, 1.0), EDGES[-1])
    spread = Observation(expected * (1 - HINT_SPREAD), expected * (1 + HINT_SPREAD)).weights()
    weights = [0.0] * BINS
    for index, share in spread.items():
        weights[index] = share * HINT_WEIGHT
    return DurationSummary(tuple(weights))


def what_is_known(history: DurationSummary, expected_seconds: float | None) -> DurationSummary:
    """What a plan rests on: the kind's history once it is large enough, and the hint if given."""
    known = history if history.total >= MIN_SAMPLES else DurationSummary()
    return known.plus(hint_summary(expected_seconds)) if expected_seconds else known


@dataclass(frozen=True)
class PlanSettings:
    """How a plan is made: what a poll is worth in seconds of delay, the first poll's latest
    time, and the geometric policy that polls after the plan."""

    poll_worth_seconds: float = 2.0
    max_first_wait_seconds: int = 60
    policy: PollingPolicy = field(default_factory=PollingPolicy)


def plan_polls(
    summary: DurationSummary,
    age_seconds: float,
    settings: PlanSettings = PlanSettings(),
) -> tuple[int, ...]:
    """The seconds after submission at which to poll, for a task ``age_seconds`` old now; empty
    when nothing is known."""
    if summary.total <= 0:
        return ()
    earliest = max(math.ceil(age_seconds), 0)
    horizon = max(HORIZON_SECONDS, earliest + 1)
    plan = _Planner(summary.per_second(horizon), settings).cheapest(earliest)
    first_latest = earliest + settings.max_first_wait_seconds
    if plan[0] > first_latest:
        plan = (first_latest, *(t for t in plan if t > first_latest))
    return plan[:MAX_PLAN_POLLS]


class _Planner:
    """Dynamic programming over whole seconds: the poll times that minimise the expected polls
    plus the expected delay (priced), the geometric policy polling whatever the plan leaves."""

    def __init__(self, mass: Sequence[float], settings: PlanSettings) -> None:
        self.horizon = len(mass) - 1
        self.delay_cost = 1.0 / settings.poll_worth_seconds
        self.policy = settings.policy
        # Prefix sums: finished share, and share-weighted finishing times (the middle of each
        # second), for the delay between two polls in constant time.
        self.finished, self.moment = [0.0], [0.0]
        for second, share in enumerate(mass):
            self.finished.append(self.finished[-1] + share)
            self.moment.append(self.moment[-1] + share * max(second - 0.5, 0.0))

    def left(self, after: int) -> float:
        """The share still running after the poll at ``after`` (-1: before any poll)."""
        return 1.0 - self.finished[after + 1]

    def step(self, after: int, at: int) -> float:
        """The cost of polling at ``at`` after polling at ``after``: the poll is made when the
        task was still running, and delays whatever finished in between."""
        low = after + 1
        found = self.finished[at + 1] - self.finished[low]
        delay = at * found - (self.moment[at + 1] - self.moment[low])
        return self.left(after) + self.delay_cost * delay

    def after_plan(self, last: int) -> float:
        """What the geometric policy costs after a plan ending at ``last``."""
        cost, at = 0.0, last
        while at < self.horizon:
            wait = growing_interval(self.policy, 1, at)
            following = min(math.ceil(at + wait), self.horizon)
            cost += self.step(at, following)
            at = following
        cap = self.policy.max_interval_seconds
        return cost + self.left(self.horizon) * (1.0 + self.delay_cost * cap / 2)

    def cheapest(self, earliest: int) -> tuple[int, ...]:
        finished, moment, price = self.finished, self.moment, self.delay_cost
        best: dict[int, float] = {}
        previous: dict[int, int] = {}
        for at in range(earliest, self.horizon + 1):
            done_at, moment_at = finished[at + 1], moment[at + 1]
            choice, cost = -1, 1.0 + price * (at * done_at - moment_at)
            for after in range(earliest, at):
                # self.step(after, at), inlined: this loop is the planner's whole cost.
                done_after = finished[after + 1]
                delay = at * (done_at - done_after) - (moment_at - moment[after + 1])
                candidate = best[after] + (1.0 - done_after) + price * delay
                if candidate < cost:
                    choice, cost = after, candidate
            best[at], previous[at] = cost, choice
        last = min(best, key=lambda at: best[at] + self.after_plan(at))
        plan = [last]
        while previous[plan[-1]] >= 0:
            plan.append(previous[plan[-1]])
        return tuple(reversed(plan))


@dataclass(frozen=True)
class PollStart:
    """How an execution starts polling: its kind (for learning), its plan, and the wait before
    its first poll (0: at once)."""

    kind: str
    plan: tuple[int, ...] = ()
    first_wait_seconds: int = 0

    def to_state(self) -> dict[str, Any]:
        """The execution's initial ``poll`` state (the check function's output shape)."""
        return {
            "status": "NotChecked",
            "polls": 0,
            "waitSeconds": self.first_wait_seconds,
            "giveUp": False,
            "elapsedSeconds": 0,
            "plan": list(self.plan),
            "kind": self.kind,
            "runningAt": 0,
        }


def plan_start(
    kind: str,
    history: DurationSummary,
    expected_seconds: float | None,
    age_seconds: float,
    settings: PlanSettings = PlanSettings(),
) -> PollStart:
    """The start of polling for a task of ``kind``, ``age_seconds`` after its submission."""
    plan = plan_polls(what_is_known(history, expected_seconds), age_seconds, settings)
    first_wait = max(math.ceil(plan[0] - age_seconds), 0) if plan else 0
    return PollStart(kind, plan, first_wait)
