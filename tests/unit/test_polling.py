"""The polling policy: growing waits, caps, the running deadline and the lifetime, budget,
Retry-After, jitter."""

from __future__ import annotations

import functools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocr_fetch.polling import (
    GiveUpReason,
    PollingPolicy,
    Progress,
    base_interval,
    next_poll,
    on_time,
    whole_wait,
)

policies = st.builds(
    PollingPolicy,
    initial_seconds=st.floats(1, 30),
    multiplier=st.floats(1, 4),
    max_interval_seconds=st.floats(30, 600),
    jitter=st.floats(0, 0.9),
    deadline_seconds=st.floats(10, 23 * 3600),
    max_polls=st.integers(1, 500),
    lifetime_seconds=st.just(23 * 3600.0),
)
STEADY = PollingPolicy(jitter=0)


def test_defaults_grow_geometrically_to_the_cap() -> None:
    policy = STEADY
    waits = [next_poll(policy, Progress(n, 0)).wait_seconds for n in range(1, 10)]
    assert waits == [2, 4, 8, 16, 32, 64, 120, 120, 120]


def test_defaults_keep_an_execution_far_below_the_history_limit() -> None:
    policy = PollingPolicy()
    policy.validate()
    # about ten history events per poll (Task, Choice, Wait entered/exited, Lambda scheduled...)
    assert policy.max_polls * 10 < 25_000 / 10
    assert policy.deadline_seconds <= 24 * 3600 / 2
    assert policy.lifetime_seconds == 23 * 3600  # inside the 24 h Aspose keeps results


progresses = st.builds(
    Progress,
    polls_done=st.integers(1, 1000),
    elapsed_seconds=st.floats(0, 90_000),
    running_seconds=st.floats(0, 90_000),
    answered=st.booleans(),
).map(lambda p: Progress(**{**p.__dict__, "answered_polls": p.polls_done}))


@given(policies, progresses, st.floats(0, 1))
def test_never_exceeds_the_cap_the_deadline_or_the_lifetime(
    policy: PollingPolicy, progress: Progress, r: float
) -> None:
    polls, elapsed, running = (
        progress.polls_done,
        progress.elapsed_seconds,
        progress.running_seconds,
    )
    answered = progress.answered
    decision = next_poll(policy, progress, rand=lambda: r)
    if decision.give_up:
        assert decision.wait_seconds == 0
        assert answered or decision.give_up_reason is GiveUpReason.LIFETIME
        return
    assert 1 <= decision.wait_seconds <= max(1, int(policy.max_interval_seconds))
    assert elapsed + decision.wait_seconds <= max(policy.lifetime_seconds, elapsed + 1)
    if answered:
        assert running + decision.wait_seconds <= policy.deadline_seconds
        assert polls < policy.max_polls


@given(policies, st.integers(1, 10_000), st.floats(0, 82_799), st.floats(0, 10**6))
def test_no_answer_never_gives_up_before_the_lifetime(
    policy: PollingPolicy, polls: int, elapsed: float, retry_after: float
) -> None:
    # whatever was said before, and however long the service asks us to wait
    progress = Progress(polls, elapsed, retry_after, answered_polls=polls, answered=False)
    decision = next_poll(policy, progress)
    assert not decision.give_up
    # a Retry-After past the lifetime: one more poll, on it
    if retry_after > policy.lifetime_seconds - elapsed:
        assert decision.interval_seconds == max(1.0, policy.lifetime_seconds - elapsed)


@given(policies.map(lambda p: PollingPolicy(**{**p.__dict__, "jitter": 0.0})), st.integers(1, 200))
def test_without_jitter_intervals_never_shrink(policy: PollingPolicy, polls: int) -> None:
    assert base_interval(policy, polls + 1) >= base_interval(policy, polls)
    first = next_poll(policy, Progress(polls, 0))
    second = next_poll(policy, Progress(polls + 1, 0))
    if not first.give_up and not second.give_up and policy.deadline_seconds > 2 * 600:
        assert second.wait_seconds >= first.wait_seconds


@given(policies, st.integers(1, 100), st.floats(0, 1))
def test_jitter_moves_a_wait_by_half_its_fraction_either_way(
    policy: PollingPolicy, polls: int, r: float
) -> None:
    decision = next_poll(policy, Progress(polls, 0), rand=lambda: r)
    if decision.give_up:
        return
    interval = base_interval(policy, polls)
    cap = math.floor(min(policy.max_interval_seconds, policy.deadline_seconds))
    if polls >= policy.max_polls:
        return
    lowest = min(math.floor(interval * (1 - policy.jitter / 2)), cap)
    highest = min(math.ceil(interval * (1 + policy.jitter / 2)), cap)
    assert max(lowest, 1) <= decision.wait_seconds <= max(highest, 1)


def test_jitter_does_not_wait_longer_on_average() -> None:
    policy = PollingPolicy(jitter=0.4, initial_seconds=10, max_interval_seconds=600)
    draws = [i / 1000 for i in range(1001)]
    decisions = [next_poll(policy, Progress(3, 0), rand=functools.partial(float, r)) for r in draws]
    intervals = [decision.interval_seconds for decision in decisions]
    # 40 s, spread over 32..48 s, 40 s on average
    assert (min(intervals), max(intervals)) == (32, 48)
    assert abs(sum(intervals) / len(intervals) - 40) < 1e-9
    # the Wait state counts the whole seconds; the check function makes up the rest
    assert all(d.wait_seconds == math.floor(d.interval_seconds) for d in decisions)


def test_a_plan_is_followed_then_waits_keep_growing_from_where_it_ended() -> None:
    policy = STEADY
    plan = (5, 7, 12)

    def interval(polls: int, elapsed: float) -> float:
        return round(next_poll(policy, Progress(polls, elapsed, plan=plan)).interval_seconds, 6)

    # polled at submission + 5.3 s: next at 7 s; at 7.2 s: next at 12 s
    assert interval(1, 5.3) == 1.7
    assert interval(2, 7.2) == 4.8
    # past the plan: the widest gap the bound allows, the first wait plus the time elapsed
    # (x multiplier - 1), here 2 + 12.1 s
    assert interval(3, 12.1) == 14.1
    # a plan time less than a second away is skipped
    assert interval(1, 6.5) == 5.5


def test_without_a_plan_the_waits_are_the_geometric_defaults() -> None:
    policy = STEADY
    elapsed, waits = 0.0, []
    for polls in range(1, 8):
        wait = next_poll(policy, Progress(polls, elapsed)).wait_seconds
        waits.append(wait)
        elapsed += wait
    assert waits == [2, 4, 8, 16, 32, 64, 120]


def test_retry_after_outranks_a_plan() -> None:
    assert next_poll(STEADY, Progress(1, 3, retry_after_seconds=30, plan=(4, 5))).wait_seconds == 30


def test_the_poll_budget_counts_only_answers_that_the_task_is_running() -> None:
    policy = PollingPolicy(max_polls=3)
    assert next_poll(policy, Progress(3, 10, answered_polls=3)).give_up_reason is (
        GiveUpReason.POLL_BUDGET
    )
    # 50 polls without an answer leave the budget as it was
    assert not next_poll(policy, Progress(50, 10, answered_polls=2, answered=False)).give_up
    assert not next_poll(policy, Progress(51, 11, answered_polls=2)).give_up


def test_the_deadline_counts_only_time_the_service_said_running() -> None:
    policy = PollingPolicy(
        jitter=0, deadline_seconds=100, max_interval_seconds=60, initial_seconds=60
    )
    # 70 s of "running": the last wait lands on the deadline, then it gives up
    assert next_poll(policy, Progress(1, 70, running_seconds=70)).wait_seconds == 30
    assert next_poll(policy, Progress(2, 100, running_seconds=100)).give_up_reason is (
        GiveUpReason.DEADLINE
    )
    # 5000 s since submission, but only 70 of them "running" (an outage in between): not yet
    assert next_poll(policy, Progress(9, 5000, running_seconds=70)).wait_seconds == 30


def test_the_lifetime_ends_polling_whatever_was_answered() -> None:
    policy = PollingPolicy(lifetime_seconds=7200)
    for answered in (True, False):
        decision = next_poll(policy, Progress(9, 7200, running_seconds=0, answered=answered))
        assert decision.give_up_reason is GiveUpReason.LIFETIME
    assert GiveUpReason.DEADLINE.service_said_running
    assert not GiveUpReason.LIFETIME.service_said_running


def test_longer_retry_after_is_honoured_shorter_is_not() -> None:
    policy = STEADY
    assert next_poll(policy, Progress(1, 0, retry_after_seconds=45)).wait_seconds == 45
    assert next_poll(policy, Progress(5, 0, retry_after_seconds=3)).wait_seconds == 32


def test_a_retry_after_past_the_lifetime_means_one_more_poll_on_it() -> None:
    policy = PollingPolicy(deadline_seconds=300, lifetime_seconds=400)
    decision = next_poll(policy, Progress(1, 10, 600, answered=False))
    assert (decision.give_up, decision.interval_seconds) == (False, 390)


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (PollingPolicy(initial_seconds=0.5), "initial_seconds"),
        (PollingPolicy(multiplier=0.9), "multiplier"),
        (PollingPolicy(max_interval_seconds=1), "max_interval_seconds"),
        (PollingPolicy(jitter=1.0), "jitter"),
        (PollingPolicy(deadline_seconds=0), "deadline_seconds"),
        (PollingPolicy(deadline_seconds=24 * 3600), "lifetime_seconds"),
        (PollingPolicy(lifetime_seconds=25 * 3600), "lifetime_seconds"),
        (PollingPolicy(max_polls=0), "max_polls"),
    ],
)
def test_inconsistent_policies_are_rejected(policy: PollingPolicy, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        policy.validate()


def test_a_wait_is_the_whole_seconds_short_of_the_due_time_by_the_allowance() -> None:
    assert whole_wait(7.0, 3.0) == 3  # 4 s less the allowance: 3 s, the rest made up
    assert whole_wait(7.0, 6.9) == 0
    assert whole_wait(7.0, 9.0) == 0


def test_a_poll_near_its_time_counts_as_made_on_time() -> None:
    early, made_at = on_time(7.0, 6.4)  # made up, then on time
    assert (round(early, 6), made_at) == (0.6, 7.0)
    assert on_time(7.0, 7.2) == (0.0, 7.0)  # a little late: the schedule keeps its times
    assert on_time(7.0, 9.0) == (0.0, 9.0)  # off its time (a retry): counts when made
    assert on_time(7.0, 3.0) == (0.0, 3.0)  # far too early: never waits seconds in a function


def test_a_whole_wait_survives_float_arithmetic() -> None:
    now = 2031.1
    assert whole_wait(now + 20, now, allowance=0) == 20
