"""When to poll next, or when to give up: a pure function of the progress and the policy.

The defaults' reasons (first wait, doubling, cap, deadlines) are in :class:`PollingPolicy`.
Times are kept, not drifted: the Wait state waits the whole seconds (:func:`whole_wait`), the check
function makes up the fraction, and a poll within a second of its due time counts as made then
(:func:`on_time`), so each poll's latency does not push every later one back.

Two clocks bound a task, because only a definite answer may end it early. The *running* deadline
(``deadline_seconds``, and the ``max_polls`` budget) counts only what the service said: the time
after an answer that the task is still running, and those answers. Time without an answer (429,
5xx, timeouts, an open breaker) counts only against the results' *lifetime* (``lifetime_seconds``
from submission; Aspose keeps results 24 hours), so an outage of any length short of that never
ends a task whose results are still there. A wait never goes past either clock: the last poll
lands on it, then the task gives up, saying which clock ended it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

#: Aspose keeps a task's results this long after submission.
RESULTS_KEPT_SECONDS = 86_400.0
#: Running seconds are sums of floats: a clock within this of its limit has not reached it.
_SLACK = 1e-6


class GiveUpReason(StrEnum):
    #: The service still said "running" after ``deadline_seconds`` of saying so.
    DEADLINE = "DeadlineReached"
    #: The service still said "running" after ``max_polls`` such answers.
    POLL_BUDGET = "PollBudgetExhausted"
    #: The results' lifetime was reached (the last poll may have had no answer).
    LIFETIME = "ResultsLifetimeReached"

    @property
    def service_said_running(self) -> bool:
        """Whether the service itself said the task was still running when we gave up."""
        return self is not GiveUpReason.LIFETIME


@dataclass(frozen=True)
class PollingPolicy:
    """Geometric intervals: ``initial_seconds`` times ``multiplier`` up to the interval cap.

    Defaults, from the timings in the reference: most tasks finish in "a second or two" to
    "several seconds", official SDK tests wait 3-40 s, and every poll may cost the user quota. So
    the first wait is short (2 s) and intervals double (2, 4 ... 64 s, six polls cover 126 s),
    then settle at a 120 s cap: a slow task costs one call every two minutes. ``jitter`` spreads
    each wait at random over that fraction of it, centred on the wait (0.05: within 2.5 % either
    way; 0 = none), so tasks submitted together spread their polls without polling later on
    average.

    ``deadline_seconds`` and ``max_polls`` count what the service said (see the module): an hour
    of "still running", 40 such answers, about 400 history events, far below Step Functions'
    25,000. ``lifetime_seconds`` counts from submission: 23 hours, inside the 24 hours Aspose keeps
    results, so a deliberate re-fetch can still find them.
    """

    initial_seconds: float = 2.0
    multiplier: float = 2.0
    max_interval_seconds: float = 120.0
    jitter: float = 0.05
    deadline_seconds: float = 3600.0
    max_polls: int = 40
    lifetime_seconds: float = 82_800.0

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first inconsistent field."""
        if self.initial_seconds < 1:
            raise ValueError("initial_seconds must be at least 1 (Wait states count whole seconds)")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1 (intervals never shrink)")
        if self.max_interval_seconds < self.initial_seconds:
            raise ValueError("max_interval_seconds must be at least initial_seconds")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.deadline_seconds <= 0:
            raise ValueError("deadline_seconds must be positive")
        if not self.deadline_seconds <= self.lifetime_seconds <= RESULTS_KEPT_SECONDS:
            raise ValueError(
                "lifetime_seconds must be at least deadline_seconds and stay inside the "
                f"{RESULTS_KEPT_SECONDS} s Aspose keeps results"
            )
        if self.max_polls < 1:
            raise ValueError("max_polls must be at least 1")


@dataclass(frozen=True)
class PollDecision:
    """Poll again ``interval_seconds`` from now, or give up for ``give_up_reason``.

    Wait states count whole seconds: the state machine waits :attr:`wait_seconds` (the interval
    rounded down) and the check function makes up the fraction before it polls (at most a
    second), so polls land when they were planned rather than up to a second later.
    """

    interval_seconds: float
    give_up_reason: GiveUpReason | None = None

    @property
    def wait_seconds(self) -> int:
        return math.floor(self.interval_seconds)

    @property
    def give_up(self) -> bool:
        return self.give_up_reason is not None


def base_interval(policy: PollingPolicy, polls_done: int) -> float:
    """The un-jittered interval after ``polls_done`` polls (the first wait follows poll 1)."""
    exponent = max(polls_done - 1, 0)
    # Bounded exponent: the cap is reached long before a float overflows.
    try:
        interval = policy.initial_seconds * policy.multiplier ** min(exponent, 1000)
    except OverflowError:
        interval = math.inf
    return min(interval, policy.max_interval_seconds)


def max_gap(policy: PollingPolicy, elapsed_seconds: float) -> float:
    """The widest wait after a poll ``elapsed_seconds`` after submission: the first wait plus
    ``multiplier - 1`` times the time elapsed, at most the cap. The geometric defaults keep within
    it, and so does every plan, whatever polling learnt.

    So a task that finishes at ``d`` seconds (after the first poll) is found by
    ``d + max_gap(d)``: with the defaults, by ``2 d + 2`` s, and two minutes late at most. That is
    the worst case of a doubling loop, and all any history can do.
    """
    grown = policy.initial_seconds + max(elapsed_seconds, 0.0) * (policy.multiplier - 1)
    return min(grown, policy.max_interval_seconds)


@dataclass(frozen=True)
class Progress:
    """Where a task's polling stands: polls made, seconds since submission, the service's
    ``Retry-After`` on the last poll if any, the learnt plan (seconds after submission), and what
    the running deadline counts: seconds and polls for which the service said "running", and
    whether this poll got an answer about the task at all."""

    polls_done: int
    elapsed_seconds: float
    retry_after_seconds: float | None = None
    plan: Sequence[int] = ()
    running_seconds: float = 0.0
    answered_polls: int = 0
    answered: bool = True


def next_poll(
    policy: PollingPolicy,
    progress: Progress,
    rand: Callable[[], float] = random.random,
) -> PollDecision:
    """Decide the wait after ``progress.polls_done`` polls, or give up.

    The next time of a learnt plan (:mod:`ocr_fetch.learning`) comes first; past the plan,
    :func:`max_gap`; without a plan, the geometric :func:`base_interval`. Jitter moves the wait by
    up to half the policy's fraction either way, so tasks submitted together spread their polls
    without waiting longer on average. A ``Retry-After`` from the service is honoured when it is
    longer. No wait goes past a clock that still runs: the lifetime always, the running deadline
    after an answer that the task is running. So a ``Retry-After`` that reaches past the lifetime
    means one more poll at the lifetime, never giving up before it.
    """
    polls_done, elapsed_seconds = progress.polls_done, max(progress.elapsed_seconds, 0.0)
    retry_after_seconds = progress.retry_after_seconds
    left = policy.lifetime_seconds - elapsed_seconds
    if progress.answered:
        if progress.answered_polls >= policy.max_polls:
            return PollDecision(0, GiveUpReason.POLL_BUDGET)
        running_left = policy.deadline_seconds - max(progress.running_seconds, 0.0)
        if running_left < 1 - _SLACK:
            return PollDecision(0, GiveUpReason.DEADLINE)
        left = min(left, running_left)
    if policy.lifetime_seconds - elapsed_seconds < 1 - _SLACK:
        return PollDecision(0, GiveUpReason.LIFETIME)
    planned = next((at for at in progress.plan if at >= elapsed_seconds + 1), None)
    if planned is not None:
        interval = planned - elapsed_seconds
    elif progress.plan:
        interval = max_gap(policy, elapsed_seconds)
    else:
        interval = base_interval(policy, polls_done)
    if policy.jitter:
        interval += interval * policy.jitter * (rand() - 0.5)
    interval = min(interval, policy.max_interval_seconds)
    if retry_after_seconds is not None and retry_after_seconds > interval:
        interval = retry_after_seconds
    return PollDecision(max(1.0, min(interval, left)))


#: From a Wait state's end to the next poll's start (state transitions, the invoke): tens of
#: milliseconds on AWS. The Wait is this much short of the due time; the check function makes it
#: up.
WAIT_ALLOWANCE_SECONDS = 0.25
#: The most the check function waits for a poll's due time (a Wait state's rounding).
MAKE_UP_SECONDS = 1.0 + WAIT_ALLOWANCE_SECONDS


def whole_wait(due: float, now: float, allowance: float = WAIT_ALLOWANCE_SECONDS) -> int:
    """The Wait state's whole seconds from ``now`` towards a poll due at ``due`` (both seconds
    after submission), short of it by ``allowance`` (0 after a ``Retry-After``: never early)."""
    # A hair over the whole second: ``(now + 20) - now`` may come back as 19.999999...
    return max(math.floor(due - now - allowance + 1e-6), 0)


def on_time(due: float, now: float) -> tuple[float, float]:
    """For a poll due at ``due`` and about to be made at ``now``: the seconds to make up first,
    and when the poll counts as made. A poll within :data:`MAKE_UP_SECONDS` of its time counts
    as made on time, so a schedule keeps to its times instead of drifting by each poll's
    latency; a poll off its time (a retried invocation, a throttled one) counts when it is made.
    """
    early = due - now
    if 0 < early <= MAKE_UP_SECONDS:
        return early, due
    return 0.0, due if -MAKE_UP_SECONDS <= early <= 0 else now
