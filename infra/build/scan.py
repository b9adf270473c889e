"""``make lint``'s security scan: checkov on template.yaml and on what CloudFormation receives.

Some checks only match the translated template (the functions, versions, aliases and mappings SAM
generates), so both are scanned. Every skip is a ``checkov`` entry in the resource's ``Metadata``
with its reason (SAM carries a function's Metadata to what it generates); this prints each one,
so the reasons are reviewed with every run. Exits 1 when any check fails.

    python -m infra.build.scan --checkov .tools/checkov/bin/checkov
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from infra.build.packaging import load_template, translate_for_review

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
TRANSLATED = ROOT / ".local" / "scan" / "translated-template.json"
REGION = "us-east-1"  # any: the translation only needs a partition


def write_translated(path: Path = TRANSLATED) -> Path:
    """The translated template, for checkov to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    translated = translate_for_review(load_template(TEMPLATE), {}, REGION)
    path.write_text(json.dumps(translated, indent=1), encoding="utf-8")
    return path


def run_checkov(checkov: Path, files: list[Path]) -> list[dict[str, Any]]:
    """checkov's JSON report, one entry per file; offline (``--skip-download``)."""
    command = [str(checkov), "--framework", "cloudformation", "--skip-download", "-o", "json"]
    for file in files:
        command += ["-f", str(file)]
    completed = subprocess.run(  # noqa: S603 - the pinned checkov
        command, capture_output=True, text=True, check=False
    )
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        raise SystemExit(
            f"checkov did not report (exit {completed.returncode}):\n{completed.stderr}"
        ) from None
    return report if isinstance(report, list) else [report]


def summary(reports: list[dict[str, Any]]) -> tuple[str, int]:
    """The lines to print (per file: counts, each failure, each distinct skip with its reason)
    and the number of failed checks."""
    by_file: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for report in reports:
        for kind, checks in report.get("results", {}).items():
            for check in checks:
                name = Path(str(check.get("file_path", "?"))).name
                by_file.setdefault(name, {}).setdefault(kind, []).append(check)
    lines, failed_total = [], 0
    for name, results in sorted(by_file.items()):
        passed, failed, skipped = (
            results.get(kind, []) for kind in ("passed_checks", "failed_checks", "skipped_checks")
        )
        failed_total += len(failed)
        lines.append(
            f"checkov {name}: {len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped"
        )
        lines += [
            f"  FAILED {c['check_id']} {c['resource']}: {c.get('check_name', '')}" for c in failed
        ]
        reasons = Counter((c["check_id"], _reason(c)) for c in skipped)
        lines += [f"  skipped {check} x{n}: {why}" for (check, why), n in sorted(reasons.items())]
    return "\n".join(lines), failed_total


def _reason(check: dict[str, Any]) -> str:
    return " ".join(str(check.get("check_result", {}).get("suppress_comment", "")).split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.build.scan", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--checkov", type=Path, required=True, help="the checkov executable")
    args = parser.parse_args(argv)
    reports = run_checkov(args.checkov, [TEMPLATE, write_translated()])
    text, failed = summary(reports)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
