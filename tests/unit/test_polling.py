"""The polling policy: growing waits, caps, deadline, budget, Retry-After, jitter."""

from __future__ import annotations

import functools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocr_fetch.polling import GiveUpReason, PollingPolicy, Progress, base_interval, next_poll

policies = st.builds(
    PollingPolicy,
    initial_seconds=st.floats(1, 30),
    multiplier=st.floats(1, 4),
    max_interval_seconds=st.floats(30, 600),
    jitter=st.floats(0, 0.9),
    deadline_seconds=st.floats(10, 23 * 3600),
    max_polls=st.integers(1, 500),
)


def test_defaults_grow_geometrically_to_the_cap() -> None:
    policy = PollingPolicy()
    waits = [next_poll(policy, Progress(n, 0)).wait_seconds for n in range(1, 10)]
    assert waits == [2, 4, 8, 16, 32, 64, 120, 120, 120]


def test_defaults_keep_an_execution_far_below_the_history_limit() -> None:
    policy = PollingPolicy()
    policy.validate()
    # about ten history events per poll (Task, Choice, Wait entered/exited, Lambda scheduled...)
    assert policy.max_polls * 10 < 25_000 / 10
    assert policy.deadline_seconds <= 24 * 3600 / 2


@given(policies, st.integers(1, 1000), st.floats(0, 90_000), st.floats(0, 1))
def test_never_exceeds_the_cap_or_the_deadline(
    policy: PollingPolicy, polls: int, elapsed: float, r: float
) -> None:
    decision = next_poll(policy, Progress(polls, elapsed), rand=lambda: r)
    if decision.give_up:
        assert decision.wait_seconds == 0
        return
    assert 1 <= decision.wait_seconds <= max(1, int(policy.max_interval_seconds))
    assert elapsed + decision.wait_seconds <= policy.deadline_seconds
    assert polls < policy.max_polls


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
    lowest = min(math.floor(interval * (1 - policy.jitter / 2)), cap)
    highest = min(math.ceil(interval * (1 + policy.jitter / 2)), cap)
    assert max(lowest, 1) <= decision.wait_seconds <= max(highest, 1)


def test_jitter_does_not_wait_longer_on_average() -> None:
    policy = PollingPolicy(jitter=0.4, initial_seconds=10, max_interval_seconds=600)
    draws = [i / 1000 for i in range(1000)]
    waits = [
        next_poll(policy, Progress(3, 0), rand=functools.partial(float, r)).wait_seconds
        for r in draws
    ]
    # 40 s, spread over 32..48 s; whole seconds (rounded up) add half a second on average
    assert (min(waits), max(waits)) == (32, 48)
    assert abs(sum(waits) / len(waits) - 40.5) < 0.1


def test_a_plan_is_followed_then_waits_keep_growing_from_where_it_ended() -> None:
    policy = PollingPolicy()
    plan = (5, 7, 12)
    # polled at submission + 5.3 s: next at 7 s; at 7.2 s: next at 12 s
    assert next_poll(policy, Progress(1, 5.3, plan=plan)).wait_seconds == 2
    assert next_poll(policy, Progress(2, 7.2, plan=plan)).wait_seconds == 5
    # past the plan: never less than the time elapsed (x multiplier - 1), here 12 s
    assert next_poll(policy, Progress(3, 12.1, plan=plan)).wait_seconds == 13
    # a plan time less than a second away is skipped
    assert next_poll(policy, Progress(1, 6.5, plan=plan)).wait_seconds == 6


def test_without_a_plan_the_waits_are_the_geometric_defaults() -> None:
    policy = PollingPolicy()
    elapsed, waits = 0.0, []
    for polls in range(1, 8):
        wait = next_poll(policy, Progress(polls, elapsed)).wait_seconds
        waits.append(wait)
        elapsed += wait
    assert waits == [2, 4, 8, 16, 32, 64, 120]


def test_retry_after_outranks_a_plan() -> None:
    assert (
        next_poll(PollingPolicy(), Progress(1, 3, retry_after_seconds=30, plan=(4, 5))).wait_seconds
        == 30
    )


def test_poll_budget_gives_up() -> None:
    decision = next_poll(PollingPolicy(max_polls=3), Progress(3, 10))
    assert decision.give_up_reason is GiveUpReason.POLL_BUDGET


def test_deadline_gives_up_and_the_last_wait_lands_on_it() -> None:
    policy = PollingPolicy(deadline_seconds=100, max_interval_seconds=60, initial_seconds=60)
    assert next_poll(policy, Progress(1, 70)).wait_seconds == 30
    assert next_poll(policy, Progress(2, 100)).give_up_reason is GiveUpReason.DEADLINE


def test_longer_retry_after_is_honoured_shorter_is_not() -> None:
    policy = PollingPolicy()
    assert next_poll(policy, Progress(1, 0, retry_after_seconds=45)).wait_seconds == 45
    assert next_poll(policy, Progress(5, 0, retry_after_seconds=3)).wait_seconds == 32


def test_retry_after_past_the_deadline_gives_up() -> None:
    policy = PollingPolicy(deadline_seconds=300)
    assert (
        next_poll(policy, Progress(1, 10, retry_after_seconds=600)).give_up_reason
        is GiveUpReason.DEADLINE
    )


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (PollingPolicy(initial_seconds=0.5), "initial_seconds"),
        (PollingPolicy(multiplier=0.9), "multiplier"),
        (PollingPolicy(max_interval_seconds=1), "max_interval_seconds"),
        (PollingPolicy(jitter=1.0), "jitter"),
        (PollingPolicy(deadline_seconds=0), "deadline_seconds"),
        (PollingPolicy(deadline_seconds=24 * 3600), "deadline_seconds"),
        (PollingPolicy(max_polls=0), "max_polls"),
    ],
)
def test_inconsistent_policies_are_rejected(policy: PollingPolicy, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        policy.validate()
