"""The polling policy, analytically: for tasks that take from 1 s to an hour, how many polls
(Aspose calls, which may cost quota), how late the result is noticed, and the Step Functions state
transitions it costs, against the tutorial's doubling loop and a fixed 5 s poll."""

from __future__ import annotations

from collections.abc import Callable

from ocr_fetch.polling import PollingPolicy, Progress, next_poll
from tests.bench import prices

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
        decision = next_poll(policy, Progress(polls, elapsed))
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
        cost = transitions * prices.TRANSITION * 1000
        print(
            f"{duration:>9}s | {p:>11} {_late(late):>8} {cost:>12.3f} | "
            f"{tp:>15} {_late(tlate):>8} | {fp:>16} {_late(flate):>8}"
        )
    worst = policy.max_polls * 10
    print(f"history events per execution at most ~{worst} (limit 25,000)")


def _late(seconds: float) -> str:
    return "gave up" if seconds == float("inf") else f"{seconds:.0f}s"
