"""Polling that learns: the histogram, the plan, the bounds, and the history table."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from ocr_fetch.history import PollingHistory
from ocr_fetch.learning import (
    BINS,
    EDGES,
    HINT_WEIGHT,
    MAX_DAY_WEIGHT,
    MAX_PLAN_POLLS,
    MIN_SAMPLES,
    DurationSummary,
    Observation,
    PlanSettings,
    history_key,
    plan_polls,
    plan_start,
    task_kind,
    what_is_known,
)
from ocr_fetch.polling import PollingPolicy, Progress, max_gap, next_poll
from tests.unit.fixtures_aws import REGION, offline_aws_env


def summary_of(*observations: tuple[Observation, float]) -> DurationSummary:
    """Observations, each counted ``times`` times, as one day's history."""
    bins: dict[int, float] = {}
    for observation, times in observations:
        for index, share in observation.weights().items():
            bins[index] = bins.get(index, 0.0) + share * times
    return DurationSummary.from_days([(0.0, bins)])


def test_one_task_weighs_one_whatever_it_claims() -> None:
    for lower, upper in ((0, 1), (2.5, 2.5), (3, 40), (-5, 1e9), (7, 3)):
        assert math.isclose(sum(Observation(lower, upper).weights().values()), 1.0)


def test_an_observation_spreads_over_the_seconds_it_covers() -> None:
    # finished after the poll at 4 s and by the poll at 6 s: half in (4, 5], half in (5, 6]
    assert Observation(4, 6).weights() == {4: 0.5, 5: 0.5}


def test_days_age_by_half_every_half_life_and_bad_values_are_dropped() -> None:
    summary = DurationSummary.from_days(
        [
            (0.0, {3: 4}),
            (3.0, {3: 4}),  # one half-life old: counts 2
            (1.0, {5: "nan", 6: -1, 7: "x", BINS + 3: 9, 8: None}),
        ]
    )
    assert summary.weights[3] == pytest.approx(6.0)
    assert summary.total == pytest.approx(6.0)


def test_the_share_per_second_sums_to_what_finished_inside_the_horizon() -> None:
    summary = summary_of((Observation(2, 4), 10), (Observation(200, 250), 10))
    mass = summary.per_second(180)
    assert sum(mass[:3]) == pytest.approx(0.0)
    assert sum(mass) == pytest.approx(0.5)  # the other half finishes after 180 s


def test_kinds_are_region_counts_in_widening_buckets() -> None:
    assert [task_kind(n) for n in (0, 1, 12, 13, 16, 17, 500)] == [
        "regions-0",
        "regions-1",
        "regions-12",
        "regions-13-16",
        "regions-13-16",
        "regions-17-24",
        "regions-129+",
    ]


def test_too_little_history_gives_no_plan() -> None:
    few = summary_of((Observation(4, 5), MIN_SAMPLES - 1))
    assert what_is_known(few, None).total == 0
    assert plan_polls(what_is_known(few, None), 0.5) == ()


def test_a_tight_history_is_polled_once_just_after_the_usual_finish() -> None:
    learnt = summary_of((Observation(5, 6), 200))
    plan = plan_polls(learnt, 0.5)
    assert plan[0] == 6
    assert len(plan) <= 2


def test_a_wide_history_is_polled_where_tasks_finish() -> None:
    learnt = summary_of((Observation(2, 3), 100), (Observation(20, 21), 100))
    plan = plan_polls(learnt, 0.5)
    # just after each cluster, the gap between them kept within the bound (max_gap)
    assert plan[0] in (3, 4)
    assert 21 in plan
    assert all(a < b for a, b in itertools.pairwise(plan))
    assert len(plan) <= MAX_PLAN_POLLS


def test_a_cheaper_poll_buys_less_delay() -> None:
    learnt = summary_of(*((Observation(s, s + 1), 10) for s in range(2, 20)))
    frugal = plan_polls(learnt, 0.5, PlanSettings(poll_worth_seconds=20))
    eager = plan_polls(learnt, 0.5, PlanSettings(poll_worth_seconds=0.5))
    assert len(eager) > len(frugal)


def test_an_old_task_is_polled_at_once_never_in_the_past() -> None:
    learnt = summary_of((Observation(5, 6), 200))
    start = plan_start("regions-3", learnt, None, age_seconds=30.4)
    assert start.plan[0] >= 31 - 1
    assert start.first_wait_seconds == math.floor(start.plan[0] - 30.4) <= 1


def test_poisoned_history_delays_the_first_poll_by_the_bound_at_most() -> None:
    poisoned = summary_of((Observation(EDGES[-1], 10**9), 10_000))
    settings = PlanSettings(max_first_wait_seconds=60)
    start = plan_start("regions-3", poisoned, None, age_seconds=0.2, settings=settings)
    assert start.first_poll_at <= 60 + 1


def test_the_hint_counts_as_a_few_tasks_around_it() -> None:
    hinted = what_is_known(DurationSummary(), 30)
    assert hinted.total == pytest.approx(HINT_WEIGHT)
    plan = plan_polls(hinted, 0.3)
    assert 18 <= plan[0] <= 42
    # beside a large history it is only a few votes
    learnt = summary_of((Observation(4, 5), 1000))
    assert plan_polls(what_is_known(learnt, 30), 0.3)[0] == 5


def test_with_nothing_known_the_first_poll_is_the_configured_one() -> None:
    start = plan_start("regions-3", DurationSummary(), None, 0.4)
    assert (start.plan, start.first_poll_at, start.first_wait_seconds) == ((), 1.0, 0)
    state = start.to_state()
    assert (state["pollAt"], state["waitSeconds"], state["polls"]) == (1.0, 0, 0)
    late = plan_start("regions-3", DurationSummary(), None, 12.5).to_state()
    assert (late["pollAt"], late["waitSeconds"]) == (12.5, 0)


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        (PlanSettings(poll_worth_seconds=0), "poll_worth_seconds"),
        (PlanSettings(max_first_wait_seconds=-1), "max_first_wait_seconds"),
        (PlanSettings(first_poll_seconds=90), "first_poll_seconds"),
    ],
)
def test_inconsistent_plan_settings_are_rejected(settings: PlanSettings, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        settings.validate()


def test_plans_follow_the_policy_after_their_end() -> None:
    learnt = summary_of((Observation(5, 6), 200))
    slow = PlanSettings(policy=PollingPolicy(initial_seconds=30, max_interval_seconds=30))
    assert plan_polls(learnt, 0.5, slow)[0] == 6


# --- the history table ------------------------------------------------------------------------
TABLE = "polling-history-test"


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    offline_aws_env(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "kind", "KeyType": "HASH"},
                {"AttributeName": "day", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "kind", "AttributeType": "S"},
                {"AttributeName": "day", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def test_recorded_tasks_add_up_per_day_and_are_read_aged(table: Any) -> None:
    today = datetime(2026, 11, 29, 12, tzinfo=UTC)
    clock = {"now": today - timedelta(days=3)}
    history = PollingHistory(TABLE, table, clock=lambda: clock["now"])
    for _ in range(4):
        history.record("regions-2", Observation(4, 5))
    clock["now"] = today
    fresh = PollingHistory(TABLE, table, clock=lambda: clock["now"])
    for _ in range(3):
        fresh.record("regions-2", Observation(4, 5))
    fresh.record("regions-9", Observation(30, 40))
    summary = fresh.summary("regions-2")
    assert summary.weights[4] == pytest.approx(3 + 4 * 0.5)
    assert summary.total == pytest.approx(5.0)
    item = table.get_item(
        TableName=TABLE, Key={"kind": {"S": "regions-2"}, "day": {"S": "2026-11-29"}}
    )
    expires = int(item["Item"]["expiresAt"]["N"])
    assert expires > today.timestamp() + 14 * 86400


def test_a_poisoned_item_is_read_without_its_bad_values(table: Any) -> None:
    table.put_item(
        TableName=TABLE,
        Item={
            "kind": {"S": "regions-1"},
            "day": {"S": datetime.now(UTC).date().isoformat()},
            "b3": {"N": "25"},
            "b4": {"S": "lots"},
            "bX": {"N": "1000"},
            "b999": {"N": "1000"},
        },
    )
    summary = PollingHistory(TABLE, table).summary("regions-1")
    assert summary.total == pytest.approx(25.0)


def test_a_summary_is_cached_for_a_while(table: Any) -> None:
    history = PollingHistory(TABLE, table)
    history.record("regions-1", Observation(1, 2))
    first = history.summary("regions-1")
    history.record("regions-1", Observation(1, 2))
    assert history.summary("regions-1") is first


# --- The worst any history can do ------------------------------------------------------------
HARM_POLICY = PollingPolicy(jitter=0)
HARM_SETTINGS = PlanSettings(policy=HARM_POLICY)
ANY_WEIGHT = st.one_of(
    st.floats(0, 1e6),
    st.just(float("nan")),
    st.just(float("inf")),
    st.just(-1.0),
    st.text(max_size=5),
)
ANY_DAY = st.tuples(
    st.floats(-5, 30), st.dictionaries(st.integers(-3, BINS + 3), ANY_WEIGHT, max_size=BINS)
)


def schedule(start: Any, until: float) -> list[float]:
    """The times a task is polled, from its plan and then the policy, as the check makes them."""
    times = [start.first_poll_at]
    answered = 1
    while times[-1] < until:
        progress = Progress(
            answered, times[-1], plan=start.plan, running_seconds=times[-1], answered_polls=answered
        )
        decision = next_poll(HARM_POLICY, progress)
        if decision.give_up:
            break
        times.append(times[-1] + decision.interval_seconds)
        answered += 1
    return times


@settings(max_examples=300, deadline=None)
@given(
    days=st.lists(ANY_DAY, max_size=6),
    hint=st.none() | st.floats(1, 86_400),
    age=st.floats(0, 86_400),
)
def test_no_history_can_delay_a_task_beyond_the_stated_bound(
    days: list[tuple[float, dict[int, object]]], hint: float | None, age: float
) -> None:
    """The worst harm of any history (and any hint, at any age): the first poll comes at most
    ``PollMaxFirstWaitSeconds`` after the task is seen, the plan holds at most 12 polls, and a task
    that finishes at ``d`` after the first poll is found by ``d + max_gap(d)`` (the worst case of a
    doubling loop: at most twice its duration, 2 s for the shortest, 120 s for the longest)."""
    start = plan_start("k", DurationSummary.from_days(days), hint, age, HARM_SETTINGS)
    assert len(start.plan) <= MAX_PLAN_POLLS
    # (Wait states count whole seconds: the age is rounded up)
    assert age <= start.first_poll_at <= math.ceil(age) + HARM_SETTINGS.max_first_wait_seconds
    polls = schedule(start, min(age, 200) + 400)
    for made, following in itertools.pairwise(polls):
        # every gap, so every task finishing inside it, within the bound
        assert following - made <= max_gap(HARM_POLICY, made) + 1e-6, (made, following)


def test_a_history_poisoned_by_late_announcements_cannot_make_a_short_task_wait() -> None:
    # Fifty tasks that look 1,700 s long, fifty genuine 2-3 s ones: a 5 s task is found by
    # 12 s at the latest (the bound: 5 + 2 + 5), not at 123 s as before the bound.
    history = summary_of((Observation(1700, 1701), 50), (Observation(2, 3), 50))
    start = plan_start("k", history, None, 0.3, HARM_SETTINGS)
    found = next(at for at in schedule(start, 60) if at >= 5)
    assert found <= 12


def test_a_planner_given_any_age_does_bounded_work() -> None:
    history = summary_of((Observation(3, 4), 50))
    for age in (0, 179, 180, 1e6, 3e6, 1e9):
        start = plan_start("k", history, 30, age, HARM_SETTINGS)
        assert start.first_poll_at == max(age, start.first_poll_at)
    # past the horizon no plan is made: the task is polled at once, then by the policy
    assert plan_start("k", history, 30, 1e9, HARM_SETTINGS).plan == ()


def test_one_day_cannot_own_a_history() -> None:
    burst = {3: 100_000.0}
    usual = {10: 150.0}
    summary = DurationSummary.from_days([(0.0, burst), (1.0, usual)])
    # the burst counts as MAX_DAY_WEIGHT tasks, beside a day that counts in full
    assert summary.weights[3] == pytest.approx(MAX_DAY_WEIGHT)
    assert summary.weights[10] == pytest.approx(150 * 0.5 ** (1 / 3))


def test_history_is_kept_per_scope_and_kind() -> None:
    assert history_key("tenant:acme", "regions-5") == "tenant:acme|regions-5"
    assert history_key("source:a", "regions-5") != history_key("source:b", "regions-5")
