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
import multiprocessing
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from infra.local.cloud import LocalCloud, fast_polling
from infra.local.emulator import EmulatorConfig, Timing
from infra.local.samples import id_card
from infra.stack.outcomes import TaskOutcome
from infra.stack.serving import Running
from infra.stack.session import StackSession
from ocr_fetch.client import RecognitionSettings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
#: Short polling so a task that takes about a second is found within a few.
STRESS_PARAMETERS = fast_polling(max_interval_seconds=4, deadline_seconds=300)
#: A single-region task: in the emulator's queue about a second, then recognised.
STRESS_TIMING = Timing(queue_delay_s=1.0, per_region_s=0.1)
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


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
    with (
        LocalCloud(emulator=EmulatorConfig(timing=STRESS_TIMING, workers=2)) as cloud,
        _BackgroundLoad(cpu_load),
        _PeakRss() as rss,
    ):
        stack = cloud.deploy(TEMPLATE, parameters=STRESS_PARAMETERS, stack_name="ocr-stress")
        session = StackSession.from_outputs(stack.outputs, cloud.client)
        assert cloud.aspose is not None
        assert cloud.emulator is not None
        aspose = cloud.aspose.client()
        recognizer = str(cloud.emulator.admin.health().get("recognizer"))
        cpu_before = _cpu_times(cloud)
        started = time.monotonic()
        announced: dict[str, float] = {}

        def submit(_: int) -> None:
            task_id = aspose.submit_regions(image, rects, RecognitionSettings())
            session.announce(task_id, list(names), source="stress")
            announced[task_id] = time.time()

        outcomes: dict[str, TaskOutcome] = {}
        problems: list[str] = []
        with session.subscribe_outcomes("stress-outcomes") as subscription:
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(submit, range(tasks)))
            try:
                outcomes = session.wait_for_outcomes(
                    list(announced), timeout=60 + tasks, subscription=subscription
                )
            except AssertionError as error:
                problems.append(str(error)[:2000])
        wall = time.monotonic() - started
        cpu = _cpu_delta(cpu_before, _cpu_times(cloud))
    report = StressReport(
        tasks=tasks,
        completed=0,
        failed=0,
        spurious=0,
        wall_s=wall,
        p50_s=float("nan"),
        p95_s=float("nan"),
        peak_rss_mb=rss.peak_mb,
        cpu_s=cpu,
        recognizer=recognizer,
        cpu_load=cpu_load,
        problems=problems,
    )
    report.count(announced, outcomes)
    return report


# --- measuring ---------------------------------------------------------------------------------
def _cpu_times(cloud: LocalCloud) -> dict[str, float]:
    """CPU seconds so far of this process (moto, the interpreter), the emulator, and the Lambda
    workers (those alive, plus every one that has ended)."""
    own = os.times()
    emulator = cloud.emulator.pid if cloud.emulator is not None else None
    workers = sum(_process_cpu(pid) for pid in cloud.runtime.worker_pids())
    return {
        "local AWS (this process)": own.user + own.system,
        "Lambda workers": workers + own.children_user + own.children_system,
        "emulator (OCR)": _process_cpu(emulator) if emulator else 0.0,
    }


def _cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {kind: max(0.0, after[kind] - before.get(kind, 0.0)) for kind in after}


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


class _PeakRss(Running):
    """Samples the resident size of this process and its children (workers, emulator)."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def _start(self) -> None:
        self._thread.start()

    def _stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _sample(self) -> None:
        me = os.getpid()
        while not self._done.wait(0.5):
            pids = [me, *_children(me)]
            self.peak_mb = max(self.peak_mb, sum(_resident(pid) for pid in pids) / 2**20)


def _children(pid: int) -> list[int]:
    try:
        return [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
    except OSError:
        return []


def _resident(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


class _BackgroundLoad(Running):
    """One busy process per core, each busy ``share`` of the time, until the run ends."""

    def __init__(self, share: float) -> None:
        self.share = max(0.0, min(share, 1.0))
        self._done = multiprocessing.Event()
        self._processes: list[multiprocessing.Process] = []

    def _start(self) -> None:
        if self.share:
            for _ in range(os.cpu_count() or 1):
                process = multiprocessing.Process(
                    target=_burn, args=(self._done, self.share), daemon=True
                )
                process.start()
                self._processes.append(process)

    def _stop(self) -> None:
        self._done.set()
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()


def _burn(stop: multiprocessing.synchronize.Event, share: float) -> None:
    period = 0.05
    while not stop.is_set():
        busy_until = time.monotonic() + period * share
        while time.monotonic() < busy_until:
            pass
        time.sleep(period * (1 - share))


if __name__ == "__main__":
    sys.exit(main())
