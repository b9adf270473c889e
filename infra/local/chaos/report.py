"""What a chaos run prints and keeps: the table of outcomes by fault, the shared actions, the
problems found, the one-line verdict; the schedule and the verdicts as JSON under .local/chaos/.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infra.local.chaos.judge import DEAD_LETTERED, Verdict
from infra.local.chaos.runner import RunRecord, TaskRun
from infra.local.chaos.schedule import AHEAD, LATE, TOO_FAR_AHEAD, TOO_OLD, Schedule

COLUMNS = ("Completed", "Failed", "NotFound", "TimedOut", DEAD_LETTERED, "wrong", "lost")
ALL = "all tasks"
#: Tasks whose problems and story are printed (all of them are in the JSON report).
_SHOWN = 20
_CLOCK_ROWS = {
    LATE: "event time late (minutes)",
    AHEAD: "event time ahead, within skew",
    TOO_FAR_AHEAD: "event time ahead, beyond skew",
    TOO_OLD: "event time older than 24 h",
}


@dataclass
class ChaosReport:
    """A run's verdicts and figures; ``passed`` when nothing is wrong, lost or leaked."""

    seed: int
    tasks: int
    verdicts: list[Verdict]
    leaks: list[str]
    problems: list[str]
    timings: dict[str, float] = field(default_factory=dict)
    shared: list[str] = field(default_factory=list)
    rows: dict[str, Counter[str]] = field(default_factory=dict)
    #: Lambda invocations that failed, by function and error (what the faults made happen).
    invocation_errors: dict[str, int] = field(default_factory=dict)
    #: Lambda invocations' durations, by function.
    durations: dict[str, str] = field(default_factory=dict)

    @property
    def wrong(self) -> int:
        return sum(1 for v in self.verdicts if v.wrong)

    @property
    def lost(self) -> int:
        return sum(1 for v in self.verdicts if v.lost)

    @property
    def passed(self) -> bool:
        return not (self.wrong or self.lost or self.leaks or self.problems)

    def verdict_line(self) -> str:
        line = (
            f"chaos seed={self.seed} tasks={self.tasks}: {self.wrong} wrong, {self.lost} lost, "
            f"{len(self.leaks)} leaks"
        )
        if self.problems:
            line += f", {len(self.problems)} run problems"
        return f"{line} — {'PASS' if self.passed else 'FAIL'}"

    def lines(self) -> list[str]:
        """The table, the shared actions, the problems, the timings and the verdict."""
        out = _table(self.rows)
        out += ["", "shared: " + "; ".join(self.shared)]
        errors = ", ".join(f"{k} {n}" for k, n in sorted(self.invocation_errors.items()))
        out += [f"failed Lambda invocations: {errors or 'none'}"]
        out += [f"{name}: {figures}" for name, figures in self.durations.items()]
        for verdict in [v for v in self.verdicts if not v.ok][:_SHOWN]:
            for problem in verdict.wrong:
                out.append(f"WRONG task {verdict.index} {verdict.task_id}: {problem}")
            for problem in verdict.lost:
                out.append(f"LOST task {verdict.index} {verdict.task_id}: {problem}")
            out += [f"    {line}" for line in verdict.story]
        out += [f"LEAK {leak}" for leak in self.leaks]
        out += [f"RUN PROBLEM {problem}" for problem in self.problems]
        timings = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.timings.items())
        out += ["", f"timings: {timings}", self.verdict_line()]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "tasks": self.tasks,
            "passed": self.passed,
            "verdict": self.verdict_line(),
            "timings": self.timings,
            "shared": self.shared,
            "invocation_errors": self.invocation_errors,
            "durations": self.durations,
            "leaks": self.leaks,
            "problems": self.problems,
            "rows": {row: dict(counts) for row, counts in self.rows.items()},
            "verdicts": [asdict(v) for v in self.verdicts],
        }


def tabulate(verdicts: list[Verdict], record: RunRecord) -> dict[str, Counter[str]]:
    """Outcomes by fault: a task counts in the row of every fault that hit it, and of every
    kind of announcement it had; ``all tasks`` counts each once."""
    runs = {task.plan.index: task for task in record.tasks}
    rows: dict[str, Counter[str]] = {}
    for verdict in verdicts:
        cells = [verdict.outcome] + (["wrong"] if verdict.wrong else [])
        cells += ["lost"] if verdict.lost else []
        labels = verdict.faults + _announced(runs[verdict.index])
        for label in [*(labels or ["no fault, announced once on time"]), ALL]:
            rows.setdefault(label, Counter()).update(cells)
    return dict(sorted(rows.items(), key=lambda kv: (kv[0] == ALL, kv[0])))


def _announced(task: TaskRun) -> list[str]:
    put = [s.announcement for s in task.sent if s.put_at is not None]
    labels = []
    if task.plan.document is None:
        labels.append("task unknown to the service")
    if sum(1 for a in put if a.refetch is None) > 1:
        labels.append("duplicate announcements")
    if any(a.refetch for a in put):
        labels.append("refetch announcements")
    labels += sorted({_CLOCK_ROWS[a.clock] for a in put if a.clock in _CLOCK_ROWS})
    return labels


def _table(rows: dict[str, Counter[str]]) -> list[str]:
    width = max((len(row) for row in rows), default=10)
    header = f"{'fault':<{width}}  " + "  ".join(f"{c:>9}" for c in COLUMNS)
    lines = [header, "-" * len(header)]
    for row, counts in rows.items():
        cells = "  ".join(f"{counts.get(c, 0):>9}" for c in COLUMNS)
        lines.append(f"{row:<{width}}  {cells}")
    return lines


def shared_summary(record: RunRecord) -> list[str]:
    """What was done to every task at once, and how often its faults hit."""
    counts: Counter[str] = Counter(s.action.kind for s in record.shared if s.done_at)
    hits: Counter[str] = Counter()
    for shared in record.shared:
        hits[shared.action.kind] += sum(f.hits for f in shared.faults)
    return [
        f"{kind} x{count}" + (f" ({hits[kind]} hits)" if hits[kind] else "")
        for kind, count in sorted(counts.items())
    ]


def keep(report: ChaosReport, schedule: Schedule, directory: Path) -> tuple[Path, Path]:
    """Write the schedule (a pure function of the seed) and the report; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"seed-{report.seed}-tasks-{report.tasks}"
    planned = directory / f"{stem}.schedule.json"
    planned.write_text(json.dumps(schedule.to_json(), indent=1, ensure_ascii=False) + "\n")
    result = directory / f"{stem}.report.json"
    result.write_text(json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n")
    return planned, result
