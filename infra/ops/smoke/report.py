"""What a smoke run did and found: each step with its time, each check passed or failed with
what it saw, the stack's name and whether its deletion completed; as text and as JSON.

A check that could not run (its step failed first) is reported as not run, never as passed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PASSED = "passed"
FAILED = "failed"
NOT_RUN = "not run"
#: The checks every run reports, in order (a run that stopped early lists the rest as not run).
CHECK_NAMES = ("regions", "item", "outcome event", "alarms")


@dataclass
class Step:
    """One step: its name, whether it completed, how long it took, one line of what it did."""

    name: str
    ok: bool
    seconds: float
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "seconds": round(self.seconds, 1),
            "detail": self.detail,
        }


@dataclass
class Check:
    """One check of the deployed stack: passed or failed, and what it saw (one line each)."""

    name: str
    status: str
    lines: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "lines": list(self.lines)}


@dataclass
class Report:
    """The whole run."""

    where: str
    dry_run: bool
    stack_name: str
    steps: list[Step] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    cleanup: list[Step] = field(default_factory=list)
    #: Whether nothing of the run is left: the stack deleted (or never made), the rest removed.
    deleted: bool = False
    interrupted: bool = False
    task_id: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Every step completed, every check passed, and nothing is left behind."""
        return (
            not self.interrupted
            and all(step.ok for step in self.steps)
            and len(self.checks) == len(CHECK_NAMES)
            and all(check.passed for check in self.checks)
            and self.deleted
        )

    def finish_checks(self) -> None:
        """List every check the run did not reach as not run."""
        done = {check.name for check in self.checks}
        self.checks += [Check(name, NOT_RUN) for name in CHECK_NAMES if name not in done]

    def exit_code(self) -> int:
        """0 when the run passed, 130 when it was interrupted, 1 otherwise."""
        if self.interrupted:
            return 130
        return 0 if self.passed else 1

    def lines(self) -> list[str]:
        """The report as the terminal shows it."""
        verdict = "PASSED" if self.passed else "INTERRUPTED" if self.interrupted else "FAILED"
        head = "DRY RUN" if self.dry_run else "Smoke test"
        lines = [f"{head} in {self.where}: {verdict}", f"  stack   {self.stack_name}"]
        if self.dry_run:
            lines.append(
                "  (proves this script: moto and the Aspose emulator stood in for AWS and Aspose)"
            )
        if self.task_id:
            lines.append(f"  task    {self.task_id}")
        lines.append("  steps")
        lines += [_step_line(step) for step in self.steps]
        lines.append("  checks")
        for check in self.checks:
            lines.append(f"    {check.name:<15} {check.status}")
            lines += [f"        {line}" for line in check.lines]
        lines.append("  cleanup")
        lines += [_step_line(step) for step in self.cleanup]
        deleted = "yes: nothing is left" if self.deleted else "NO: see the cleanup lines above"
        lines.append(f"  deletion completed: {deleted}")
        lines.append(f"  total {self.seconds:.1f} s")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "dryRun": self.dry_run,
            "stackName": self.stack_name,
            "taskId": self.task_id,
            "passed": self.passed,
            "interrupted": self.interrupted,
            "deleted": self.deleted,
            "seconds": round(self.seconds, 1),
            "steps": [step.to_json() for step in self.steps],
            "checks": [check.to_json() for check in self.checks],
            "cleanup": [step.to_json() for step in self.cleanup],
        }


def _step_line(step: Step) -> str:
    mark = "ok    " if step.ok else "FAILED"
    return f"    {step.name:<15} {mark} {step.seconds:6.1f} s  {step.detail}".rstrip()


def finish(report: Report | None, json_path: Path | None = None) -> int:
    """Print the report (and write it as JSON to ``json_path``); the run's exit code. No report:
    the user said no, and nothing was made."""
    if report is None:
        return 0
    print()
    for line in report.lines():
        print(line)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    return report.exit_code()
