"""``backfill``: announce many tasks again, from a file of task ids or JSON lines.

Each line is a task id, or a JSON object with the submitted event's detail fields
(``{"taskId", "regions": [{"name"}...], "correlationId", "metadata", "expectedSeconds"}``) and,
optionally, ``submittedAt`` (ISO 8601: when the task was sent to Aspose; the event carries it
as its time, so the product counts the results' lifetime from there). A line is checked by the
product's own contract (:func:`ocr_fetch.submission.parse_submitted_event`, on the very event
that would be sent) before anything is sent: a bad one is reported by its number, never sent.

Then each task is looked up in the table (BatchGetItem, never a scan):

- one that completed is skipped, unless forced;
- one that recorded another outcome (or completed, forced) is announced as a re-fetch,
  ``refetch: <label>``, so a new execution ``<task>-<label>`` fetches it (its first execution's
  name is taken for good). The starter runs it with the facts its first submission fixed;
- one that recorded nothing is announced as it is: a first announcement starts its execution,
  and one already running takes it as a duplicate, harmlessly.

A task submitted more than :data:`~ocr_fetch.submission.RESULTS_KEPT_SECONDS` ago (by its line's
``submittedAt``, or its stored facts) is counted, not announced: Aspose no longer has its
results. One label for the whole run makes running it again idempotent: with the same
``--label``, a task already re-fetched is a duplicate the starter ignores.

Nothing here prints: progress is reported through a callback, the summary returned.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from infra.stack.bus import SOURCE, Announcement
from infra.stack.results import COMPLETED, recorded_outcome
from infra.stack.session import StackSession
from infra.stack.times import iso
from ocr_fetch import jsonlimits
from ocr_fetch.errors import InvalidEventError
from ocr_fetch.events import PutResult
from ocr_fetch.submission import (
    MAX_EVENT_BYTES,
    RESULTS_KEPT_SECONDS,
    SUBMITTED_DETAIL_TYPE,
    SubmittedFacts,
    parse_submitted_event,
    parse_timestamp,
    validate_task_id,
)

#: What a JSON line may hold: the submitted detail's fields (``refetch`` is the run's own) and
#: when the task was submitted.
LINE_FIELDS = ("taskId", "regions", "correlationId", "metadata", "expectedSeconds", "submittedAt")
#: Tasks looked up in the table at a time (BatchGetItem's own limit).
LOOKUP_CHUNK = 100
CHECKING = "checking"
ANNOUNCING = "announcing"

#: ``report(phase, done, total)``: ``CHECKING`` the table, then ``ANNOUNCING`` on the bus.
Report = Callable[[str, int, int], None]


class LineError(ValueError):
    """Why a line is not a task to announce (the message names the field)."""


@dataclass(frozen=True)
class Line:
    """A well-formed line: the task it names, announced as it stands (no re-fetch yet)."""

    number: int
    announcement: Announcement


@dataclass(frozen=True)
class Malformed:
    number: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.number, "reason": self.reason}


@dataclass(frozen=True)
class Listed:
    """A task the summary lists, by its line: skipped, too old, repeated, failed or
    announced (with what was announced)."""

    number: int
    task_id: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"line": self.number, "taskId": self.task_id, **self.detail}


@dataclass
class Summary:
    """What a backfill did with every line."""

    label: str
    lines: int = 0
    announced: list[Listed] = field(default_factory=list)
    skipped_completed: list[Listed] = field(default_factory=list)
    too_old: list[Listed] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    repeated: list[Listed] = field(default_factory=list)
    failed: list[Listed] = field(default_factory=list)
    put_calls: int = 0
    retried_entries: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "lines": self.lines,
            "announced": len(self.announced),
            "skippedCompleted": len(self.skipped_completed),
            "tooOld": len(self.too_old),
            "malformed": len(self.malformed),
            "repeated": len(self.repeated),
            "failed": len(self.failed),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "counts": self.counts(),
            "announced": [entry.to_json() for entry in self.announced],
            "skippedCompleted": [entry.to_json() for entry in self.skipped_completed],
            "tooOld": [entry.to_json() for entry in self.too_old],
            "malformed": [entry.to_json() for entry in self.malformed],
            "repeated": [entry.to_json() for entry in self.repeated],
            "failed": [entry.to_json() for entry in self.failed],
            "putEvents": {"calls": self.put_calls, "retriedEntries": self.retried_entries},
        }


# --- reading the lines -------------------------------------------------------------------------
def read_lines(data: bytes, label: str, now: datetime, summary: Summary) -> list[Line]:
    """The well-formed lines of ``data``, each task once; the others go to ``summary`` (blank
    lines are skipped, not counted)."""
    lines: list[Line] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(data.split(b"\n"), start=1):
        text = _text(raw, number)
        if not text:
            continue
        summary.lines += 1
        try:
            line = parse_line(text, number)
            check_contract(line.announcement, label, now)
            if _too_old(line, line.announcement.submitted_at, now, summary):
                continue
        except LineError as error:
            summary.malformed.append(Malformed(number, str(error)))
            continue
        task_id = line.announcement.task_id
        if task_id in first_line:
            summary.repeated.append(Listed(number, task_id, {"firstLine": first_line[task_id]}))
            continue
        first_line[task_id] = number
        lines.append(line)
    return lines


def _text(raw: bytes, number: int) -> str:
    """A line's text without its line ending (or a BOM on the first); ``\\ufffd`` marks bytes
    that are not UTF-8, which :func:`parse_line` refuses."""
    text = raw.decode("utf-8", errors="replace").strip()
    return text.removeprefix("\ufeff") if number == 1 else text


def parse_line(text: str, number: int) -> Line:
    """A task id, or a JSON object of :data:`LINE_FIELDS`; ``LineError`` naming what is wrong."""
    if "\ufffd" in text:
        raise LineError("not UTF-8 text")
    if not text.startswith("{"):
        return Line(number, Announcement(_task_id(text)))
    try:
        value = jsonlimits.loads(text, max_bytes=MAX_EVENT_BYTES, what="the line")
    except jsonlimits.JsonLimitError as error:
        raise LineError(str(error)) from None
    except ValueError:
        raise LineError("not JSON, nor a task id") from None
    if not isinstance(value, dict):
        raise LineError("not a JSON object")
    unknown = sorted(set(value) - set(LINE_FIELDS))
    if unknown:
        raise LineError(f"unknown field {unknown[0]!r} (the fields are {', '.join(LINE_FIELDS)})")
    return Line(number, _announcement(value))


def _announcement(value: Mapping[str, Any]) -> Announcement:
    """The task a JSON line names; its fields' shapes are checked with the whole event by
    :func:`check_contract`, save what that cannot see."""
    regions = value.get("regions")
    names: tuple[Any, ...] | None = None
    if regions is not None:
        if not isinstance(regions, list) or not all(isinstance(r, dict) for r in regions):
            raise LineError('regions must be a list of objects such as {"name": "surname"}')
        names = tuple(region.get("name") for region in regions)
    submitted = value.get("submittedAt")
    submitted_at = parse_timestamp(submitted)
    if submitted is not None and submitted_at is None:
        raise LineError("submittedAt is not an ISO 8601 time (2026-01-31T12:00:00Z)")
    return Announcement(
        task_id=_task_id(value.get("taskId")),
        region_names=names,
        correlation_id=value.get("correlationId"),
        metadata=value.get("metadata"),
        expected_seconds=value.get("expectedSeconds"),
        submitted_at=submitted_at,
    )


def _task_id(value: object) -> str:
    if value is None:
        raise LineError("taskId is missing")
    try:
        return validate_task_id(value)
    except InvalidEventError:
        shown = json.dumps(value)[:50] if isinstance(value, str) else type(value).__name__
        raise LineError(f"{shown} is not a task id (a GUID: 8-4-4-4-12 hex digits)") from None


def check_contract(announcement: Announcement, label: str, now: datetime) -> None:
    """``LineError`` unless the starter would accept the event announcing this task, re-fetch
    label and time included: the product's own parser reads the very event that is sent. (A
    time past the results' lifetime is left out: such a task is counted, not malformed.)"""
    event: dict[str, Any] = {
        "version": "0",
        "id": "backfill-check",
        "detail-type": SUBMITTED_DETAIL_TYPE,
        "source": SOURCE,
        "detail": replace(announcement, refetch=label).detail(),
    }
    at = announcement.submitted_at
    if at is not None and (now - at).total_seconds() <= RESULTS_KEPT_SECONDS:
        event["time"] = iso(at)
    try:
        body = json.dumps(event, ensure_ascii=False)
        parse_submitted_event(body, now)
    except (InvalidEventError, ValueError, TypeError) as error:
        raise LineError(str(error) or type(error).__name__) from None


def _too_old(line: Line, submitted_at: datetime | None, now: datetime, summary: Summary) -> bool:
    """Whether Aspose no longer keeps the task's results; if so, it is counted in
    ``summary``."""
    if submitted_at is None or (now - submitted_at).total_seconds() <= RESULTS_KEPT_SECONDS:
        return False
    age = (now - submitted_at).total_seconds() / 3600
    detail = {"submittedAt": iso(submitted_at), "ageHours": round(age, 1)}
    summary.too_old.append(Listed(line.number, line.announcement.task_id, detail))
    return True


# --- deciding and announcing -------------------------------------------------------------------
@dataclass(frozen=True)
class Backfill:
    """What to backfill and how: the lines read, the run's re-fetch label, whether completed
    tasks are announced too, and the time it runs at."""

    lines: Sequence[Line]
    label: str
    force: bool
    now: datetime


def run(session: StackSession, backfill: Backfill, summary: Summary, report: Report) -> Summary:
    """Look each task up, then announce those to announce; ``summary`` says what became of
    each line."""
    chosen = _choose(session, backfill, summary, report)
    total = len(chosen)
    done = [0]
    report(ANNOUNCING, 0, total)

    def put(count: int) -> None:
        done[0] += count
        report(ANNOUNCING, done[0], total)

    result = session.announce_many([line.announcement for line in chosen], put) if chosen else None
    if result is not None:
        _record(chosen, result, summary)
    return summary


def _choose(
    session: StackSession, backfill: Backfill, summary: Summary, report: Report
) -> list[Line]:
    """The lines to announce, each as a first announcement or a re-fetch, in their order."""
    chosen: list[Line] = []
    lines = list(backfill.lines)
    report(CHECKING, 0, len(lines))
    for start in range(0, len(lines), LOOKUP_CHUNK):
        chunk = lines[start : start + LOOKUP_CHUNK]
        items = session.items([line.announcement.task_id for line in chunk])
        for line in chunk:
            item = items.get(line.announcement.task_id)
            decided = _decide(session, backfill, line, item, summary)
            if decided is not None:
                chosen.append(decided)
        report(CHECKING, start + len(chunk), len(lines))
    return chosen


def _decide(
    session: StackSession,
    backfill: Backfill,
    line: Line,
    item: dict[str, Any] | None,
    summary: Summary,
) -> Line | None:
    """The line as it is to be announced, or None when ``summary`` lists it instead (completed,
    or too old by its stored facts). A task that recorded an outcome is re-fetched; one that
    did not is announced as it is."""
    recorded = recorded_outcome(item)
    if recorded is None:
        return line
    task_id = line.announcement.task_id
    if recorded.get("status") == COMPLETED and not backfill.force:
        summary.skipped_completed.append(Listed(line.number, task_id))
        return None
    facts = _facts(session, task_id)
    if facts is not None and _too_old(line, facts.submitted_at, backfill.now, summary):
        return None
    return Line(line.number, replace(line.announcement, refetch=backfill.label))


def _facts(session: StackSession, task_id: str) -> SubmittedFacts | None:
    """What the task's first submission fixed, when the stack kept it readable."""
    try:
        return session.submitted(task_id)
    except ValueError:  # not the object the starter writes: its age is unknown
        return None


def _record(chosen: Sequence[Line], result: PutResult, summary: Summary) -> None:
    """Each announced line with its event id, each failed one with its error code."""
    failures = {failure.index: failure for failure in result.failures}
    for index, line in enumerate(chosen):
        task = line.announcement
        failure = failures.get(index)
        event_id = result.event_ids[index]
        if failure is not None or event_id is None:
            code = failure.code if failure else "no error code given"
            message = failure.message if failure else ""
            failed = {"errorCode": code, "errorMessage": message}
            summary.failed.append(Listed(line.number, task.task_id, failed))
            continue
        announced = {
            "executionName": task.execution_name,
            "eventId": event_id,
            "refetch": task.refetch is not None,
        }
        summary.announced.append(Listed(line.number, task.task_id, announced))
    summary.put_calls += result.calls
    summary.retried_entries += result.retried
