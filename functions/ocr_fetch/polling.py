"""When to poll next, or when to give up: a pure function of the attempt, the time and the policy.

Defaults, from the timings in the reference: most tasks finish in "a second or two" to "several
seconds", official SDK tests wait 3-40 s, and every poll may cost the user quota (the free tier is
150 calls a month). So the first wait is short (2 s), and intervals double (2, 4, 8, 16, 32, 64 s)
to cover the usual range in six polls (126 s), then settle at a 120 s cap so a slow task costs one
call every two minutes. The one-hour deadline stays far inside the 24-hour retention (results are
still there when we give up, so a deliberate re-fetch can find them), and 40 polls bound an
execution at roughly 40 x 10 = 400 history events, far below Step Functions' 25,000. With nothing
learnt, the first poll comes 1 s after submission (:class:`ocr_fetch.learning.PlanSettings`), so
the polls fall at 1, 3, 7, 15 ... s: the tutorial's times without its poll at 0 s, which never
finds a task done. What was learnt replaces these first polls with a plan
(:mod:`ocr_fetch.learning`).

Times are kept, not drifted: the Wait state waits the whole seconds (:func:`whole_wait`), the check
function makes up the fraction, and a poll within a second of its due time counts as made then
(:func:`on_time`), so each poll's latency does not push every later one back.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class GiveUpReason(StrEnum):
    DEADLINE = "DeadlineReached"
    POLL_BUDGET = "PollBudgetExhausted"


@dataclass(frozen=True)
class PollingPolicy:
    """Geometric intervals: ``initial_seconds`` times ``multiplier`` up to the interval cap.

    ``jitter`` spreads each wait at random over that fraction of it, centred on the wait (0.2:
    within 10 % either way; 0 = none), so many tasks submitted together spread their polls
    without polling later on average. ``deadline_seconds`` counts from submission.
    """

    initial_seconds: float = 2.0
    multiplier: float = 2.0
    max_interval_seconds: float = 120.0
    jitter: float = 0.0
    deadline_seconds: float = 3600.0
    max_polls: int = 40

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
        if self.deadline_seconds > 23 * 3600:
            raise ValueError("deadline_seconds must stay inside the 24-hour result retention")
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


def growing_interval(policy: PollingPolicy, polls_done: int, elapsed_seconds: float) -> float:
    """The un-jittered wait after ``polls_done`` polls, ``elapsed_seconds`` after submission:
    geometric in the polls made, and never shorter than ``multiplier - 1`` times the time
    elapsed, so polling after a learnt plan keeps growing from where the plan ended."""
    grown = max(elapsed_seconds, 0.0) * (policy.multiplier - 1)
    return min(max(base_interval(policy, polls_done), grown), policy.max_interval_seconds)


@dataclass(frozen=True)
class Progress:
    """Where a task's polling stands: polls made, seconds since submission, the service's
    ``Retry-After`` on the last poll if any, and the learnt plan (seconds after submission)."""

    polls_done: int
    elapsed_seconds: float
    retry_after_seconds: float | None = None
    plan: Sequence[int] = ()


def next_poll(
    policy: PollingPolicy,
    progress: Progress,
    rand: Callable[[], float] = random.random,
) -> PollDecision:
    """Decide the wait after ``progress.polls_done`` polls.

    The next time of a learnt plan (:mod:`ocr_fetch.learning`) comes first; past the plan,
    :func:`growing_interval`; without a plan, the geometric :func:`base_interval`. Jitter moves
    the wait by up to half the policy's fraction either way, so tasks submitted together spread
    their polls without waiting longer on average. A ``Retry-After`` from the service is honoured
    when it is longer. The last wait is shortened so the final poll lands on the deadline, never
    past it.
    """
    polls_done, elapsed_seconds = progress.polls_done, progress.elapsed_seconds
    retry_after_seconds = progress.retry_after_seconds
    if polls_done >= policy.max_polls:
        return PollDecision(0, GiveUpReason.POLL_BUDGET)
    remaining = policy.deadline_seconds - max(elapsed_seconds, 0.0)
    if remaining < 1:
        return PollDecision(0, GiveUpReason.DEADLINE)
    planned = next((at for at in progress.plan if at >= elapsed_seconds + 1), None)
    if planned is not None:
        interval = planned - elapsed_seconds
    elif progress.plan:
        interval = growing_interval(policy, polls_done, elapsed_seconds)
    else:
        interval = base_interval(policy, polls_done)
    if policy.jitter:
        interval += interval * policy.jitter * (rand() - 0.5)
    interval = min(interval, policy.max_interval_seconds)
    if retry_after_seconds is not None and retry_after_seconds > interval:
        interval = retry_after_seconds
        if interval > remaining:
            # The service asks us to come back after the deadline: there is no point in waiting.
            return PollDecision(0, GiveUpReason.DEADLINE)
    return PollDecision(max(1.0, min(interval, remaining)))


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
