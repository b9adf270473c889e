"""How ``ocr-results`` shows things: ``--json`` documents on stdout, tables and lines for people,
progress and the one-line errors on stderr.

Every renderer takes a view (``infra.ops.cli.views``) or an action's result
(``infra.ops.cli.actions``); rich draws tables when stdout is a terminal and plain aligned text
otherwise. Nothing is printed as rich markup (region names, reasons and messages come from
outside), and recognised text only when a view holds it (``inspect --show-text``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from rich import progress as bars
from rich.console import Console
from rich.table import Table

from infra.ops.cli.actions import Download, Followed, Refetch, Submitted, poll_line
from infra.ops.cli.backfill import Summary
from infra.ops.cli.views import (
    Progress,
    Region,
    TaskReport,
    TaskStatus,
    breaker_json,
    dead_letter_json,
)
from infra.ops.listing import Row
from infra.stack.dead_letters import DeadLetter, Redrive
from infra.stack.fleet import BreakerState
from infra.stack.history import Execution, Step
from infra.stack.times import iso, seconds_between
from ocr_fetch.fleet import BY_OPERATOR
from ocr_fetch.submission import RESULTS_KEPT_SECONDS

PROGRAM = "ocr-results"
#: Width of the output when it is not a terminal (a pipe, a file): tables are never folded.
PLAIN_WIDTH = 1000
ARROW = " → "


def _console(stream: IO[str]) -> Console:
    terminal = stream.isatty()
    return Console(
        file=stream,
        markup=False,
        highlight=False,
        emoji=False,
        width=None if terminal else PLAIN_WIDTH,
        no_color=not terminal,
        soft_wrap=not terminal,
    )


class Output:
    """Where a command's output, progress and errors go (this process's stdout and stderr)."""

    def __init__(self, *, as_json: bool = False) -> None:
        self.as_json = as_json
        self.out = _console(sys.stdout)
        self.err = _console(sys.stderr)

    def document(self, value: Any) -> None:
        """The ``--json`` answer: one JSON document on stdout."""
        sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")
        sys.stdout.flush()

    def line(self, text: str = "") -> None:
        self.out.print(text)

    def note(self, text: str) -> None:
        """A line of progress or advice, on stderr (kept out of what a script reads)."""
        self.err.print(text)

    def error(self, message: str) -> None:
        """The one line a failed command ends with."""
        flat = " ".join(message.split())
        sys.stderr.write(f"{PROGRAM}: error: {flat}\n")
        sys.stderr.flush()

    @contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        """A spinner on stderr while waiting, when stderr is a terminal."""
        if not self.err.is_terminal:
            yield
            return
        with self.err.status(what):
            yield

    @contextmanager
    def progress(self, phases: Mapping[str, str]) -> Iterator[Callable[[str, int, int], None]]:
        """Bars on stderr, one a phase (``phases``: its name, what its bar says), when stderr is
        a terminal; the callback is told ``(phase, done, total)``. A pipe gets nothing."""
        if not self.err.is_terminal:
            yield lambda phase, done, total: None
            return
        columns = (
            bars.TextColumn("{task.description}"),
            bars.BarColumn(),
            bars.MofNCompleteColumn(),
            bars.TimeElapsedColumn(),
        )
        with bars.Progress(*columns, console=self.err) as shown:
            ids: dict[str, bars.TaskID] = {}

            def report(phase: str, done: int, total: int) -> None:
                if phase not in ids:
                    ids[phase] = shown.add_task(phases.get(phase, phase), total=total)
                shown.update(ids[phase], completed=done, total=total)

            yield report


# --- submit and follow -------------------------------------------------------------------------
def submitted_lines(submitted: Submitted) -> list[str]:
    names = [name or f"#{index}" for index, name in enumerate(submitted.region_names)]
    shown = ", ".join(names[:6]) + (f", … ({len(names)} in all)" if len(names) > 6 else "")
    return [
        f"Submitted task {submitted.task_id} to Aspose: {len(names)} regions ({shown}), "
        f"result type {submitted.result_type}",
        f"Announced it on the stack's bus (event {submitted.event_id})"
        + (f", correlation id {submitted.correlation_id}" if submitted.correlation_id else ""),
    ]


class ProgressLines:
    """Says what :func:`infra.ops.cli.actions.follow` reports, one line each, with the seconds since
    ``started`` (the history's own times); ``say`` is ``Output.note`` for the commands."""

    def __init__(
        self, say: Callable[[str], None], started: datetime, *, labels: bool = False
    ) -> None:
        self.say = say
        self.started = started
        self.labels = labels
        self.width = 0

    def __call__(self, task: Followed, at: datetime | None, line: str) -> None:
        offset = seconds_between(self.started, at)
        shown = f"{offset:5.1f} s" if offset is not None else "     - "
        label = ""
        if self.labels:
            self.width = max(self.width, len(task.label))
            label = f"  {task.label:<{self.width}}"
        self.say(f"  {shown}{label}  {line}")


# --- status ------------------------------------------------------------------------------------
def status_lines(status: TaskStatus) -> list[str]:
    """The outcome and counts, or where the running execution stands."""
    item = status.item
    if item is not None:
        lines = [f"Task {status.task_id}: {item.get('status')}"]
        lines += _pairs(
            ("Aspose said", _aspose_said(item)),
            ("regions", _region_counts(item)),
            ("polls", item.get("polls")),
            ("error", _error(item.get("errorName"), item.get("errorMessage"))),
            ("warnings", ", ".join(item.get("warnings") or []) or None),
            ("correlation id", item.get("correlationId")),
            ("recorded at", item.get("recordedAt")),
            ("execution", item.get("executionArn")),
        )
        return lines
    execution = status.execution
    assert execution is not None
    progress = Progress.of(execution)
    lines = [f"Task {status.task_id}: no outcome recorded yet; execution {execution.status}"]
    last = progress.last_poll
    lines += _pairs(
        ("started at", iso(execution.started)),
        ("state", progress.state),
        ("polls", progress.polls),
        ("last answer", poll_line(last) if last else None),
        ("next poll", _next_poll(progress)),
        ("error", _error(execution.error, execution.cause)),
    )
    if not execution.running:
        lines.append(
            f"  it ended without recording an outcome: once the cause is fixed, redrive the "
            f"execution (aws stepfunctions redrive-execution), or ocr-results refetch "
            f"{status.task_id}"
        )
    return lines


def _next_poll(progress: Progress) -> str | None:
    if progress.next_poll_in is None:
        return None
    return f"in {progress.next_poll_in} s (at {iso(progress.next_poll_at)})"


def _aspose_said(item: dict[str, Any]) -> str | None:
    said = item.get("taskStatus")
    code = item.get("responseStatusCode")
    if said is None:
        return None
    return str(said) + (f" (responseStatusCode {code})" if code else "")


def _region_counts(item: dict[str, Any]) -> str | None:
    if item.get("regionCount") is None:
        return None
    text = f"{item.get('decodedCount', 0)} of {item.get('regionCount')} decoded"
    if item.get("errorCount"):
        text += f", {item.get('errorCount')} with an error"
    if item.get("countMismatch"):
        text += ", the service answered a different number of results"
    return text


def _error(name: Any, message: Any) -> str | None:
    if not name:
        return None
    return f"{name}: {message}" if message else str(name)


def _pairs(*pairs: tuple[str, Any]) -> list[str]:
    return [f"  {key:<15} {value}" for key, value in pairs if value not in (None, "")]


# --- inspect -----------------------------------------------------------------------------------
def show_report(output: Output, report: TaskReport, drawn: Path | None = None) -> None:
    """Everything about one task: outcome, regions, objects, each execution's path (and where
    the latest one was drawn)."""
    if report.item is not None:
        for line in status_lines(TaskStatus(report.task_id, report.item, None)):
            output.line(line)
    else:
        output.line(f"Task {report.task_id}: no item in the table (no outcome recorded)")
    if report.regions:
        output.line()
        output.out.print(_regions_table(report.regions, show_text=report.show_text))
    if report.objects:
        output.line()
        table = _table(f"Stored in s3://{report.bucket}/", "object", "bytes", "content type")
        for stored in report.objects:
            table.add_row(stored.name, str(stored.size), stored.content_type)
        output.out.print(table)
    for execution in report.executions:
        output.line()
        for line in execution_lines(execution):
            output.line(line)
    if drawn is not None and report.latest is not None:
        output.line()
        output.line(f"Drew the state machine and the path of {report.latest.name} to {drawn}")


def _regions_table(regions: Sequence[Region], *, show_text: bool) -> Table:
    columns = ["#", "name", "type", "content type", "bytes", "error"]
    table = _table("Regions", *columns, *(["text"] if show_text else []))
    for region in regions:
        row = [
            str(region.index),
            region.name or "",
            region.type or "",
            region.content_type or "",
            "" if region.size is None else str(region.size),
            region.error or "",
        ]
        if show_text:
            row.append(region.text if region.text is not None else "")
        table.add_row(*row)
    return table


def execution_lines(execution: Execution) -> list[str]:
    """An execution's summary, each state it entered with its time, and its outcome event."""
    took = seconds_between(execution.started, execution.stopped)
    waits = execution.waits()
    lines = [
        f"Execution {execution.name}: {execution.status}"
        + (f" in {took:.1f} s" if took is not None else "")
        + f", {execution.polls_made} polls"
        + (f", waits {', '.join(str(w) for w in waits)} s" if waits else "")
    ]
    if execution.error:
        lines.append(f"  error {_error(execution.error, execution.cause)}")
    for step in execution.steps:
        offset = seconds_between(execution.started, step.entered)
        at = f"{offset:7.1f} s" if offset is not None else "        -"
        lines.append(f"  {at}  {step.name:<28} {step_detail(step)}".rstrip())
    event = execution.outcome_event
    if event is not None:
        detail = event.get("detail") or {}
        lines.append(
            f"  outcome event {event.get('detail-type')} (id {event.get('id')}, "
            f"{event.get('time')}): {detail.get('regionCount', 0)} regions, "
            f"{detail.get('errorCount', 0)} with an error"
        )
    return lines


def step_detail(step: Step) -> str:
    """What happened in a step, in a few words: a poll's answer, a wait, retried errors."""
    parts = []
    if step.poll is not None:
        parts.append(poll_line(step.poll))
    if step.wait_seconds is not None:
        parts.append(f"waited {step.wait_seconds} s")
    parts += [f"✗ {error}, retried" for error in step.errors]
    return "; ".join(parts)


def path_summary(steps: Sequence[Step]) -> list[str]:
    """The states visited in order (choices left out), waits with their seconds, retries
    marked: ``Start Polling → Check Task Status → Wait 1s → …``."""
    shown: list[str] = []
    for step in steps:
        if step.kind == "Choice":
            continue
        text = f"Wait {step.wait_seconds}s" if step.wait_seconds is not None else step.name
        shown.append(text + "".join(f" ✗ {error} ↻" for error in step.errors))
    return shown


# --- list --------------------------------------------------------------------------------------
def listing_table(rows: Sequence[Row]) -> Table:
    table = _table(
        "Executions, newest first",
        "task",
        "execution",
        "status",
        "outcome",
        "started",
        "seconds",
        "polls",
        "correlation id",
    )
    for row in rows:
        execution = row.name.removeprefix(row.task_id) or "(first)"
        table.add_row(
            row.task_id,
            execution.lstrip("-"),
            row.status,
            row.outcome or "",
            iso(row.started) or "",
            "" if row.seconds is None else f"{row.seconds:.1f}",
            "" if row.polls is None else str(row.polls),
            row.correlation_id or "",
        )
    return table


# --- results, refetch --------------------------------------------------------------------------
def download_lines(download: Download) -> list[str]:
    lines = [
        f"Wrote {len(download.files)} regions of task {download.task_id} to {download.directory}:"
    ]
    for region, path in download.files:
        lines.append(f"  {path.name:<32} {region.content_type}, {region.size} bytes")
    lines.append(f"  {download.manifest.name:<32} the manifest (what each region is)")
    for region in download.skipped:
        lines.append(f"  region {region.index} ({region.name or 'unnamed'}): {region.error}")
    return lines


def refetch_lines(refetch: Refetch) -> list[str]:
    names = refetch.region_names
    known = (
        "region names unknown: the regions are stored by index"
        if names is None
        else f"{len(names)} region names carried over"
    )
    return [
        f"Announced a re-fetch of task {refetch.task_id}: execution {refetch.execution_name} "
        f"fetches it again ({known})"
    ]


# --- dead letters ------------------------------------------------------------------------------
def dead_letters_table(letters: Sequence[DeadLetter]) -> Table:
    table = _table("Dead letters", "message id", "task", "sent", "receives", "redrivable", "reason")
    for letter in letters:
        shown = dead_letter_json(letter)
        table.add_row(
            letter.message_id,
            letter.task_id or "",
            shown["sentAt"] or "",
            str(letter.receive_count),
            "yes" if shown["redrivable"] else f"no: {shown['problem']}",
            letter.why,
        )
    return table


def redrive_lines(redrive: Redrive) -> list[str]:
    lines = [f"Sent back to the start queue: {len(redrive.sent)}"]
    lines += [f"  {letter.message_id} (task {letter.task_id})" for letter in redrive.sent]
    if redrive.kept:
        lines.append(f"Left in the dead-letter queue, would be refused again: {len(redrive.kept)}")
        lines += [f"  {letter.message_id}: {letter.problem}" for letter in redrive.kept]
    return lines


# --- backfill ----------------------------------------------------------------------------------
#: What each of backfill's phases' bar says.
BACKFILL_PHASES = {"checking": "checking the table", "announcing": "announcing on the bus"}


def backfill_lines(summary: Summary) -> list[str]:
    """The counts, then each line that needs a person: malformed ones (by number) and those
    not announced (with EventBridge's error code); skipped and too old ones only as counts."""
    counts = summary.counts()
    refetched = sum(1 for entry in summary.announced if entry.detail.get("refetch"))
    refetches = f", {refetched} as re-fetches (<task>-{summary.label})" if refetched else ""
    lines = [
        f"Backfill {summary.label}: {counts['lines']} lines",
        f"  {'announced':<15} {counts['announced']}{refetches}",
    ]
    lines += [
        f"  {name:<15} {counts[key]} {what}" for key, name, what in _BACKFILL_COUNTS if counts[key]
    ]
    lines += [f"  line {bad.number}: malformed: {bad.reason}" for bad in summary.malformed]
    lines += [
        f"  line {entry.number}: task {entry.task_id} not announced: {entry.detail['errorCode']}"
        for entry in summary.failed
    ]
    return lines


_BACKFILL_COUNTS = (
    ("skippedCompleted", "skipped", "completed already (--force announces them)"),
    (
        "tooOld",
        "too old",
        f"submitted more than {RESULTS_KEPT_SECONDS // 3600} h ago: gone at Aspose, not announced",
    ),
    ("repeated", "repeated", "lines naming a task again (announced once)"),
    ("malformed", "malformed", "lines, not sent"),
    ("failed", "not announced", "(EventBridge failed them after every retry)"),
)


# --- the breaker -------------------------------------------------------------------------------
def breaker_lines(state: BreakerState, changed: bool | None = None) -> list[str]:
    """The breaker's state, and what ``open`` or ``close`` did (``changed``)."""
    shown = breaker_json(state)
    view = state.view
    if not view.open:
        head = "Breaker: closed (the fleet calls Aspose)"
    elif view.opened_by == BY_OPERATOR:
        head = f"Breaker: open since {shown['openedAt']}, by an operator (no probe closes it)"
    else:
        head = (
            f"Breaker: open since {shown['openedAt']}, by a run of non-answers (a definite answer "
            "to a probe closes it)"
        )
    rate = state.rate_factor
    lines = [head]
    if changed is False:
        lines.append("  (it was so already: nothing changed)")
    lines += _pairs(
        ("next probe", _probe(state)),
        ("non-answers", f"{view.failures} in a row (it opens at {shown['opensAfter']})"),
        ("rate", None if rate is None else f"{rate:.0%} of the budget, recovering after a 429"),
        ("budget", _budget(state.calls_per_second)),
    )
    return lines


def _probe(state: BreakerState) -> str | None:
    at = state.next_probe_at
    if at is None:
        return None
    wait = at - state.now
    shown = breaker_json(state)["nextProbeAt"]
    return f"{shown} (in {wait:.0f} s)" if wait > 0 else f"{shown} (due: the next check probes)"


def _budget(calls_per_second: float | None) -> str | None:
    if calls_per_second is None:
        return None
    return (
        "none (AsposeCallsPerSecond 0)"
        if not calls_per_second
        else (f"{calls_per_second:g} calls a second to Aspose, fleet-wide")
    )


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, box=None, pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table
