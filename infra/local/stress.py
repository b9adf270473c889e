"""``make stress``: many tasks at once through the whole local product; any spurious failure fails.

Starts the local cloud with the emulator, deploys template.yaml, submits N single-region tasks to
the emulator, then announces each on the bus (the public start path), and waits for every
outcome. Every task must end ``Completed`` with its region stored: anything else (a failure, a
lost outcome) is a spurious failure of the proving ground or the product, and the run exits 1.
``--cpu-load`` keeps every core busy with a bounded background load meanwhile, so races that only
show under contention get their chance.

``--parameter Name=Value`` (``make stress PARAMS="AsposeCallsPerSecond=4"``) overrides template
parameters on top of the stress run's own (:data:`STRESS_PARAMETERS`). ``--outage SECONDS``: every
answer from Aspose is a 503 for that long, from when the last task is announced; the product must
ride it out (the results' lifetime is far longer), so every task must still complete.
``--outage-after SECONDS`` starts it that long after the last announcement instead, so that the
calls before it show the budget at work.

Prints: completed / failed / spurious, wall time, p50/p95 time to outcome, peak RSS of the whole
process tree, CPU time by process kind, which recognizer the emulator used, and Aspose calls a
second (before, during and after the outage), from the emulator's request log
(:mod:`infra.local.call_rate`), with the busiest 1-second window against the budget. Writes that
per-second series (and every call: when, what, its status) to ``.local/stress/`` as JSON, and
with ``--plot PATH`` draws it as SVG (:mod:`infra.local.rate_plot`). The README's fleet plot
(``docs/fleet.svg``) is drawn by

    make stress PARAMS="AsposeCallsPerSecond=4" \
        ARGS="--tasks 200 --outage 60 --outage-after 20 --plot docs/fleet.svg"
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local.call_rate import CallRates, Outage, Recovery
from infra.local.cloud import fast_polling, parameter_overrides
from infra.local.emulator import Timing
from infra.local.proving_ground import ROOT, GroundSpec, cpu_delta, cpu_times, proving_ground
from infra.local.rate_plot import draw
from infra.local.samples import id_card
from infra.stack.outcomes import TaskOutcome
from ocr_fetch.client import RecognitionSettings
from ocr_fetch.fleet import HEADROOM, PAUSED_MAX_PROBES

#: Short polling so a task that takes about a second is found within a few.
STRESS_PARAMETERS = fast_polling(max_interval_seconds=4, deadline_seconds=300)
#: A single-region task: in the emulator's queue about a second, then recognised.
STRESS_TIMING = Timing(queue_delay_s=1.0, per_region_s=0.1)
#: Where each run's calls a second are written.
SERIES_DIR = ROOT / ".local" / "stress"


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
    parameters: dict[str, str] = field(default_factory=dict)
    #: The product's calls to Aspose, from the emulator's request log.
    rates: CallRates | None = None
    #: How long after the outage the tasks reached their outcomes.
    recovery: Recovery | None = None

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
        injected = (
            "only the outage was injected, which every task must ride out"
            if self.rates is not None and self.rates.outage is not None
            else "no fault was injected"
        )
        return [
            f"tasks {self.tasks}: completed {self.completed}, failed {self.failed}, "
            f"spurious {self.spurious} ({injected}: every failure is spurious)",
            f"wall time {self.wall_s:.1f} s; time to outcome p50 {self.p50_s:.1f} s, "
            f"p95 {self.p95_s:.1f} s",
            f"peak RSS {self.peak_rss_mb:.0f} MB (this process, Lambda workers, emulator)",
            f"CPU seconds: {cpu}; on {os.cpu_count()} cores no run of this work can take "
            f"less than {self.cpu_floor_s:.1f} s",
            f"recognizer: {self.recognizer}; background CPU load: {self.cpu_load:.0%} of each core",
            *(self.rates.lines() if self.rates is not None else []),
            *([self.recovery.line()] if self.recovery is not None else []),
        ]

    def to_json(self) -> dict[str, Any]:
        """Everything, with the calls as their per-second series and figures."""
        shown = asdict(self)
        shown["rates"] = self.rates.to_json() if self.rates is not None else None
        return shown


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    reports = []
    for number in range(1, args.runs + 1):
        print(f"\n## run {number} of {args.runs}: {args.tasks} tasks", flush=True)
        report = run(
            args.tasks,
            cpu_load=args.cpu_load,
            parameters=args.overrides,
            outage=args.outage,
            outage_after=args.outage_after,
        )
        reports.append(report)
        for line in report.lines():
            print(line)
        for problem in report.problems[:20]:
            print(f"  spurious: {problem}")
        print(f"calls a second written to {_write_series(report, number)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([r.to_json() for r in reports], indent=2) + "\n")
    last = reports[-1].rates
    if args.plot and last is not None:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        args.plot.write_text(draw(last, _title(reports[-1])), encoding="utf-8")
        print(f"plot written to {args.plot}")
    return 1 if any(r.spurious for r in reports) else 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make stress", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
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
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter over the stress run's (again for more; make stress PARAMS=)",
    )
    parser.add_argument(
        "--outage",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="every Aspose answer is a 503 for this long, once the tasks are announced",
    )
    parser.add_argument(
        "--outage-after",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="start the outage this long after the last task is announced (default 0)",
    )
    parser.add_argument("--json", type=Path, help="also write the reports here")
    parser.add_argument("--plot", type=Path, help="draw the last run's calls a second here (SVG)")
    args = parser.parse_args(argv)
    if min(args.outage, args.outage_after) < 0 or args.tasks < 1:
        parser.error("--outage and --outage-after must be 0 or more, --tasks 1 or more")
    try:
        args.overrides = parameter_overrides(args.parameter)
    except ValueError as error:
        parser.error(str(error))
    return args


def run(
    tasks: int,
    *,
    cpu_load: float = 0.0,
    parameters: dict[str, str] | None = None,
    outage: float = 0.0,
    outage_after: float = 0.0,
) -> StressReport:
    """One stress run of ``tasks`` single-region tasks (``parameters`` over
    :data:`STRESS_PARAMETERS`, an ``outage`` of that many seconds ``outage_after`` seconds after
    they are announced); the report says what happened."""
    card = id_card()
    image, rects, names = card.png, card.rects[:1], card.region_names[:1]
    deployed = {**STRESS_PARAMETERS, **(parameters or {})}
    spec = GroundSpec("ocr-stress", deployed, STRESS_TIMING)
    with proving_ground(spec, cpu_load=cpu_load) as ground:
        session, admin = ground.session, ground.emulator.admin
        aspose = ground.aspose.client()
        recognizer = ground.recognizer()
        cpu_before = cpu_times(ground.cloud)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            # Every task is submitted before any is announced: from the first announcement on,
            # every call the emulator logs (bar submissions) is the product's.
            task_ids = list(
                pool.map(
                    lambda _: aspose.submit_regions(image, rects, RecognitionSettings()),
                    range(tasks),
                )
            )
        since = time.time()
        announced: dict[str, float] = {}

        def announce(task_id: str) -> None:
            session.announce(task_id, list(names), source="stress")
            announced[task_id] = time.time()

        outcomes: dict[str, TaskOutcome] = {}
        problems: list[str] = []
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(announce, task_ids))
        window = None
        if outage:
            time.sleep(outage_after)
            window = Outage.begin(admin, outage)
        try:
            outcomes = session.wait_for_outcomes(
                task_ids,
                timeout=_patience(tasks, deployed, outage),
                subscription=ground.outcomes,
            )
        except AssertionError as error:
            problems.append(str(error)[:2000])
        wall = time.monotonic() - started
        cpu = cpu_delta(cpu_before, cpu_times(ground.cloud))
        logged = admin.requests()
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
        parameters=deployed,
        rates=CallRates.of(logged, since, window, _budget(deployed)),
    )
    report.count(announced, outcomes)
    if window is not None:
        published = [o.published.timestamp() for o in outcomes.values() if o.published]
        report.recovery = Recovery.of(published, window)
    return report


def _budget(parameters: dict[str, str]) -> float:
    try:
        return float(parameters.get("AsposeCallsPerSecond") or 0)
    except ValueError:
        return 0.0


def _patience(tasks: int, parameters: dict[str, str], outage: float) -> float:
    """How long every outcome may take: a second a task, a budget's slots (three calls a task,
    tokens and polls), and an outage's length twice over plus the longest paused wait."""
    rate = _budget(parameters) * (1 - HEADROOM)
    probe = float(parameters.get("BreakerProbeSeconds") or 30)
    budgeted = 3 * tasks / rate if rate else 0.0
    paused = 2 * outage + PAUSED_MAX_PROBES * probe if outage else 0.0
    return 60 + tasks + budgeted + paused


def _write_series(report: StressReport, number: int) -> Path | None:
    """The run's calls a second, and its figures, as JSON under :data:`SERIES_DIR`."""
    if report.rates is None:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = SERIES_DIR / f"calls-{stamp}-run{number}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "tasks": report.tasks,
        "completed": report.completed,
        "parameters": report.parameters,
        **report.rates.to_json(),
        "recovery": asdict(report.recovery) if report.recovery is not None else None,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def _title(report: StressReport) -> str:
    rates = report.rates
    outage = f", a {rates.outage.seconds:.0f} s outage" if rates and rates.outage else ""
    budget = f", AsposeCallsPerSecond={rates.budget:g}" if rates and rates.budget else ""
    return f"make stress: {report.tasks} tasks{outage}{budget}: Aspose calls per second"


if __name__ == "__main__":
    sys.exit(main())
