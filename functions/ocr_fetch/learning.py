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

import functools
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ocr_fetch.polling import PollingPolicy, base_interval, max_gap, whole_wait

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
#: Plans are made with delay priced at these multiples of ``1 / poll_worth_seconds`` in turn,
#: until one is expected to be no later than the defaults.
PRICE_FACTORS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
#: Delay on a task up to this long counts in full seconds; on longer ones in proportion.
FELT_SECONDS = 10.0
#: The least share of tasks a plan assumes may still be running at any time: history never
#: rules out a task slower than all it has seen, so a poll after the last one seen is not free.
UNSEEN_SHARE = 0.01


#: One day of one kind counts as at most this many tasks, however many it recorded: no single day,
#: burst or client owns a history.
MAX_DAY_WEIGHT = 200.0


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


def history_key(scope: str, kind: str) -> str:
    """Where a kind's history is kept for one scope (``tenant:…`` or ``source:…``): each
    submitter teaches only its own tasks' polling."""
    return f"{scope}|{kind}"


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
        """Combine per-day bins (``(age in days, {bin: weight})``), each aged and counted as at
        most :data:`MAX_DAY_WEIGHT` tasks; anything that is not a finite, non-negative weight of
        a known bin is left out."""
        weights = [0.0] * BINS
        for age, bins in days:
            day = _valid_weights(bins)
            total = sum(day.values())
            factor = 0.5 ** (max(age, 0.0) / half_life_days)
            if total > MAX_DAY_WEIGHT:
                factor *= MAX_DAY_WEIGHT / total
            for index, weight in day.items():
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


def _valid_weights(bins: Mapping[int, object]) -> dict[int, float]:
    valid: dict[int, float] = {}
    for index, value in bins.items():
        weight = _weight(value)
        if 0 <= index < BINS and weight is not None:
            valid[index] = weight
    return valid


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
    #: With nothing learnt, the first poll comes this long after submission (or at once when the
    #: task is older): the service queues each task about a second before working on it, so an
    #: earlier poll could only answer "Pending".
    first_poll_seconds: float = 1.0

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first inconsistent field."""
        if not self.poll_worth_seconds > 0:
            raise ValueError("poll_worth_seconds must be positive")
        if self.max_first_wait_seconds < 0:
            raise ValueError("max_first_wait_seconds must not be negative")
        if not 0 <= self.first_poll_seconds <= self.max_first_wait_seconds:
            raise ValueError("first_poll_seconds must be between 0 and max_first_wait_seconds")


def plan_polls(
    summary: DurationSummary,
    age_seconds: float,
    settings: PlanSettings = PlanSettings(),
) -> tuple[int, ...]:
    """The seconds after submission at which to poll, for a task ``age_seconds`` old now; empty
    when nothing is known."""
    if summary.total <= 0:
        return ()
    return _plan(summary, max(math.ceil(age_seconds), 0), settings)


@functools.lru_cache(maxsize=256)
def _plan(summary: DurationSummary, earliest: int, settings: PlanSettings) -> tuple[int, ...]:
    """:func:`plan_polls` for whole seconds of age. Cached: a warm starter reads a kind's history
    once a minute (:mod:`ocr_fetch.history`) and plans every task of that kind and age from the
    same summary, so a burst of submissions costs one plan, not one each.

    A task older than the plan's horizon gets none: it is polled at once, then by the policy.
    So the planner's work (quadratic in the horizon) is bounded whatever the event's age."""
    if earliest >= HORIZON_SECONDS:
        return ()
    planner = _Planner(summary.per_second(HORIZON_SECONDS), settings)
    # Never later than the defaults on average: a plan whose expected (felt) delay exceeds the
    # geometric defaults' over the same history is made again with delay priced higher.
    default_delay = planner.delay(planner.defaults(earliest, settings.first_poll_seconds))
    for factor in PRICE_FACTORS:
        plan = planner.cheapest(earliest, planner.delay_cost * factor)
        if planner.delay(plan) <= default_delay + 1e-9:
            break
    return plan[:MAX_PLAN_POLLS]


def felt(seconds: float) -> float:
    """How much a second of delay counts for a task finishing after ``seconds``: fully up to
    :data:`FELT_SECONDS`, then less as the task is longer (one second late on a ten-minute task
    is not what it is on a two-second one). So a plan over widely spread durations polls
    sooner for the short ones and sparsely for the long, as a doubling loop does."""
    return min(1.0, FELT_SECONDS / max(seconds, 1.0))


class _Planner:
    """Dynamic programming over whole seconds: the poll times that minimise the expected polls
    plus the expected delay (priced), the geometric policy polling whatever the plan leaves."""

    def __init__(self, mass: Sequence[float], settings: PlanSettings) -> None:
        self.horizon = len(mass) - 1
        self.delay_cost = 1.0 / settings.poll_worth_seconds
        self.policy = settings.policy
        self.max_first_wait = settings.max_first_wait_seconds
        #: The widest gap allowed after a poll at each second (:func:`max_gap`), whatever the
        #: history says: the bound on the harm any history can do.
        self.gap = [max_gap(self.policy, second) for second in range(self.horizon + 1)]
        # Prefix sums, for the cost between two polls in constant time: the finished share; the
        # share weighted by how much a second of its delay is felt (:func:`felt`); and that
        # weighted by its finishing time (the middle of each second).
        self.finished, self.felt, self.moment = [0.0], [0.0], [0.0]
        for second, share in enumerate(mass):
            weighted = share * felt(second)
            self.finished.append(self.finished[-1] + share)
            self.felt.append(self.felt[-1] + weighted)
            self.moment.append(self.moment[-1] + weighted * max(second - 0.5, 0.0))

    def left(self, after: int) -> float:
        """The share still running after the poll at ``after`` (-1: before any poll)."""
        return max(1.0 - self.finished[after + 1], UNSEEN_SHARE)

    def felt_delay(self, after: int, at: int) -> float:
        """The felt delay of whatever finishes after the poll at ``after`` and by ``at``."""
        low = after + 1
        found = self.felt[at + 1] - self.felt[low]
        return at * found - (self.moment[at + 1] - self.moment[low])

    def after_plan(self, last: int, price: float) -> float:
        """What the geometric policy costs after a plan ending at ``last``."""
        times = self.extended([last])
        cost = sum(
            self.left(after) + price * self.felt_delay(after, at)
            for after, at in itertools.pairwise(times)
        )
        cap = self.policy.max_interval_seconds
        return cost + self.left(self.horizon) * (1.0 + price * felt(self.horizon) * cap / 2)

    def delay(self, plan: Sequence[int]) -> float:
        """The expected felt delay of polling at ``plan``, then by the geometric policy."""
        times = [-1, *self.extended(plan)]
        return sum(self.felt_delay(after, at) for after, at in itertools.pairwise(times))

    def extended(self, plan: Sequence[int]) -> list[int]:
        """``plan`` followed by the geometric policy's polls up to the horizon."""
        times = [min(at, self.horizon) for at in plan]
        while times[-1] < self.horizon:
            wait = max_gap(self.policy, times[-1])
            times.append(min(math.floor(times[-1] + wait), self.horizon))
        return times

    def defaults(self, earliest: int, first_poll_seconds: float) -> list[int]:
        """Where the geometric defaults poll with nothing learnt, up to the horizon."""
        times = [max(math.ceil(first_poll_seconds), earliest)]
        while times[-1] < self.horizon:
            wait = base_interval(self.policy, len(times))
            times.append(min(math.ceil(times[-1] + wait), self.horizon))
        return times

    def cheapest(self, earliest: int, price: float) -> tuple[int, ...]:
        finished, felt_, moment = self.finished, self.felt, self.moment
        best: dict[int, float] = {}
        previous: dict[int, int] = {}
        end = next(
            (at for at in range(earliest, self.horizon) if self.left(at) <= UNSEEN_SHARE),
            self.horizon,
        )
        gap = self.gap
        for at in range(earliest, end + 1):
            felt_at, moment_at = felt_[at + 1], moment[at + 1]
            choice, cost = -1, 1.0 + price * (at * felt_at - moment_at)
            if at > earliest + self.max_first_wait:
                cost = math.inf  # the first poll may come no later than this
            for after in range(earliest, at):
                if at - after > gap[after]:
                    continue  # wider than any plan may wait (the bound on every history)
                # self.step(after, at), inlined: this loop is the planner's whole cost.
                delay = at * (felt_at - felt_[after + 1]) - (moment_at - moment[after + 1])
                candidate = best[after] + max(1.0 - finished[after + 1], UNSEEN_SHARE)
                candidate += price * delay
                if candidate < cost:
                    choice, cost = after, candidate
            best[at], previous[at] = cost, choice
        # The plan ends by the time all but the unseen share has finished: after that history
        # knows nothing, and the geometric policy polls.
        last = min(best, key=lambda at: best[at] + self.after_plan(at, price))
        plan = [last]
        while previous[plan[-1]] >= 0:
            plan.append(previous[plan[-1]])
        return tuple(reversed(plan))


@dataclass(frozen=True)
class PollStart:
    """How an execution starts polling: its kind (for learning), its plan, and when its first
    poll is due (seconds after submission; at once when the task is already that old)."""

    kind: str
    plan: tuple[int, ...] = ()
    first_poll_at: float = 0.0
    age_seconds: float = 0.0

    @property
    def first_wait_seconds(self) -> int:
        """The whole seconds the Wait state waits (the check function makes up the fraction)."""
        return whole_wait(self.first_poll_at, self.age_seconds)

    def to_state(self) -> dict[str, Any]:
        """The execution's initial ``poll`` state (the check function's output shape)."""
        return {
            "status": "NotChecked",
            "polls": 0,
            "waitSeconds": self.first_wait_seconds,
            "pollAt": round(max(self.first_poll_at, self.age_seconds), 3),
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
    """The start of polling for a task of ``kind``, ``age_seconds`` after its submission: the
    plan's first time, or with nothing known the configured first poll."""
    plan = plan_polls(what_is_known(history, expected_seconds), age_seconds, settings)
    first = plan[0] if plan else settings.first_poll_seconds
    return PollStart(kind, plan, max(float(first), age_seconds), max(age_seconds, 0.0))
