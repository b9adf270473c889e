"""One chaos run: schedule, proving ground, run, judgement, leak scan, report."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.local import leaks
from infra.local.chaos.evidence import collect
from infra.local.chaos.judge import judge
from infra.local.chaos.report import ChaosReport, keep, shared_summary, tabulate
from infra.local.chaos.rules import DEADLINE_SECONDS
from infra.local.chaos.runner import Runner
from infra.local.chaos.schedule import CANARY, MAX_RESPONSE_BYTES, generate
from infra.local.cloud import RuntimeOptions, fast_polling
from infra.local.emulator import Timing
from infra.local.proving_ground import ROOT, GroundSpec, ProvingGround, proving_ground
from infra.local.samples import id_card, registration_form

#: Where the schedule and the report of each run are kept.
OUTPUT = ROOT / ".local" / "chaos"
#: Polling in seconds; a stuck task times out after 45 s of "running". The results' lifetime
#: (from the event's time) is an hour, longer than any run and than any late event's age, so
#: an outage or a late announcement never ends a task here: only the service's answers do.
PARAMETERS = {
    **fast_polling(max_interval_seconds=4, deadline_seconds=int(DEADLINE_SECONDS)),
    "ResultsLifetimeSeconds": "3600",
    "PollMaxPolls": "40",
    "CancelOnGiveUp": "true",
    "MaxResponseBytes": str(MAX_RESPONSE_BYTES),
    "StartQueueVisibilitySeconds": "10",
}
TIMING = Timing(queue_delay_s=1.0, per_region_s=0.1)
#: Lambda timeouts hold an environment for the whole Timeout: a few more than the default 4.
RUNTIME = RuntimeOptions(max_environments=6)


def run(
    seed: int, tasks: int, *, output: Path = OUTPUT, say: Callable[[str], None] = print
) -> ChaosReport:
    """Run ``tasks`` tasks under the schedule of ``seed``; the report says what happened."""
    schedule = generate(seed, tasks)
    report = ChaosReport(seed, tasks, [], [], [])
    keep(report, schedule, output)
    say(f"chaos seed={seed} tasks={tasks}: schedule in {output}, {schedule.span:.0f} s of actions")
    started = time.monotonic()
    spec = GroundSpec(f"chaos-{seed}", PARAMETERS, TIMING, runtime=RUNTIME, memo_recognition=True)
    with proving_ground(spec) as ground:
        report.timings["start"] = time.monotonic() - started
        runner = Runner(ground, schedule)
        record = runner.run(settle_timeout=600 + 2 * tasks)
        report.timings["run"] = record.dispatched - record.started
        report.timings["settle"] = record.settled - record.dispatched
        mark = time.monotonic()
        evidence = collect(ground, record)
        report.verdicts = [judge(ev) for ev in evidence]
        report.timings["judge"] = time.monotonic() - mark
        mark = time.monotonic()
        histories = {
            execution.name: execution.history
            for ev in evidence
            for execution in ev.stored.executions
        }
        report.leaks = _leaks(ground, record.secrets, histories)
        report.timings["leak scan"] = time.monotonic() - mark
        report.problems = [f"task {t.plan.index}: {p}" for t in record.tasks for p in t.problems]
        report.problems += record.problems
        if record.unsettled:
            report.problems.append(record.unsettled)
        report.rows = tabulate(report.verdicts, record)
        report.shared = shared_summary(record)
        report.invocation_errors = _invocation_errors(ground)
        report.durations = _durations(ground)
    report.timings["total"] = time.monotonic() - started
    keep(report, schedule, output)
    return report


def _leaks(
    ground: ProvingGround, secrets: list[str], histories: dict[str, tuple[dict[str, Any], ...]]
) -> list[str]:
    """Nothing recognised, no client secret, no token, no 4xx body anywhere one can read."""
    places = leaks.outputs(ground.cloud, ground.session, ground.outcomes, histories)
    every = (*secrets, *ground.emulator.admin.issued_tokens())
    tokens = frozenset(leaks.recognised_tokens([id_card(), registration_form()]))
    return leaks.leaks(places, leaks.Secret(tokens, every, (CANARY,)))


def _durations(ground: ProvingGround) -> dict[str, str]:
    """``<function>`` -> its invocations' median, 95th percentile and longest duration."""
    logical = {name: logical_id for logical_id, name in ground.stack.functions.items()}
    by_function: dict[str, list[float]] = {}
    for invocation in ground.cloud.runtime.invocations:
        name = logical.get(invocation.function_name, invocation.function_name)
        by_function.setdefault(name, []).append(invocation.duration_ms / 1000)
    figures = {}
    for name, seconds in sorted(by_function.items()):
        seconds.sort()
        p50, p95 = seconds[len(seconds) // 2], seconds[int(0.95 * (len(seconds) - 1))]
        figures[name] = (
            f"{len(seconds)} calls, p50 {p50:.2f} s, p95 {p95:.2f} s, max {seconds[-1]:.1f} s"
        )
    return figures


def _invocation_errors(ground: ProvingGround) -> dict[str, int]:
    """``<function> <error type>`` -> how many invocations ended so."""
    logical = {name: logical_id for logical_id, name in ground.stack.functions.items()}
    counts: Counter[str] = Counter(
        f"{logical.get(i.function_name, i.function_name)} {i.error_type}"
        for i in ground.cloud.runtime.invocations
        if i.errored
    )
    return dict(counts)
