"""What the commands do to a stack, as functions ``make demo`` calls too: send a task to Aspose
and announce it, follow tasks to their outcome, fetch one again, download its results, redrive
dead letters.

Each raises :class:`~infra.ops.cli.errors.CliError` for what the user must hear about (an unknown
task, a task that did not complete); AWS and Aspose errors pass through, named, for ``app`` to
turn into their exit codes. Nothing here prints: progress is reported through a callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from infra.ops.cli.errors import CliError, ExitCode, bad_input, not_found
from infra.ops.cli.inputs import Image, NamedRegion
from infra.ops.cli.target import Target
from infra.ops.cli.views import Region, task_status
from infra.stack.dead_letters import Redrive
from infra.stack.history import Execution, Step
from infra.stack.outcomes import OutcomeSubscription, TaskOutcome
from infra.stack.results import COMPLETED
from infra.stack.session import StackSession
from infra.stack.values import json_object
from ocr_fetch.client import RecognitionSettings
from ocr_fetch.submission import execution_name_of

#: What the service answers while a task is still going: each gets a "next poll in" on its line.
RUNNING_STATUSES = {"Pending", "Processing", "Throttled", "Unavailable", "NotChecked"}
SOURCE = "ocr-results"


# --- submit ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Submission:
    """An image and its named regions, as ``ocr-results submit`` sends them."""

    image: Image
    regions: Sequence[NamedRegion]
    result_type: str = "Text"
    correlation_id: str | None = None
    metadata: Mapping[str, Any] | None = None
    source: str = SOURCE


@dataclass(frozen=True)
class Submitted:
    task_id: str
    event_id: str
    region_names: tuple[str | None, ...]
    result_type: str
    correlation_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "taskId": self.task_id,
            "eventId": self.event_id,
            "regions": [{"index": i, "name": n} for i, n in enumerate(self.region_names)],
            "resultType": self.result_type,
            "correlationId": self.correlation_id,
        }


def send(target: Target, submission: Submission) -> str:
    """Send the image and regions to Aspose; the task id it answers with."""
    client = target.aspose().client()
    return client.submit_regions(
        submission.image.data,
        [region.rect for region in submission.regions],
        RecognitionSettings(result_type=submission.result_type),
    )


def announce(session: StackSession, submission: Submission, task_id: str) -> Submitted:
    """Announce a task sent to Aspose on the stack's bus (``Region Recognition Submitted``)."""
    names = tuple(region.name for region in submission.regions)
    event_id = session.announce(
        task_id,
        list(names),
        correlation_id=submission.correlation_id,
        metadata=submission.metadata,
        source=submission.source,
    )
    return Submitted(task_id, event_id, names, submission.result_type, submission.correlation_id)


# --- following tasks ---------------------------------------------------------------------------
@dataclass
class Followed:
    """A task being followed, and what has been reported of its execution so far."""

    task_id: str
    label: str = ""
    execution_name: str = ""
    shown: set[tuple[int, int]] = field(default_factory=set)  # (step, error) already reported
    execution: Execution | None = None

    def __post_init__(self) -> None:
        self.execution_name = self.execution_name or self.task_id
        self.label = self.label or self.task_id

    @property
    def ended(self) -> bool:
        return self.execution is not None and not self.execution.running


#: Called with the task, when it happened (from the history) and one line saying what.
Report = Callable[[Followed, datetime | None, str], None]


def follow(
    session: StackSession,
    tasks: Sequence[Followed],
    report: Report,
    *,
    timeout: float,
    subscription: OutcomeSubscription | None = None,
) -> dict[str, TaskOutcome]:
    """Report each poll's answer, each retried failure and each execution's end, until every
    task has ended; their outcomes. ``WaitTimeout`` once ``timeout`` seconds have passed."""
    every = 1.0 if len(tasks) == 1 else 0.5  # histories are read at most this often
    last = [float("-inf")]

    def progress() -> None:
        if time.monotonic() - last[0] >= every:
            last[0] = time.monotonic()
            for task in tasks:
                if not task.ended:
                    _show(session, task, report)

    outcomes = session.wait_for_outcomes(
        {task.task_id: task.execution_name for task in tasks},
        timeout=timeout,
        subscription=subscription,
        progress=progress,
    )
    for task in tasks:
        if not task.ended:
            _show(session, task, report)  # the last states, entered since the last look
    return outcomes


def _show(session: StackSession, task: Followed, report: Report) -> None:
    described = session.describe_execution(task.execution_name)
    if described is None:
        return
    execution = session.execution(str(described["executionArn"]))
    if task.execution is None:
        report(task, execution.started, "execution started, named after the task")
    task.execution = execution
    for index, step in enumerate(execution.steps):
        for line, error in step_lines(step):
            if (index, error) not in task.shown:
                task.shown.add((index, error))
                report(task, step.entered, line)
    if not execution.running:
        report(task, execution.stopped, f"execution {execution.status}")


def step_lines(step: Step) -> list[tuple[str, int]]:
    """What a person cares about in one step: a poll's answer, a retried failure, the end;
    each with a number that keeps its lines apart."""
    lines: list[tuple[str, int]] = []
    if step.poll is not None:
        lines.append((poll_line(step.poll), -1))
    elif step.kind == "Task" and step.name.startswith(("Decode", "Record")):
        lines.append((step.name.capitalize(), -1))
    elif step.kind in ("Succeed", "Fail"):
        lines.append((step.name, -1))
    for number, error in enumerate(step.errors):
        lines.append((f"{step.name} failed with {error}; its Retry tries again", number))
    return lines


def poll_line(poll: Mapping[str, Any]) -> str:
    """``poll 2: Processing, next poll in 2 s`` (with why, for an answer about nothing)."""
    status = str(poll.get("status"))
    line = f"poll {poll.get('polls')}: {status}"
    cause = poll.get("transientCause")
    if isinstance(cause, dict) and cause.get("message"):
        line += f" ({cause.get('message')})"
    if status in RUNNING_STATUSES and not poll.get("giveUp"):
        line += f", next poll in {poll.get('waitSeconds')} s"
    elif poll.get("giveUp"):
        line += f", gave up ({poll.get('giveUpReason')})"
    return line


# --- refetch -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Refetch:
    """A re-fetch announced: the execution that will fetch the task again, and what it was
    told about the task (region names, when the stack still knows them)."""

    task_id: str
    execution_name: str
    region_names: tuple[str | None, ...] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "taskId": self.task_id,
            "executionName": self.execution_name,
            "regionNames": None if self.region_names is None else list(self.region_names),
        }


def refetch(session: StackSession, task_id: str, label: str | None = None) -> Refetch:
    """Announce the task again with a refetch label. The region names, correlation id and
    metadata are those the stack stored for the task (its table item, else its manifest);
    the correlation id and metadata of a task that recorded nothing come from its execution."""
    label = label or datetime.now(UTC).strftime("r%Y%m%dT%H%M%S")
    submission = original_submission(session, task_id)
    if submission is None:
        raise not_found(f"no task {task_id} in this stack (no execution, no outcome)")
    execution = execution_name_of(task_id, label)
    if session.describe_execution(execution) is not None:
        raise bad_input(f"--label {label}: execution {execution} exists already")
    name = session.announce_refetch(task_id, label, submission, source=SOURCE)
    regions = submission.get("regions")
    names = None if regions is None else tuple(r.get("name") for r in regions)
    return Refetch(task_id, name, names)


def original_submission(session: StackSession, task_id: str) -> dict[str, Any] | None:
    """What the task was announced with: ``regions`` (names, in order; None when unknown),
    ``correlationId``, ``metadata``. None for an unknown task.

    The task's submitted facts say it, as its first accepted submission fixed them (the starter
    runs the re-fetch with them whatever the event says, so a re-fetch can never change them).
    A task announced before they were kept falls back on its table item and manifest."""
    facts = session.submitted(task_id)
    if facts is not None:
        names = facts.region_names
        return {
            "regions": None if names is None else [{"name": name} for name in names],
            "correlationId": facts.correlation_id,
            "metadata": facts.metadata,
        }
    item = session.item(task_id) or {}
    key = item.get("manifestKey")
    manifest = session.manifest_at(str(key)) if key else None
    described = None if item else session.describe_execution(task_id)
    if not item and manifest is None and described is None:
        return None
    entries = (manifest or {}).get("regions") or item.get("regions")
    started = json_object((described or {}).get("input"))
    return {
        "regions": None
        if not entries
        else [{"name": entry.get("name")} for entry in sorted(entries, key=_index)],
        "correlationId": item.get("correlationId", started.get("correlationId")),
        "metadata": item.get("metadata", started.get("metadata")),
    }


def _index(entry: Mapping[str, Any]) -> int:
    return int(entry.get("index", 0))


# --- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Download:
    """What ``results`` wrote: each region's file, and the regions that had no result."""

    task_id: str
    directory: Path
    files: tuple[tuple[Region, Path], ...]
    skipped: tuple[Region, ...]
    manifest: Path

    def to_json(self) -> dict[str, Any]:
        return {
            "taskId": self.task_id,
            "directory": str(self.directory),
            "manifest": str(self.manifest),
            "files": [{**region.to_json(), "path": str(path)} for region, path in self.files],
            "skipped": [region.to_json() for region in self.skipped],
        }


def completed_regions(session: StackSession, task_id: str) -> tuple[list[Region], str]:
    """The regions of a completed task and its manifest's key; a one-line error when the task
    is unknown, has no outcome yet, or ended without completing."""
    status = task_status(session, task_id)
    if status is None:
        raise not_found(f"no task {task_id} in this stack (no execution, no outcome)")
    if status.item is None:
        state = status.execution.status if status.execution else "unknown"
        raise not_found(f"task {task_id} has no results yet: its execution is {state}")
    if status.outcome != COMPLETED:
        error = status.item.get("errorName")
        raise CliError(
            f"task {task_id} ended {status.outcome}"
            + (f" ({error})" if error else "")
            + ": there are no results to download",
            ExitCode.NOT_COMPLETED,
        )
    manifest_key = str(status.item.get("manifestKey") or "")
    manifest = session.manifest_at(manifest_key) if manifest_key else None
    if manifest is None:
        raise not_found(f"task {task_id}: its manifest is missing (expired?)")
    return [Region.of(entry) for entry in manifest.get("regions", [])], manifest_key


def download_results(
    session: StackSession,
    task_id: str,
    directory: Path,
    on_file: Callable[[Region], None] | None = None,
) -> Download:
    """Write each decoded region of a completed task, and its manifest, into ``directory``."""
    regions, manifest_key = completed_regions(session, task_id)
    directory.mkdir(parents=True, exist_ok=True)
    files: list[tuple[Region, Path]] = []
    for region in regions:
        if region.error or not region.s3_key:
            continue
        body, _ = session.read_object(region.s3_key)
        path = directory / _file_name(region.s3_key)
        path.write_bytes(body)
        files.append((region, path))
        if on_file is not None:
            on_file(region)
    manifest = directory / _file_name(manifest_key)
    manifest.write_bytes(session.read_object(manifest_key)[0])
    skipped = tuple(r for r in regions if r.error or not r.s3_key)
    return Download(task_id, directory, tuple(files), skipped, manifest)


def _file_name(key: str) -> str:
    """The last segment of a key (made of ``[A-Za-z0-9._-]`` by the layout), never a path."""
    name = PurePosixPath(key).name
    if name in ("", ".", ".."):
        raise CliError(f"refusing to write an object named {key!r}", ExitCode.AWS_ERROR)
    return name


# --- dead letters ------------------------------------------------------------------------------
def redrive(session: StackSession, message_id: str | None) -> Redrive:
    """Send back every dead letter the starter would now accept, or only ``message_id``; a
    named one that is unknown, or would be refused again, is a one-line error."""
    if message_id is None:
        return session.redrive_dead_letters()
    letters = {letter.message_id: letter for letter in session.dead_letters()}
    letter = letters.get(message_id)
    if letter is None:
        raise not_found(f"no dead letter {message_id!r} (ocr-results dlq list shows them)")
    if letter.problem is not None:
        raise bad_input(
            f"dead letter {message_id} would be refused again ({letter.problem}); it stays listed"
        )
    return session.redrive_dead_letters([message_id])
