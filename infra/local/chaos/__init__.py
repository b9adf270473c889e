"""``make chaos``: a seeded random soak of the whole product on the local cloud, checked against
the service's ground truth.

A schedule drawn from one seed (:mod:`~infra.local.chaos.schedule`) submits tasks to the emulator
and announces them on the bus, with every fault the emulator and the local cloud can inject,
duplicates and re-fetches at random moments, and event times late, ahead and stale; the run
(:mod:`~infra.local.chaos.runner`) carries it out and waits until the stack is at rest; then each
task is judged (:mod:`~infra.local.chaos.judge`, by the rules of :mod:`~infra.local.chaos.rules`)
against what the emulator recognised and said (:mod:`~infra.local.chaos.evidence`), and
everything a person can read is scanned for leaks (:mod:`infra.local.leaks`).
"""

from infra.local.chaos.report import ChaosReport
from infra.local.chaos.soak import run

__all__ = ["ChaosReport", "run"]
