"""Every path of the state machine on two interpreters, compared state by state.

moto's interpreter (a copy of LocalStack's) is the only one the other workflow tests run on. Here
each path also runs on ``aws-local-stepfunctions`` (npm, written independently), through the
bridge of :mod:`infra.local.interpreter`: the same definition, as the local cloud deployed it,
reaching the same handlers in the same Lambda worker processes, against one local stack and the
Aspose emulator. Each path is set up deterministically for a fresh task on each side (the
emulator's faults per task id, the local cloud's faults with ``match``), run once by moto
(StartExecution, then GetExecutionHistory) and once by the library (its event log), and the two
are compared: the same states entered in the same order, the same failed attempts in each, the
same output of each state and the same end, apart from what differs between any two runs
(:class:`~tests.support.interpreters.Normaliser` names each).

Every difference is a bug in the ASL or in one of the interpreters: each one found is explained in
``infra/local/cloud/README.md`` ("The second interpreter") and listed in :data:`RECORDED`; any
other fails the test.
"""

from __future__ import annotations

import ast
import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path as FilePath
from typing import Any

import pytest

from infra.local.emulator import Timing
from infra.local.interpreter import InterpreterRun, RunningExecution, SecondInterpreter
from infra.local.samples import SampleDocument, id_card
from infra.stack.waiting import wait_until
from ocr_fetch.submission import SubmittedTask
from tests.support.interpreters import (
    Difference,
    Normaliser,
    Path,
    differences,
    library_path,
    library_waits,
    moto_path,
    moto_waits,
)
from tests.support.local_stack import LocalStack, local_stack

pytestmark = pytest.mark.slow

README = FilePath(__file__).resolve().parents[2] / "infra" / "local" / "cloud" / "README.md"
#: Two regions of the ID card: real OCR, at a third of the card's cost.
CARD = id_card()
DOCUMENT = SampleDocument(CARD.title, CARD.png, CARD.fields[:2])
#: "Still running" this long gives up: polls at 0, 1, 3, 7 and 10 s of it (the running seconds at
#: a poll never within a second of it, where a float's last bit would decide).
DEADLINE_SECONDS = 10
#: Long enough for every path to start after all are set up; "long ago" is past it.
LIFETIME_SECONDS = 600
MOTO, LIBRARY = "moto", "library"
RUN_TIMEOUT_S = 150.0


# --- setting up each path ------------------------------------------------------------------------
def task(
    task_id: str, *, submitted_at: datetime | None = None, refetch: str | None = None
) -> SubmittedTask:
    return SubmittedTask(
        task_id=task_id,
        region_names=tuple(DOCUMENT.region_names),
        correlation_id=None,
        metadata=None,
        submitted_at=submitted_at or datetime.now(UTC),
        refetch=refetch,
        source="tests",
    )


def settled(stack: LocalStack, **fault: Any) -> str:
    """A task submitted and finished by the service before its faults are armed, so its first
    poll sees the same thing on every run, however loaded the machine."""
    task_id = stack.submit(DOCUMENT)
    admin = stack.emulator.admin
    if "error" in fault:
        admin.inject("error", task_id=task_id, messages=[fault.pop("error")])
    final = ("Completed", "Error")
    wait_until(
        lambda: admin.task(task_id)["taskStatus"] in final, timeout=60, what=f"{task_id} to end"
    )
    return task_id


def long_ago() -> datetime:
    """A submission the results' lifetime has passed: the first poll gives up."""
    return datetime.now(UTC) - timedelta(seconds=LIFETIME_SECONDS + 5)


def completed(stack: LocalStack) -> SubmittedTask:
    """Finished, but answered Pending once: a wait, then the answer. (Once only: a second
    "still running" answer would count real time against the running deadline.)"""
    task_id = settled(stack)
    stack.emulator.admin.inject("unknown_status", task_id=task_id, value="Pending", times=1)
    return task(task_id)


def recognition_error(stack: LocalStack) -> SubmittedTask:
    return task(settled(stack, error="Image is too dark to read"))


def not_exist(stack: LocalStack) -> SubmittedTask:
    return task(str(uuid.uuid4()))


def unknown_status(stack: LocalStack) -> SubmittedTask:
    task_id = settled(stack)
    stack.emulator.admin.inject("unknown_status", task_id=task_id, value="Hibernating")
    return task(task_id)


def gave_up(stack: LocalStack) -> SubmittedTask:
    """Running for ever: the running deadline ends it, on the poll that lands on it, the fifth.
    Run alone: a poll more than 1.25 s late counts its lateness as running time, and polls
    behind a crowd of executions come that late, so the count would depend on the crowd."""
    task_id = stack.submit(DOCUMENT)
    stack.emulator.admin.inject("stuck", task_id=task_id)
    return task(task_id)


def throttled(stack: LocalStack) -> SubmittedTask:
    """Two 429s (Retry-After 2 s), two 503s, then the answer: Throttled, Unavailable, Completed."""
    task_id = settled(stack)
    stack.emulator.admin.inject("http_429", task_id=task_id, times=2, retry_after=2)
    stack.emulator.admin.inject("http_503", task_id=task_id, times=2)
    return task(task_id)


def check_caught(stack: LocalStack) -> SubmittedTask:
    """JSON that is no OCRResponse: AsposeProtocolError, retried once, then caught."""
    task_id = settled(stack)
    stack.emulator.admin.inject("http_status", task_id=task_id, status=200, body='{"results": 5}')
    return task(task_id)


def decode_caught(stack: LocalStack) -> SubmittedTask:
    """Decode And Store Results' process dies on every attempt: caught after its retries."""
    task_id = settled(stack)
    stack.cloud.faults.inject("lambda_crash", target="StoreResultsFunction", match=task_id, times=3)
    return task(task_id)


def not_recorded(
    arrange: Callable[[LocalStack], SubmittedTask],
) -> Callable[[LocalStack], SubmittedTask]:
    """``arrange``'s path, with the recording function dying on every attempt: its Catch."""

    def arranged(stack: LocalStack) -> SubmittedTask:
        submitted = arrange(stack)
        stack.cloud.faults.inject(
            "lambda_crash", target="RecordOutcomeFunction", match=submitted.task_id, times=3
        )
        return submitted

    return arranged


def timed_out(stack: LocalStack) -> SubmittedTask:
    """No answer (503) past the results' lifetime: given up on the first poll."""
    task_id = settled(stack)
    stack.emulator.admin.inject("http_503", task_id=task_id, times=1)
    return task(task_id, submitted_at=long_ago())


def not_published(stack: LocalStack) -> SubmittedTask:
    """Every PutEvents attempt answered with a failed entry: retried six times, then uncaught."""
    task_id = settled(stack)
    stack.cloud.faults.inject(
        "events_failed_entry", target="events:PutEvents", match=task_id, times=10
    )
    return task(task_id)


def paused(stack: LocalStack) -> SubmittedTask:
    """The breaker open (by hand, so no probe closes it) past the results' lifetime: one Paused
    check, giving up. Run alone: the breaker is the whole fleet's."""
    return task(str(uuid.uuid4()), submitted_at=long_ago())


@dataclass(frozen=True)
class Scenario:
    """A path: how to set it up for a fresh task, and how its execution must end (the state it
    ends in, its error), so that a set-up that stopped reaching its path fails, whatever the two
    interpreters agree on."""

    arrange: Callable[[LocalStack], SubmittedTask]
    end: str
    error: str | None = None


NOT_COMPLETED = "Recognition Not Completed"
NOT_RECORDED = ("Outcome Not Recorded", "OutcomeNotRecorded")
#: Run one after the other with nothing else running: the breaker is the whole fleet's, and the
#: running deadline counts how late polls come.
ALONE = {
    "paused": Scenario(paused, NOT_COMPLETED, "ResultsLifetimeReached"),
    "gave_up": Scenario(gave_up, NOT_COMPLETED, "DeadlineReached"),
}
#: Run all at once.
TOGETHER = {
    "completed": Scenario(completed, "Results Stored"),
    "recognition_error": Scenario(recognition_error, NOT_COMPLETED, "RecognitionError"),
    "not_exist": Scenario(not_exist, NOT_COMPLETED, "TaskNotFound"),
    "unknown_status": Scenario(unknown_status, NOT_COMPLETED, "UnknownTaskStatus"),
    "throttled": Scenario(throttled, "Results Stored"),
    "check_caught": Scenario(check_caught, NOT_COMPLETED, "AsposeProtocolError"),
    "decode_caught": Scenario(decode_caught, NOT_COMPLETED, "Runtime.ExitError"),
    "error_not_recorded": Scenario(not_recorded(recognition_error), *NOT_RECORDED),
    "not_found_not_recorded": Scenario(not_recorded(not_exist), *NOT_RECORDED),
    "timed_out_not_recorded": Scenario(not_recorded(timed_out), *NOT_RECORDED),
    "unknown_not_recorded": Scenario(not_recorded(unknown_status), *NOT_RECORDED),
    "failure_not_recorded": Scenario(not_recorded(check_caught), *NOT_RECORDED),
    "not_published": Scenario(not_published, "Publish Outcome Event", "EventBridge.FailedEntry"),
}
#: Once "completed" has ended on the same side: its task forgotten by the service, fetched again.
SUPERSEDED = Scenario(not_exist, "Superseded By Earlier Outcome")
EXPECTED = {**ALONE, **TOGETHER, "superseded": SUPERSEDED}


# --- running each path on both interpreters ------------------------------------------------------
@dataclass(frozen=True)
class Run:
    """One execution of one path on one interpreter, read as a :class:`Path`."""

    scenario: str
    side: str
    task: SubmittedTask
    arn: str
    state_machine_arn: str
    path: Path
    #: Each Wait state: the seconds it lasted, and the SecondsPath it was given.
    waits: tuple[tuple[float, Any], ...]

    @property
    def normalised(self) -> Path:
        ids = (self.task.task_id, self.task.execution_name, self.arn, self.state_machine_arn)
        return Normaliser(*ids).path(self.path)


Finish = Callable[[], Run]


@dataclass
class Runner:
    """Starts a path's execution on either interpreter and reads it back once it has ended."""

    stack: LocalStack
    interpreter: SecondInterpreter

    def start(self, scenario: str, side: str, submitted: SubmittedTask) -> Finish:
        if side == MOTO:
            arn = self.stack.session.start_execution(submitted)
            return lambda: self._moto(scenario, submitted, arn)
        execution_input = self.stack.session.execution_input(submitted)
        running = self.interpreter.start(submitted.execution_name, execution_input)
        return lambda: self._library(scenario, submitted, running)

    def _moto(self, scenario: str, submitted: SubmittedTask, arn: str) -> Run:
        execution = self.stack.session.wait_for_execution(arn, timeout=RUN_TIMEOUT_S)
        history = list(execution.history)
        path = moto_path(history, execution.status)
        waits = tuple(moto_waits(history))
        return Run(scenario, MOTO, submitted, arn, self.interpreter.state_machine_arn, path, waits)

    def _library(self, scenario: str, submitted: SubmittedTask, running: RunningExecution) -> Run:
        done: InterpreterRun = running.wait(RUN_TIMEOUT_S)
        path = library_path(done.events, done.status)
        waits = tuple(library_waits(done.events))
        machine = self.interpreter.state_machine_arn
        return Run(scenario, LIBRARY, submitted, done.arn, machine, path, waits)


def run_alone(stack: LocalStack, runner: Runner, name: str) -> list[Run]:
    """One path on both sides at once, nothing else running (the breaker opened by hand for
    "paused", and closed again after)."""
    if name == "paused":
        stack.session.open_breaker()
    try:
        arranged = [(side, ALONE[name].arrange(stack)) for side in (MOTO, LIBRARY)]
        finishes = [runner.start(name, side, submitted) for side, submitted in arranged]
        return [finish() for finish in finishes]
    finally:
        stack.session.close_breaker()


def run_together(stack: LocalStack, runner: Runner) -> list[Run]:
    """Every other path on both sides at once; "superseded" once "completed" has ended."""
    # Every task set up first (the OCR of the settled ones done), then every execution started:
    # no poll waits behind the set-up of the next path.
    arranged = {
        (name, side): scenario.arrange(stack)
        for name, scenario in TOGETHER.items()
        for side in (MOTO, LIBRARY)
    }
    finishes = {key: runner.start(*key, submitted) for key, submitted in arranged.items()}
    done: list[Run] = []
    for side in (MOTO, LIBRARY):
        first = finishes.pop(("completed", side))()
        done.append(first)
        stack.emulator.admin.inject("expire", task_id=first.task.task_id)
        again = task(first.task.task_id, refetch="again")
        finishes[("superseded", side)] = runner.start("superseded", side, again)
    with ThreadPoolExecutor(max_workers=8) as pool:
        done += list(pool.map(lambda finish: finish(), finishes.values()))
    return done


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[tuple[str, str], Run]]:
    """Every path, run once by each interpreter against one local stack and the emulator."""
    parameters = {
        "PollDeadlineSeconds": str(DEADLINE_SECONDS),
        "ResultsLifetimeSeconds": str(LIFETIME_SECONDS),
    }
    with local_stack(parameters, timing=Timing(queue_delay_s=0.1, per_region_s=0.05)) as stack:
        interpreter = SecondInterpreter(stack.cloud, stack.session.outputs.state_machine_arn)
        runner = Runner(stack, interpreter)
        done = [run for name in ALONE for run in run_alone(stack, runner, name)]
        done += run_together(stack, runner)
        yield {(run.scenario, run.side): run for run in done}


# --- what was found ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recorded:
    """A difference found between the interpreters, explained (with which side AWS's
    documentation supports) under ``heading`` in the local cloud's README."""

    heading: str
    matches: Callable[[Difference], bool]


def _json_text(value: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) else None
    except json.JSONDecodeError:
        return None


def _python_text(value: Any) -> Any:
    try:
        return ast.literal_eval(value) if isinstance(value, str) else None
    except (ValueError, SyntaxError):
        return None


def lambda_cause_respelt(d: Difference) -> bool:
    """moto writes a Lambda error's payload back compactly; Step Functions (and the bridge)
    pass on the payload as the function's runtime wrote it: the same JSON, spaced otherwise."""
    moto, library = _json_text(d.moto), _json_text(d.library)
    return d.where.endswith(".failure.Cause") and isinstance(moto, dict) and moto == library


def failed_entry_cause_is_a_python_repr(d: Difference) -> bool:
    """moto's ``EventBridge.FailedEntry`` Cause is ``str()`` of the PutEvents response (a Python
    dict's repr, single-quoted); the bridge's is the response as JSON."""
    moto, library = _python_text(d.moto), _json_text(d.library)
    return d.where == "execution cause" and isinstance(moto, dict) and moto == library


RECORDED: tuple[Recorded, ...] = (
    Recorded("A Lambda error's Cause is spaced differently", lambda_cause_respelt),
    Recorded(
        "moto's EventBridge.FailedEntry Cause is a Python repr", failed_entry_cause_is_a_python_repr
    ),
)


def found(runs: dict[tuple[str, str], Run]) -> list[Difference]:
    names = sorted({scenario for scenario, _ in runs})
    return [
        difference
        for name in names
        for difference in differences(
            name, runs[(name, MOTO)].normalised, runs[(name, LIBRARY)].normalised
        )
    ]


# --- the tests -----------------------------------------------------------------------------------
def test_each_path_ends_as_it_was_set_up_to_on_both_interpreters(
    runs: dict[tuple[str, str], Run],
) -> None:
    assert {scenario for scenario, _ in runs} == set(EXPECTED)
    for (scenario, side), run in runs.items():
        expected = EXPECTED[scenario]
        ended = (run.path.names()[-1], run.path.error)
        assert ended == (expected.end, expected.error), (scenario, side)


def test_both_interpreters_take_the_same_path_with_the_same_outputs(
    runs: dict[tuple[str, str], Run],
) -> None:
    unexplained = [d for d in found(runs) if not any(r.matches(d) for r in RECORDED)]
    assert not unexplained, "\n".join(str(d) for d in unexplained)


def test_every_recorded_difference_is_still_seen_and_explained(
    runs: dict[tuple[str, str], Run],
) -> None:
    seen = found(runs)
    text = README.read_text(encoding="utf-8")
    assert "## The second interpreter" in text
    for recorded in RECORDED:
        assert recorded.heading in text, recorded.heading
        assert any(recorded.matches(d) for d in seen), f"no longer seen: {recorded.heading}"


def test_both_interpreters_wait_the_seconds_the_poll_chose(
    runs: dict[tuple[str, str], Run],
) -> None:
    waited = [(run.scenario, run.side, *wait) for run in runs.values() for wait in run.waits]
    assert len({side for _, side, _, _ in waited}) == 2  # some Wait ran on each side
    for scenario, side, lasted, seconds in waited:
        assert seconds - 0.05 <= lasted <= seconds + 2.0, (scenario, side, lasted, seconds)
