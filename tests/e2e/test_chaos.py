"""The 60-task version of ``make chaos``: a fixed seed's schedule of every fault of both sides,
duplicates, re-fetches and skewed event times, on the local cloud; nothing wrong, nothing lost,
nothing leaked. The full soak is ``make chaos TASKS=300`` (any seed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local import chaos
from infra.local.chaos.report import ALL

pytestmark = pytest.mark.slow

#: Its schedule meets each outcome (Completed, Failed, NotFound, TimedOut, dead-lettered) and
#: has no StoreResults timeout (120 s each), so the run stays within about three minutes.
SEED = 2
TASKS = 60


def test_sixty_tasks_under_chaos_nothing_wrong_lost_or_leaked(tmp_path: Path) -> None:
    report = chaos.run(SEED, TASKS, output=tmp_path, say=lambda _: None)
    print("\n".join(report.lines()))
    assert report.problems == []
    assert [(v.index, v.wrong, v.lost, v.story) for v in report.verdicts if not v.ok] == []
    assert report.leaks == []
    assert report.passed
    # It proved something: every kind of end happened, and many faults hit.
    ends = report.rows[ALL]
    for outcome in ("Completed", "Failed", "NotFound", "TimedOut", "dead-lettered"):
        assert ends[outcome] > 0, outcome
    assert len(report.rows) > 30
    assert (tmp_path / f"seed-{SEED}-tasks-{TASKS}.schedule.json").exists()
