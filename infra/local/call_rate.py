"""How fast the product called Aspose, read from the emulator's request log: what the fleet's
budget and breaker promise is measured where the calls arrive, never from the product's own
account of them.

The product's calls are every request the emulator logged from a moment on (when the tasks were
announced), bar submissions: those are the user's (the stress run and the tests submit every task
before they announce any, so nothing else calls Aspose after). Each is counted at its arrival
(the log's ``time``, epoch seconds). A budget of N calls a second promises that no 1-second window
holds more than N, wherever it starts, so windows slide from call to call rather than being
whole seconds on the clock (a burst across a second's boundary counts whole).
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.local.emulator.admin import EmulatorAdmin

#: The submit endpoint (lower case, as the emulator's router compares paths).
_SUBMIT = "/v5.0/ocr/recognizeregions"
#: How long after an outage the first minutes must stay within the budget (the tests' 10 s).
RECOVERY_WINDOW_SECONDS = 10.0


def product_requests(
    requests: Iterable[Mapping[str, Any]], since: float
) -> list[Mapping[str, Any]]:
    """The log entries of the product's calls, by arrival: every logged request from ``since``
    on that is not a submission."""
    return sorted(
        (
            entry
            for entry in requests
            if float(entry["time"]) >= since
            and not (
                entry.get("method") == "POST" and str(entry.get("path", "")).lower() == _SUBMIT
            )
        ),
        key=lambda entry: float(entry["time"]),
    )


def product_calls(requests: Iterable[Mapping[str, Any]], since: float) -> list[float]:
    """Arrival times (sorted) of the product's calls (see :func:`product_requests`)."""
    return [float(entry["time"]) for entry in product_requests(requests, since)]


@dataclass(frozen=True)
class Window:
    """The busiest window of a run: how many calls, and when it starts (epoch seconds)."""

    calls: int
    start: float | None

    def to_json(self, origin: float) -> dict[str, Any]:
        at = None if self.start is None else round(self.start - origin, 3)
        return {"calls": self.calls, "startsAt": at}


def busiest_window(
    times: Sequence[float],
    width: float = 1.0,
    start: float = -math.inf,
    end: float = math.inf,
) -> Window:
    """The most calls any window ``[t, t + width)`` holds, among the calls in ``[start, end)``
    (``times`` sorted). The busiest window always starts at a call, so only those are tried."""
    inside = times[bisect.bisect_left(times, start) : bisect.bisect_left(times, end)]
    best = Window(0, None)
    for first, at in enumerate(inside):
        count = bisect.bisect_left(inside, at + width, lo=first) - first
        if count > best.calls:
            best = Window(count, at)
    return best


def per_second(times: Sequence[float], origin: float, end: float) -> list[int]:
    """Calls in each whole second from ``origin`` up to ``end`` (the plot's bars)."""
    counts = [0] * max(math.ceil(end - origin), 0)
    for at in times:
        second = int(at - origin)
        if 0 <= second < len(counts):
            counts[second] += 1
    return counts


def rate(times: Sequence[float], start: float, end: float) -> float | None:
    """Calls a second in ``[start, end)``; None for an empty span."""
    if end <= start:
        return None
    count = bisect.bisect_left(times, end) - bisect.bisect_left(times, start)
    return count / (end - start)


@dataclass(frozen=True)
class Outage:
    """When every answer was a 503 (epoch seconds)."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @classmethod
    def begin(cls, admin: EmulatorAdmin, seconds: float) -> Outage:
        """Every answer of the emulator a 503 for ``seconds`` from now: tokens, polls and
        submissions alike. Its times are the emulator's (its fault says until when)."""
        armed = admin.inject("http_503", for_s=seconds)
        until = float(armed["until"])
        return cls(until - seconds, until)


@dataclass(frozen=True)
class CallRates:
    """The product's calls over one run: per second, before, during and after an outage, and the
    busiest windows against the budget."""

    origin: float
    end: float
    calls: tuple[float, ...]
    outage: Outage | None = None
    budget: float | None = None
    #: Each call as logged (method, path, status, faults), in the same order as ``calls``.
    entries: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def of(
        cls,
        requests: Iterable[Mapping[str, Any]],
        since: float,
        outage: Outage | None = None,
        budget: float | None = None,
    ) -> CallRates:
        """The calls logged from ``since`` on (see :func:`product_calls`), up to the end of the
        second of the last (or of the outage, if it ends later)."""
        entries = product_requests(requests, since)
        calls = [float(entry["time"]) for entry in entries]
        last = max([since, *calls[-1:], *([outage.end] if outage else [])])
        end = since + math.floor(last - since) + 1.0
        return cls(since, end, tuple(calls), outage, budget or None, tuple(entries))

    def phases(self) -> dict[str, float | None]:
        """Calls a second before, during and after the outage (the whole run: ``before``)."""
        if self.outage is None:
            return {"before": rate(self.calls, self.origin, self.end)}
        return {
            "before": rate(self.calls, self.origin, self.outage.start),
            "during": rate(self.calls, self.outage.start, self.outage.end),
            "after": rate(self.calls, self.outage.end, self.end),
        }

    def calls_during_outage(self) -> int:
        if self.outage is None:
            return 0
        start, end = self.outage.start, self.outage.end
        return bisect.bisect_left(self.calls, end) - bisect.bisect_left(self.calls, start)

    def busiest(self) -> Window:
        """The busiest 1-second window of the whole run."""
        return busiest_window(self.calls)

    def busiest_after_recovery(self, seconds: float = RECOVERY_WINDOW_SECONDS) -> Window:
        """The busiest 1-second window within the first ``seconds`` after the outage."""
        if self.outage is None:
            return Window(0, None)
        return busiest_window(self.calls, start=self.outage.end, end=self.outage.end + seconds)

    def per_second(self) -> list[int]:
        return per_second(self.calls, self.origin, self.end)

    def to_json(self) -> dict[str, Any]:
        """The per-second series and the figures, times in seconds from the first announcement
        (``origin``, epoch seconds, is kept)."""
        outage = self.outage
        return {
            "origin": self.origin,
            "budget": self.budget,
            "outage": None
            if outage is None
            else {
                "start": round(outage.start - self.origin, 3),
                "end": round(outage.end - self.origin, 3),
            },
            "calls": len(self.calls),
            "callsDuringOutage": self.calls_during_outage() if outage else None,
            "callsPerSecond": _rounded(self.phases()),
            "busiestWindow": self.busiest().to_json(self.origin),
            "busiestWindowAfterRecovery": (
                self.busiest_after_recovery().to_json(self.origin) if outage else None
            ),
            "perSecond": self.per_second(),
            "arrivals": [
                {
                    "at": round(at - self.origin, 3),
                    "method": entry.get("method"),
                    "path": entry.get("path"),
                    "taskId": entry.get("task_id"),
                    "status": entry.get("status"),
                }
                for at, entry in zip(self.calls, self.entries, strict=False)
            ],
        }

    def lines(self) -> list[str]:
        """What ``make stress`` prints of them."""
        shown = ", ".join(
            f"{phase} {value:.2f}" if value is not None else f"{phase} -"
            for phase, value in self.phases().items()
        )
        budget = f" (budget {self.budget:g})" if self.budget else " (no budget)"
        busiest = self.busiest()
        lines = [
            f"Aspose calls: {len(self.calls)}; calls/s {shown}",
            f"busiest 1-second window: {busiest.calls} calls{budget}" + _at(busiest, self.origin),
        ]
        if self.outage is not None:
            after = self.busiest_after_recovery()
            lines.append(
                f"outage {self.outage.seconds:.0f} s: {self.calls_during_outage()} calls during "
                f"it; busiest window in the {RECOVERY_WINDOW_SECONDS:.0f} s after it: "
                f"{after.calls} calls" + _at(after, self.origin)
            )
        return lines


@dataclass(frozen=True)
class Recovery:
    """How long tasks took to reach their outcome after the outage ended (seconds)."""

    p50_s: float | None
    max_s: float | None

    @classmethod
    def of(cls, outcomes_at: Iterable[float], outage: Outage) -> Recovery:
        late = sorted(max(at - outage.end, 0.0) for at in outcomes_at)
        if not late:
            return cls(None, None)
        return cls(statistics.median(late), late[-1])

    def line(self) -> str:
        if self.max_s is None:
            return "after the outage: no outcome"
        return (
            f"after the outage: outcomes p50 {self.p50_s:.1f} s, the last {self.max_s:.1f} s "
            "after it ended"
        )


def _at(window: Window, origin: float) -> str:
    return "" if window.start is None else f" (from {window.start - origin:.1f} s)"


def _rounded(values: Mapping[str, float | None]) -> dict[str, float | None]:
    return {k: None if v is None else round(v, 3) for k, v in values.items()}
