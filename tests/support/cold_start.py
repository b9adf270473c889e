"""What a new Lambda execution environment would not have: every function's cached settings and
clients, listed once for each test that starts a function cold."""

from __future__ import annotations

from typing import Any

from ocr_fetch.handlers import check_status, record_outcome, starter, store_results, wiring

WARM_STATE: tuple[Any, ...] = (
    check_status.settings,
    check_status._history,
    check_status._fleet,
    store_results.settings,
    record_outcome.settings,
    wiring.result_bucket,
    wiring.result_table,
    wiring.aspose_client,
    starter._starter,
)


def cold_start() -> None:
    """Forget every cache, as a new execution environment would start without them."""
    for cached in WARM_STATE:
        cached.cache_clear()
