"""What the fleet of pollers shares: a circuit breaker and a rate budget, in one DynamoDB item.

Each task is careful on its own (it waits out faults and honours ``Retry-After``); the fleet is
careful together through one item of the fleet table, read once by every check and written only
when something changes, under a TTL.

**The breaker.** It opens after :data:`BREAKER_RUN` answers in a row, across the whole fleet, that
said nothing about their task (429, 5xx, timeouts, cut-off answers) with no definite answer among
them: any definite answer, from any task, ends the run. Twenty, because a healthy service
answers nearly every poll, and when it fails some, others get through and reset the run; twenty
failures with none getting through means it is down for everyone, and twenty more polls would
only add load. While the breaker is open, checks do not call Aspose: they come back ``Paused``
and wait, longer each time (:func:`paused_wait`). One probe per ``BreakerProbeSeconds``, for the
whole fleet, is claimed with a conditional write; a definite answer to it closes the breaker.
An operator may open it by hand (then no probe closes it) and close it by hand.

**The budget.** With ``AsposeCallsPerSecond`` set, every call to Aspose (polls, token requests,
cancels) takes a slot first: the item holds the next free slot's time, and each call moves it on
by one interval, so slots are spaced evenly across every execution and every Lambda environment
(a virtual schedule, as GCRA keeps one). A slot within :data:`MAX_SLEEP_SECONDS` is waited for in
the function; a later one is kept for the next poll, which comes back ``Throttled`` and waits
until it. Slots are spaced :data:`HEADROOM` wider than the rate, and a call goes out within
:data:`SLOT_TOLERANCE_SECONDS` of its slot or not at all (:class:`BudgetGate`), so that no
second ever holds more than the rate. A 429 from Aspose halves the fleet's rate (at most
every :data:`LOWER_EVERY_SECONDS`), which then recovers linearly over
:data:`RATE_RECOVERY_SECONDS`: additive increase after a multiplicative decrease, as TCP does.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ocr_fetch import aws
from ocr_fetch.errors import BudgetWaitError, aws_error_code

#: Answers in a row, across the fleet, that said nothing about their task: the breaker opens.
BREAKER_RUN = 20
#: A paused wait grows from the probe interval by doubling, to this many probe intervals (20
#: minutes at the default 30 s), and is spread over its last fifth: a task paused through a
#: 23-hour outage then loops at most ~92 times, under 300 state transitions.
PAUSED_MAX_PROBES = 40
PAUSED_SPREAD = 0.2
#: Slots this much wider than the rate asks: R + 1 slots span 1.25 s, so a second holds more
#: than R calls only if calls drift 0.25 s from their slots, which the gate never lets them.
HEADROOM = 0.2
#: A slot this close is waited for inside the function; a later one makes the poll Throttled.
MAX_SLEEP_SECONDS = 2.0
#: A call goes out at most this long after its slot (the rest of the headroom's 0.25 s is left
#: for the network); a slot passed by more is given up, never used late.
SLOT_TOLERANCE_SECONDS = 0.05
#: Fresh slots one call may claim when each passes while being claimed, before the poll waits.
CLAIMS_PER_CALL = 3
#: A 429 halves the rate (never below this share), at most this often, and the rate recovers
#: to the full budget linearly over this long.
MIN_RATE_FACTOR = 0.1
LOWER_EVERY_SECONDS = 2.0
RATE_RECOVERY_SECONDS = 300.0
#: The item outlives its last write by this long (the table's TTL).
TTL_SECONDS = 7 * 86_400
_KEY = {"name": {"S": "fleet"}}
OPEN = "open"
CLOSED = "closed"
BY_OPERATOR = "operator"
BY_RUN = "run"


@dataclass(frozen=True)
class FleetView:
    """The fleet item as one check read it."""

    breaker: str = CLOSED
    opened_by: str | None = None
    failures: int = 0
    next_probe_at: float = 0.0
    opened_at: float | None = None
    rate_factor: float = 1.0
    rate_since: float = 0.0

    @property
    def open(self) -> bool:
        return self.breaker == OPEN

    def effective_rate_factor(self, now: float) -> float:
        """The share of the budget in force: lowered by a 429, recovering linearly."""
        recovered = (now - self.rate_since) / RATE_RECOVERY_SECONDS
        return min(1.0, self.rate_factor + (1.0 - self.rate_factor) * max(recovered, 0.0))

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> FleetView:
        return cls(
            breaker=_text(item, "breaker") or CLOSED,
            opened_by=_text(item, "openedBy"),
            failures=int(_number(item, "failures") or 0),
            next_probe_at=_number(item, "nextProbeAt") or 0.0,
            opened_at=_number(item, "openedAt"),
            rate_factor=_number(item, "rateFactor") or 1.0,
            rate_since=_number(item, "rateSince") or 0.0,
        )


class Fleet:
    """The fleet item in table ``table``; the client is created on first use unless given."""

    dynamodb = aws.LazyClient("dynamodb")

    def __init__(
        self,
        table: str,
        *,
        probe_seconds: float = 30.0,
        calls_per_second: float = 0.0,
        dynamodb: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table
        self.probe_seconds = probe_seconds
        self.calls_per_second = calls_per_second
        self.dynamodb = dynamodb
        self.clock = clock

    def view(self) -> FleetView:
        answer = aws.call(self.dynamodb.get_item, TableName=self.table, Key=_KEY)
        return FleetView.from_item(answer.get("Item") or {})

    # --- the breaker ----------------------------------------------------------------------------
    def claim_probe(self, view: FleetView) -> bool:
        """Whether this check is the one probe of its slot (an open breaker, not by hand)."""
        now = self.clock()
        if view.opened_by == BY_OPERATOR or now < view.next_probe_at:
            return False
        return self._update(
            "SET nextProbeAt = :next, probedAt = :now, expiresAt = :expires",
            "breaker = :open AND openedBy <> :operator AND nextProbeAt <= :now",
            {":next": now + self.probe_seconds, ":open": OPEN, ":operator": BY_OPERATOR},
        )

    def answered(self, view: FleetView) -> bool:
        """A definite answer: the run of non-answers ends, and an open breaker closes (unless an
        operator opened it). Returns whether this answer closed it. No write when nothing is
        open and no run is under way."""
        if view.open and view.opened_by != BY_OPERATOR:
            return self._update(
                "SET breaker = :closed, failures = :zero, closedAt = :now, expiresAt = :expires "
                "REMOVE openedBy",
                "breaker = :open AND openedBy <> :operator",
                {":closed": CLOSED, ":zero": 0, ":open": OPEN, ":operator": BY_OPERATOR},
            )
        if view.failures:
            self._update("SET failures = :zero, expiresAt = :expires", None, {":zero": 0})
        return False

    def not_answered(self) -> bool:
        """A non-answer: the run grows; at :data:`BREAKER_RUN` the breaker opens. Returns
        whether this one opened it."""
        attributes = self._write(
            "ADD failures :one SET lastFailureAt = :now, expiresAt = :expires",
            None,
            {":one": 1},
            returns="ALL_NEW",
        )
        view = FleetView.from_item(attributes or {})
        if view.open or view.failures < BREAKER_RUN:
            return False
        return self.open(BY_RUN)

    def open(self, by: str) -> bool:
        """Open the breaker (``by`` the run of non-answers, or an operator); whether it was
        closed (or opened by the run, when an operator takes it over)."""
        now = self.clock()
        condition = (
            "attribute_not_exists(breaker) OR breaker = :closed OR openedBy <> :by"
            if by == BY_OPERATOR
            else "attribute_not_exists(breaker) OR breaker = :closed"
        )
        return self._update(
            "SET breaker = :open, openedBy = :by, openedAt = :now, nextProbeAt = :next, "
            "expiresAt = :expires",
            condition,
            {":open": OPEN, ":closed": CLOSED, ":by": by, ":next": now + self.probe_seconds},
        )

    def close(self) -> bool:
        """Close the breaker by hand; whether it was open."""
        return self._update(
            "SET breaker = :closed, failures = :zero, closedAt = :now, expiresAt = :expires "
            "REMOVE openedBy",
            "breaker = :open",
            {":closed": CLOSED, ":zero": 0, ":open": OPEN},
        )

    # --- the budget -----------------------------------------------------------------------------
    @property
    def budgeted(self) -> bool:
        return self.calls_per_second > 0

    def claim_slot(self, view: FleetView) -> float:
        """The next free slot (epoch seconds) for one call to Aspose, taken from the budget."""
        now = self.clock()
        rate = self.calls_per_second * view.effective_rate_factor(now) * (1 - HEADROOM)
        spacing = 1.0 / max(rate, 1e-3)
        if self._update(
            "SET nextSlot = :after, expiresAt = :expires",
            "attribute_not_exists(nextSlot) OR nextSlot <= :now",
            {":after": now + spacing},
        ):
            return now
        attributes = self._write(
            "SET nextSlot = nextSlot + :spacing, expiresAt = :expires",
            None,
            {":spacing": spacing},
            returns="UPDATED_NEW",
        )
        return float((attributes or {})["nextSlot"]["N"]) - spacing

    def lower_rate(self, view: FleetView) -> bool:
        """Aspose answered 429: halve the fleet's rate (from what is in force now)."""
        if not self.budgeted:
            return False
        now = self.clock()
        factor = max(view.effective_rate_factor(now) / 2, MIN_RATE_FACTOR)
        return self._update(
            "SET rateFactor = :factor, rateSince = :now, expiresAt = :expires",
            "attribute_not_exists(rateSince) OR rateSince < :recent",
            {":factor": factor, ":recent": now - LOWER_EVERY_SECONDS},
        )

    def _update(self, expression: str, condition: str | None, values: dict[str, Any]) -> bool:
        """One conditional write of the item; False when its condition did not hold."""
        return self._write(expression, condition, values) is not None

    def _write(
        self,
        expression: str,
        condition: str | None,
        values: dict[str, Any],
        returns: str = "NONE",
    ) -> dict[str, Any] | None:
        """One write of the item; the attributes asked for ({} for none), or None when its
        condition did not hold."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": _KEY,
            "UpdateExpression": expression,
            "ExpressionAttributeValues": _values(values, self.clock()),
            "ReturnValues": returns,
        }
        if condition:
            request["ConditionExpression"] = condition
        _drop_unused(request)
        try:
            answer = aws.call(self.dynamodb.update_item, **request)
        except ClientError as exc:
            if aws_error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        attributes: dict[str, Any] = answer.get("Attributes") or {}
        return attributes


def paused_wait(
    probe_seconds: float, paused: int, until_probe: float, rand: Callable[[], float]
) -> float:
    """How long a paused check waits: from the next probe slot, doubling with each pause in a
    row up to :data:`PAUSED_MAX_PROBES` probe intervals, spread over its last fifth so that the
    tasks paused together wake apart, and the first minutes after the breaker closes stay within
    the budget."""
    grown = probe_seconds * min(2.0 ** min(paused, 30), PAUSED_MAX_PROBES)
    spread = grown * (1 - PAUSED_SPREAD * rand())
    return max(until_probe, spread, 1.0)


def _values(values: dict[str, Any], now: float) -> dict[str, Any]:
    """DynamoDB's typed values, with ``:now`` and ``:expires`` added."""
    merged = {":now": now, ":expires": int(now + TTL_SECONDS), **values}
    return {name: _typed(value) for name, value in merged.items()}


def _typed(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float) and math.isfinite(value):
        return {"N": repr(round(value, 6)) if isinstance(value, float) else str(value)}
    raise TypeError(f"cannot store {value!r} in the fleet item")


def _drop_unused(request: dict[str, Any]) -> None:
    """DynamoDB refuses values an expression does not use: keep only the used ones."""
    text = request["UpdateExpression"] + " " + request.get("ConditionExpression", "")
    used = set(re.findall(r":[A-Za-z]+", text))
    values = request["ExpressionAttributeValues"]
    request["ExpressionAttributeValues"] = {k: v for k, v in values.items() if k in used}


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name, {}).get("S")
    return value if isinstance(value, str) else None


def _number(item: dict[str, Any], name: str) -> float | None:
    try:
        return float(item[name]["N"])
    except (KeyError, TypeError, ValueError):
        return None


class BudgetGate:
    """Admits one invocation's calls to Aspose within the fleet's budget: each takes a slot, a
    near one is waited for, a far one is kept for the next poll and the call is not made
    (:class:`~ocr_fetch.errors.BudgetWaitError`).

    A call goes out at its slot or within :data:`SLOT_TOLERANCE_SECONDS` after it, never later:
    a slot that passed while it was being claimed (the claim is a DynamoDB write, and writes are
    sometimes slow) is given up for a fresh one, since a late call would crowd the slots after
    it. With slots :data:`HEADROOM` wider than the rate asks, that keeps every 1-second window
    within the rate, network jitter included."""

    def __init__(
        self,
        fleet: Fleet,
        view: FleetView,
        reserved: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.fleet = fleet
        self.view = view
        self.reserved = reserved
        self.sleep = sleep

    def __call__(self, remaining: float) -> None:
        for _ in range(CLAIMS_PER_CALL):
            slot = self._slot()
            now = self.fleet.clock()  # after the claim, which takes time
            wait = slot - now
            if wait < -SLOT_TOLERANCE_SECONDS:
                continue  # passed while it was claimed: never used late
            if wait > min(MAX_SLEEP_SECONDS, remaining - 1.0):
                raise BudgetWaitError(
                    f"the fleet's Aspose budget has no free slot for {wait:.1f} s", wait, slot
                )
            if wait > 0:
                self.sleep(wait)
                if self.fleet.clock() - slot > SLOT_TOLERANCE_SECONDS:
                    continue  # the wait overslept it
            return
        raise BudgetWaitError(
            f"the fleet's Aspose budget could not hand out a slot in time "
            f"({CLAIMS_PER_CALL} claims were slower than the slots)",
            1.0,
            None,
        )

    def _slot(self) -> float:
        """The slot kept by the previous poll when this is its time, else a new one."""
        reserved, self.reserved = self.reserved, None
        now = self.fleet.clock()
        if reserved is not None and reserved - MAX_SLEEP_SECONDS <= now <= reserved + (
            SLOT_TOLERANCE_SECONDS
        ):
            return reserved
        return self.fleet.claim_slot(self.view)
