"""The fleet's circuit breaker, as an operator reads and sets it: the one item of the stack's
fleet table (output ``FleetTableName``), through the product's own :class:`ocr_fetch.fleet.Fleet`,
so the operator and every check read and write it the same way (its conditions included).

The operator's hand counts like the product's: a breaker opened here is ``openedBy: operator``,
which no probe closes; closing it lets the paused checks go on at their next wake-up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from infra.stack.client import StackClient
from ocr_fetch.fleet import BY_OPERATOR, Fleet, FleetView

#: The template's default ``BreakerProbeSeconds``, for a stack whose parameters are not known.
DEFAULT_PROBE_SECONDS = 30.0


class NoFleetTable(LookupError):
    """The stack has no ``FleetTableName`` output: it was deployed before the fleet."""


@dataclass(frozen=True)
class BreakerState:
    """The breaker as read at ``now`` (epoch seconds), with the stack's budget when known."""

    view: FleetView
    now: float
    #: ``AsposeCallsPerSecond`` when the stack's parameters are known (0: no budget).
    calls_per_second: float | None = None

    @property
    def next_probe_at(self) -> float | None:
        """When the next probe may go out; None while closed, or opened by an operator (no
        probe closes that)."""
        if not self.view.open or self.view.opened_by == BY_OPERATOR:
            return None
        return self.view.next_probe_at

    @property
    def rate_factor(self) -> float | None:
        """The share of the budget in force, when a 429 has lowered it and it has not yet
        recovered; None otherwise."""
        factor = self.view.effective_rate_factor(self.now)
        return factor if factor < 1.0 else None


@dataclass(frozen=True)
class BreakerChange:
    """What ``open`` or ``close`` did: whether it changed anything, and the breaker after."""

    changed: bool
    state: BreakerState


class FleetControl(StackClient):
    """The fleet table's breaker, read and set by hand."""

    def breaker(self) -> BreakerState:
        """The breaker as the checks see it now."""
        return self._state(self._fleet())

    def open_breaker(self) -> BreakerChange:
        """Open the breaker by hand (no probe closes it); changed unless an operator had."""
        fleet = self._fleet()
        changed = fleet.open(BY_OPERATOR)
        return BreakerChange(changed, self._state(fleet))

    def close_breaker(self) -> BreakerChange:
        """Close the breaker, whoever opened it; changed unless it was closed."""
        fleet = self._fleet()
        changed = fleet.close()
        return BreakerChange(changed, self._state(fleet))

    def _state(self, fleet: Fleet) -> BreakerState:
        return BreakerState(fleet.view(), fleet.clock(), self._parameter("AsposeCallsPerSecond"))

    def _fleet(self) -> Fleet:
        table = self.outputs.fleet_table
        if not table:
            raise NoFleetTable(
                "the stack has no FleetTableName output: it was deployed before the fleet's "
                "breaker (deploy this version)"
            )
        probe = self._parameter("BreakerProbeSeconds") or DEFAULT_PROBE_SECONDS
        dynamodb: Any = self.client("dynamodb")
        return Fleet(table, probe_seconds=probe, dynamodb=dynamodb, clock=time.time)

    def _parameter(self, name: str) -> float | None:
        """A numeric stack parameter, when the stack's parameters are known."""
        try:
            return float(self.parameters[name])
        except (KeyError, ValueError):
            return None
