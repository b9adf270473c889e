"""``make smoke`` (``python -m infra.ops.smoke --sample STEM``): the proof on a real account.

Without AWS or Aspose credentials: one line naming what is missing, exit 0. Otherwise: what will
be created and what it costs, a question on the terminal (``YES=1`` answers it), the run, the
report; exit 0 when every check passed and nothing is left, 1 when not, 130 when interrupted,
2 for bad input (a missing sample, no terminal to ask on).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from infra.ops.cli.errors import CliError
from infra.ops.smoke.aws import SAM, AwsDeployer
from infra.ops.smoke.credentials import find_credentials, missing_line
from infra.ops.smoke.report import finish
from infra.ops.smoke.run import SmokeOptions, run_smoke
from infra.ops.smoke.sample import Sample, SampleError

USAGE = 2


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    found = find_credentials(os.environ)
    if found.missing or found.aspose is None:
        print(missing_line(found.missing))
        return 0
    try:
        sample = Sample.load(args.sample)
    except (CliError, SampleError) as error:
        print(f"make smoke: {error}", file=sys.stderr)
        return USAGE
    try:
        identity = found.session.client("sts").get_caller_identity()
    except Exception as error:  # refused or unreachable: nothing was made
        print(
            "make smoke: nothing deployed: the AWS credentials could not be confirmed with STS "
            f"GetCallerIdentity ({type(error).__name__}: {error})"
        )
        return 1
    deployer = AwsDeployer(found.session, str(identity["Account"]), args.sam)
    options = SmokeOptions(sample, found.aspose, yes=os.environ.get("YES") == "1")
    if not options.yes and not sys.stdin.isatty():
        print("make smoke: no terminal to ask on; run `make smoke YES=1` to deploy without asking")
        return USAGE
    try:
        report = run_smoke(deployer, options, _say, _ask)
    except KeyboardInterrupt:  # before the run began (the run handles its own): nothing made
        print("\nInterrupted before anything was deployed.")
        return 130
    return finish(report, args.json_report)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m infra.ops.smoke", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument(
        "--sample",
        type=Path,
        required=True,
        help="STEM of STEM.png, STEM.regions.json, STEM.printed.json (infra.local.samples)",
    )
    parser.add_argument("--sam", type=Path, default=SAM, help="the SAM CLI (default: the pinned)")
    parser.add_argument("--json-report", type=Path, help="also write the report here, as JSON")
    return parser.parse_args(argv)


def _say(line: str) -> None:
    print(line, flush=True)


def _ask() -> bool:
    try:
        answer = input("Deploy it, and delete it at the end? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


if __name__ == "__main__":
    sys.exit(main())
