"""The small version of ``make stress``: tasks at once under CPU load, none may fail.

No fault is injected, so any task that does not end Completed, with its result stored and its
outcome published, is a spurious failure: a race or a lost message in the proving ground or the
product. The full run (200 tasks, three times) is ``make stress ARGS="--cpu-load --runs 3"``.
"""

from __future__ import annotations

import pytest

from infra.local import stress

pytestmark = pytest.mark.slow


def test_forty_tasks_under_cpu_load_all_complete() -> None:
    report = stress.run(40, cpu_load=0.5)
    assert report.problems == []
    assert (report.completed, report.spurious) == (40, 0)
