"""The polling policy: growing waits, caps, deadline, budget, Retry-After, jitter."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocr_fetch.polling import GiveUpReason, PollingPolicy, base_interval, next_poll

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
    waits = [next_poll(policy, n, elapsed_seconds=0).wait_seconds for n in range(1, 10)]
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
    decision = next_poll(policy, polls, elapsed, rand=lambda: r)
    if decision.give_up:
        assert decision.wait_seconds == 0
        return
    assert 1 <= decision.wait_seconds <= max(1, int(policy.max_interval_seconds))
    assert elapsed + decision.wait_seconds <= policy.deadline_seconds
    assert polls < policy.max_polls


@given(policies.map(lambda p: PollingPolicy(**{**p.__dict__, "jitter": 0.0})), st.integers(1, 200))
def test_without_jitter_intervals_never_shrink(policy: PollingPolicy, polls: int) -> None:
    assert base_interval(policy, polls + 1) >= base_interval(policy, polls)
    first = next_poll(policy, polls, 0)
    second = next_poll(policy, polls + 1, 0)
    if not first.give_up and not second.give_up and policy.deadline_seconds > 2 * 600:
        assert second.wait_seconds >= first.wait_seconds


@given(policies, st.integers(1, 100), st.floats(0, 1))
def test_jitter_only_takes_off_up_to_its_fraction(
    policy: PollingPolicy, polls: int, r: float
) -> None:
    decision = next_poll(policy, polls, 0, rand=lambda: r)
    if decision.give_up:
        return
    interval = base_interval(policy, polls)
    lowest = min(math.floor(interval * (1 - policy.jitter)), math.floor(policy.deadline_seconds))
    assert max(lowest, 1) <= decision.wait_seconds <= math.ceil(interval)


def test_poll_budget_gives_up() -> None:
    decision = next_poll(PollingPolicy(max_polls=3), 3, 10)
    assert decision.give_up_reason is GiveUpReason.POLL_BUDGET


def test_deadline_gives_up_and_the_last_wait_lands_on_it() -> None:
    policy = PollingPolicy(deadline_seconds=100, max_interval_seconds=60, initial_seconds=60)
    assert next_poll(policy, 1, 70).wait_seconds == 30
    assert next_poll(policy, 2, 100).give_up_reason is GiveUpReason.DEADLINE


def test_longer_retry_after_is_honoured_shorter_is_not() -> None:
    policy = PollingPolicy()
    assert next_poll(policy, 1, 0, retry_after_seconds=45).wait_seconds == 45
    assert next_poll(policy, 5, 0, retry_after_seconds=3).wait_seconds == 32


def test_retry_after_past_the_deadline_gives_up() -> None:
    policy = PollingPolicy(deadline_seconds=300)
    assert next_poll(policy, 1, 10, retry_after_seconds=600).give_up_reason is GiveUpReason.DEADLINE


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
