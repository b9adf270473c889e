"""Calls a second from the emulator's request log (what ``make stress`` prints and plots, and
what the fleet's end-to-end tests hold against the budget), on logs made up here."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from infra.local.call_rate import (
    CallRates,
    Outage,
    Recovery,
    busiest_window,
    per_second,
    product_calls,
)
from infra.local.rate_plot import draw

T0 = 1_700_000_000.0


def logged(
    *times: float, method: str = "GET", path: str = "/v5.0/ocr/RecognizeRegions"
) -> list[dict[str, Any]]:
    """Emulator log entries of requests arriving ``times`` seconds after T0."""
    return [{"method": method, "path": path, "time": T0 + t} for t in times]


def test_the_products_calls_are_every_request_since_bar_submissions() -> None:
    requests = [
        *logged(-0.5, path="/connect/token", method="POST"),  # the submitter's token, before
        *logged(0.2, 0.4, method="POST"),  # submissions are the user's
        *logged(0.3, 0.1),
        *logged(0.6, path="/connect/token", method="POST"),  # the product's token
        *logged(0.7, method="DELETE"),  # a cancel
    ]

    assert product_calls(requests, T0) == [T0 + 0.1, T0 + 0.3, T0 + 0.6, T0 + 0.7]


def test_the_busiest_window_slides_across_the_seconds_of_the_clock() -> None:
    # One call in second 0 and four in second 1 on the clock: five within one second
    times = [T0 + t for t in (0.9, 1.0, 1.1, 1.2, 1.85, 3.0)]

    assert per_second(times, T0, T0 + 4) == [1, 4, 0, 1]
    window = busiest_window(times)
    assert (window.calls, window.start) == (5, T0 + 0.9)


def test_calls_a_second_apart_are_in_different_windows() -> None:
    assert busiest_window([T0, T0 + 1.0, T0 + 2.0]).calls == 1
    assert busiest_window([]).calls == 0


def test_a_window_is_looked_for_only_within_its_span() -> None:
    times = [T0 + t for t in (0.0, 0.1, 0.2, 5.0, 5.5)]

    assert busiest_window(times, start=T0 + 4, end=T0 + 10).calls == 2
    assert busiest_window(times, start=T0 + 0.15, end=T0 + 5.2).calls == 1


def test_rates_before_during_and_after_an_outage() -> None:
    # Given 4 calls a second for 10 s, 1 a second during a 10 s outage, 2 a second after
    times = [
        *[t / 4 for t in range(40)],
        *[10 + t for t in range(10)],
        *[20 + t / 2 for t in range(20)],
    ]
    rates = CallRates.of(logged(*times), T0, Outage(T0 + 10, T0 + 20), budget=4)

    phases = rates.phases()
    assert phases["before"] == pytest.approx(4.0)
    assert phases["during"] == pytest.approx(1.0)
    assert phases["after"] == pytest.approx(2.0)
    assert rates.calls_during_outage() == 10
    assert rates.busiest().calls == 4
    assert rates.busiest_after_recovery().calls == 2
    document = rates.to_json()
    assert document["outage"] == {"start": 10.0, "end": 20.0}
    assert document["perSecond"][:11] == [4] * 10 + [1]
    assert document["busiestWindowAfterRecovery"] == {"calls": 2, "startsAt": 20.0}
    assert any("10 calls during it" in line for line in rates.lines())


def test_without_an_outage_the_whole_run_is_one_phase() -> None:
    rates = CallRates.of(logged(0.5, 1.5, 2.5), T0)

    assert rates.phases() == {"before": pytest.approx(1.0)}
    assert rates.busiest_after_recovery().calls == 0
    assert rates.to_json()["outage"] is None


def test_recovery_is_counted_from_the_outages_end() -> None:
    outage = Outage(T0, T0 + 30)

    recovery = Recovery.of([T0 + 10, T0 + 35, T0 + 40, T0 + 60], outage)

    assert recovery.p50_s == pytest.approx(7.5)
    assert recovery.max_s == pytest.approx(30.0)
    assert Recovery.of([], outage).max_s is None


def test_the_plot_is_plain_svg_with_the_outage_and_the_budget() -> None:
    times = [t / 3 for t in range(90)]
    rates = CallRates.of(logged(*times), T0, Outage(T0 + 10, T0 + 20), budget=4)

    svg = draw(rates, "calls <per> second & more")

    root = ET.fromstring(svg)  # noqa: S314 - our own drawing, parsed to prove it well-formed
    texts = [element.text or "" for element in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "calls <per> second & more" in texts
    assert any(text.startswith("budget: 4 calls/s") for text in texts)
    assert any(text.startswith("outage: every answer 503 (10 s)") for text in texts)
    assert any(text.startswith("during: ") for text in texts)
    assert "<script" not in svg
    assert "<style" not in svg
