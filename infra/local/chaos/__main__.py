"""``make chaos SEED=N TASKS=N`` (``python -m infra.local.chaos --seed N --tasks N``).

Prints the seed first, then the table of outcomes by fault and a one-line verdict; exits 1 on
FAIL. Without a seed, a random one is drawn (and printed): run it again with ``SEED=`` to replay
the same schedule.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys

from infra.local.chaos import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__)
    parser.add_argument("--seed", type=int, default=None, help="default: a random one, printed")
    parser.add_argument("--tasks", type=int, default=300)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbelow(10**6)
    print(f"seed {seed}", flush=True)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Sixteen threads share each boto3 client (ten connections): a surplus connection is closed
    # rather than pooled, which urllib3 warns about once per request. Nothing is wrong.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    report = run(seed, args.tasks, say=lambda line: print(line, file=sys.stderr, flush=True))
    for line in report.lines():
        print(line)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
