"""The fleet's shared state against moto: the breaker opens on a run of non-answers, one probe
per slot, closes on an answer or by hand; the budget spaces slots across every caller."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.local.cloud.moto_internals import (
    make_conditional_writes_atomic,
    restore_conditional_writes,
)
from ocr_fetch.errors import BudgetWaitError
from ocr_fetch.fleet import (
    BREAKER_RUN,
    BY_OPERATOR,
    HEADROOM,
    PAUSED_MAX_PROBES,
    BudgetGate,
    Fleet,
    paused_wait,
)
from tests.unit.fixtures_aws import REGION, offline_aws_env

TABLE = "fleet"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fleet(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> Iterator[Fleet]:
    offline_aws_env(monkeypatch)
    # DynamoDB serialises one item's conditional writes; moto needs telling (the local cloud
    # does the same for every stack).
    make_conditional_writes_atomic()
    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "name", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield Fleet(TABLE, probe_seconds=30, calls_per_second=4, clock=clock)
    restore_conditional_writes()


# --- the breaker -----------------------------------------------------------------------------
def test_the_breaker_opens_after_a_run_of_non_answers(fleet: Fleet) -> None:
    opened = [fleet.not_answered() for _ in range(BREAKER_RUN)]
    assert opened == [False] * (BREAKER_RUN - 1) + [True]
    view = fleet.view()
    assert (view.open, view.opened_by) == (True, "run")
    # once open, more non-answers open nothing more
    assert fleet.not_answered() is False


def test_any_definite_answer_ends_the_run(fleet: Fleet) -> None:
    for _ in range(BREAKER_RUN - 1):
        fleet.not_answered()
    fleet.answered(fleet.view())
    assert fleet.view().failures == 0
    assert not any(fleet.not_answered() for _ in range(BREAKER_RUN - 1))


def test_exactly_one_probe_per_slot_across_the_fleet(fleet: Fleet, clock: Clock) -> None:
    fleet.open("run")
    view = fleet.view()
    assert fleet.claim_probe(view) is False  # not before the first slot
    clock.now += 30
    claims: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        claims.append(fleet.claim_probe(fleet.view()))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert claims.count(True) == 1
    clock.now += 10
    assert fleet.claim_probe(fleet.view()) is False  # the next slot is 30 s after the last
    clock.now += 20
    assert fleet.claim_probe(fleet.view()) is True


def test_an_answer_to_the_probe_closes_the_breaker(fleet: Fleet) -> None:
    fleet.open("run")
    assert fleet.answered(fleet.view()) is True
    view = fleet.view()
    assert (view.open, view.opened_by, view.failures) == (False, None, 0)


def test_an_operator_opens_and_closes_it_by_hand_and_no_probe_closes_it(
    fleet: Fleet, clock: Clock
) -> None:
    assert fleet.open(BY_OPERATOR) is True
    clock.now += 3600
    view = fleet.view()
    assert (view.open, view.opened_by) == (True, BY_OPERATOR)
    assert fleet.claim_probe(view) is False
    assert fleet.answered(view) is False
    assert fleet.close() is True
    assert not fleet.view().open
    assert fleet.close() is False


def test_paused_waits_grow_to_the_cap_and_spread() -> None:
    waits = [paused_wait(30, paused, 0, lambda: 0.0) for paused in range(8)]
    assert waits == [30, 60, 120, 240, 480, 960, 1200, 1200]
    assert paused_wait(30, 9, 0, lambda: 1.0) == 30 * PAUSED_MAX_PROBES * 0.8
    assert paused_wait(30, 0, 25.0, lambda: 0.5) == 27  # never before the next probe slot


@pytest.mark.parametrize("draw", [0.0, 1.0, None])
def test_a_task_paused_through_a_23_hour_outage_stays_under_300_transitions(
    draw: float | None,
) -> None:
    rand = random.Random(7).random if draw is None else (lambda: draw)
    waited, loops = 0.0, 0
    while waited < 82_800:
        waited += paused_wait(30, loops, 0, rand)
        loops += 1
    # three transitions a loop: Check Task Status, Route On Task Status, Wait Before Next Poll
    assert 3 * loops < 300


# --- the budget ------------------------------------------------------------------------------
def test_slots_are_spaced_by_the_rate_and_its_headroom(fleet: Fleet, clock: Clock) -> None:
    view = fleet.view()
    slots = [fleet.claim_slot(view) for _ in range(9)]
    spacing = 1 / (4 * (1 - HEADROOM))  # 0.3125 s: five slots span 1.25 s
    assert slots[0] == clock.now
    for first, second in itertools.pairwise(slots):
        assert second - first == pytest.approx(spacing, abs=1e-5)
    # in any one second at most the rate, wherever the window starts
    for start in slots:
        assert sum(start <= slot < start + 1 for slot in slots) <= 4
    # an idle budget starts again from now
    clock.now += 60
    assert fleet.claim_slot(fleet.view()) == clock.now


def test_a_429_halves_the_rate_and_it_recovers(fleet: Fleet, clock: Clock) -> None:
    assert fleet.lower_rate(fleet.view()) is True
    view = fleet.view()
    assert view.effective_rate_factor(clock.now) == 0.5
    assert fleet.lower_rate(view) is False  # at most every two seconds
    clock.now += 150
    assert view.effective_rate_factor(clock.now) == pytest.approx(0.75)
    clock.now += 150
    assert view.effective_rate_factor(clock.now) == 1.0


def test_the_gate_waits_for_a_near_slot_and_keeps_a_far_one(fleet: Fleet, clock: Clock) -> None:
    slept: list[float] = []
    gate = BudgetGate(fleet, fleet.view(), sleep=slept.append)
    gate(remaining=20)  # the first slot is now
    for _ in range(6):
        gate(remaining=20)
    assert 0 < max(slept) <= 2
    for _ in range(5):  # the slots run ahead of the clock, beyond what the function waits for
        fleet.claim_slot(fleet.view())
    with pytest.raises(BudgetWaitError) as info:
        gate(remaining=20)
    kept = info.value.slot
    assert kept is not None
    assert info.value.retry_after == pytest.approx(kept - clock.now)
    # the next poll uses the kept slot rather than taking another
    clock.now = kept - 0.3
    later = BudgetGate(fleet, fleet.view(), reserved=kept, sleep=slept.append)
    later(remaining=20)
    assert slept[-1] == pytest.approx(0.3)


def test_the_gate_takes_no_slot_it_cannot_use_in_time(fleet: Fleet, clock: Clock) -> None:
    gate = BudgetGate(fleet, fleet.view(), sleep=lambda _: None)
    gate(remaining=20)
    with pytest.raises(BudgetWaitError):
        gate(remaining=0.5)  # the invocation has no time left to wait for even a near slot


def _item() -> dict[str, Any]:
    return dict(
        boto3.client("dynamodb", region_name=REGION).get_item(
            TableName=TABLE, Key={"name": {"S": "fleet"}}
        )["Item"]
    )


def test_the_item_lives_under_a_ttl(fleet: Fleet, clock: Clock) -> None:
    fleet.not_answered()
    assert int(_item()["expiresAt"]["N"]) > clock.now + 86_400


def test_a_slot_that_passed_while_it_was_claimed_is_never_used_late(
    fleet: Fleet, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    claimed: list[float] = []
    real_claim = fleet.claim_slot

    def slow_claim(view: object) -> float:
        slot = real_claim(fleet.view())
        claimed.append(slot)
        if len(claimed) == 1:
            clock.now += 0.4  # the first write took 0.4 s: its slot is gone by the time it returns
        return slot

    monkeypatch.setattr(fleet, "claim_slot", slow_claim)
    slept: list[float] = []
    BudgetGate(fleet, fleet.view(), sleep=slept.append)(remaining=20)
    # Then the late slot was given up and the call is made at a fresh one, not before it
    assert len(claimed) == 2
    assert claimed[-1] >= clock.now > claimed[0]
    assert clock.now + (slept[-1] if slept else 0.0) == pytest.approx(claimed[-1])


def test_claims_slower_than_every_slot_hold_the_poll_back(
    fleet: Fleet, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_claim = fleet.claim_slot

    def always_slow(view: object) -> float:
        slot = real_claim(fleet.view())
        clock.now = max(clock.now, slot) + 1.0
        return slot

    monkeypatch.setattr(fleet, "claim_slot", always_slow)
    with pytest.raises(BudgetWaitError, match="could not hand out a slot") as info:
        BudgetGate(fleet, fleet.view(), sleep=lambda _: None)(remaining=20)
    assert info.value.slot is None
