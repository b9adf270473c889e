"""``make stress``: many tasks at once through the whole local product; any spurious failure fails.

Starts the local cloud with the emulator, deploys template.yaml, submits N single-region tasks to
the emulator and announces each on the bus (the public start path), then waits for every outcome.
No fault is injected, so every task must end ``Completed`` with its region stored: anything else
(a failure, a lost outcome) is a spurious failure of the proving ground or the product, and the
run exits 1. ``--cpu-load`` keeps every core busy with a bounded background load meanwhile, so
races that only show under contention get their chance.

Prints: completed / failed / spurious, wall time, p50/p95 time to outcome, peak RSS of the whole
process tree, CPU time by process kind, and which recognizer the emulator used.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from infra.local.cloud import fast_polling
from infra.local.emulator import Timing
from infra.local.proving_ground import GroundSpec, cpu_delta, cpu_times, proving_ground
from infra.local.samples import id_card
from infra.stack.outcomes import TaskOutcome
from ocr_fetch.client import RecognitionSettings

#: Short polling so a task that takes about a second is found within a few.
STRESS_PARAMETERS = fast_polling(max_interval_seconds=4, deadline_seconds=300)
#: A single-region task: in the emulator's queue about a second, then recognised.
STRESS_TIMING = Timing(queue_delay_s=1.0, per_region_s=0.1)


@dataclass
class StressReport:
    tasks: int
    completed: int
    failed: int
    spurious: int
    wall_s: float
    p50_s: float
    p95_s: float
    peak_rss_mb: float
    cpu_s: dict[str, float]
    recognizer: str
    cpu_load: float
    problems: list[str] = field(default_factory=list)

    def count(self, announced: dict[str, float], outcomes: dict[str, TaskOutcome]) -> None:
        """Tally the outcomes: every task must be Completed with its event published."""
        times = []
        for task_id, outcome in outcomes.items():
            if outcome.published is not None:
                times.append(outcome.published.timestamp() - announced[task_id])
            if outcome.status == "Completed" and outcome.event is not None:
                self.completed += 1
            else:
                self.problems.append(
                    f"{task_id}: {outcome.status} ({outcome.execution.error}: "
                    f"{(outcome.execution.cause or '')[:200]})"
                )
        self.failed = self.spurious = self.tasks - self.completed
        times.sort()
        if times:
            self.p50_s = statistics.median(times)
            self.p95_s = times[int(0.95 * (len(times) - 1))]

    @property
    def cpu_floor_s(self) -> float:
        """The wall time if every core were busy all along: total CPU over the cores."""
        return sum(self.cpu_s.values()) / (os.cpu_count() or 1)

    def lines(self) -> list[str]:
        cpu = ", ".join(f"{kind} {seconds:.1f}" for kind, seconds in self.cpu_s.items())
        return [
            f"tasks {self.tasks}: completed {self.completed}, failed {self.failed}, "
            f"spurious {self.spurious} (no fault was injected: every failure is spurious)",
            f"wall time {self.wall_s:.1f} s; time to outcome p50 {self.p50_s:.1f} s, "
            f"p95 {self.p95_s:.1f} s",
            f"peak RSS {self.peak_rss_mb:.0f} MB (this process, Lambda workers, emulator)",
            f"CPU seconds: {cpu}; on {os.cpu_count()} cores no run of this work can take "
            f"less than {self.cpu_floor_s:.1f} s",
            f"recognizer: {self.recognizer}; background CPU load: {self.cpu_load:.0%} of each core",
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make stress", description=__doc__)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1, help="run this many times in a row")
    parser.add_argument(
        "--cpu-load",
        type=float,
        nargs="?",
        const=0.5,
        default=0.0,
        help="keep each core this busy meanwhile (default when given: 0.5)",
    )
    parser.add_argument("--json", type=Path, help="also write the reports here")
    args = parser.parse_args(argv)
    reports = []
    for number in range(1, args.runs + 1):
        print(f"\n## run {number} of {args.runs}: {args.tasks} tasks", flush=True)
        report = run(args.tasks, cpu_load=args.cpu_load)
        reports.append(report)
        for line in report.lines():
            print(line)
        for problem in report.problems[:20]:
            print(f"  spurious: {problem}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in reports], indent=2) + "\n")
    return 1 if any(r.spurious for r in reports) else 0


def run(tasks: int, *, cpu_load: float = 0.0) -> StressReport:
    """One stress run of ``tasks`` single-region tasks; the report says what happened."""
    card = id_card()
    image, rects, names = card.png, card.rects[:1], card.region_names[:1]
    spec = GroundSpec("ocr-stress", STRESS_PARAMETERS, STRESS_TIMING)
    with proving_ground(spec, cpu_load=cpu_load) as ground:
        session = ground.session
        aspose = ground.aspose.client()
        recognizer = ground.recognizer()
        cpu_before = cpu_times(ground.cloud)
        started = time.monotonic()
        announced: dict[str, float] = {}

        def submit(_: int) -> None:
            task_id = aspose.submit_regions(image, rects, RecognitionSettings())
            session.announce(task_id, list(names), source="stress")
            announced[task_id] = time.time()

        outcomes: dict[str, TaskOutcome] = {}
        problems: list[str] = []
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(submit, range(tasks)))
        try:
            outcomes = session.wait_for_outcomes(
                list(announced), timeout=60 + tasks, subscription=ground.outcomes
            )
        except AssertionError as error:
            problems.append(str(error)[:2000])
        wall = time.monotonic() - started
        cpu = cpu_delta(cpu_before, cpu_times(ground.cloud))
        peak_rss_mb = ground.rss.peak_mb
    report = StressReport(
        tasks=tasks,
        completed=0,
        failed=0,
        spurious=0,
        wall_s=wall,
        p50_s=float("nan"),
        p95_s=float("nan"),
        peak_rss_mb=peak_rss_mb,
        cpu_s=cpu,
        recognizer=recognizer,
        cpu_load=cpu_load,
        problems=problems,
    )
    report.count(announced, outcomes)
    return report


if __name__ == "__main__":
    sys.exit(main())
