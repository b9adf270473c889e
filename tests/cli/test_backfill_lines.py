"""``backfill``'s input and decisions without a stack: each line is a task id or a JSON object,
checked by the product's own contract before anything is sent; a bad line is named by its number;
a task past the results' lifetime is counted, not announced; a task that recorded an outcome is
re-fetched under the run's label, a completed one only when forced."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from rich.console import Console

from infra.ops.cli.backfill import (
    Backfill,
    Line,
    LineError,
    Summary,
    parse_line,
    read_lines,
    run,
)
from infra.ops.cli.output import BACKFILL_PHASES, Output
from infra.stack.bus import Announcement
from infra.stack.session import StackSession
from ocr_fetch.events import EntryFailure, PutResult
from ocr_fetch.submission import SubmittedFacts
from tests.cli.conftest import ocr_results

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LABEL = "b20260301T120000"
A = "2ce30237-86da-41ef-88e9-84f0b7acffc0"
B = "5d1b6c1e-0f0e-4b9b-9a57-1b7c1f0e2a3d"
C = "7a2f8e44-3c11-4f55-9b0a-2d6e8c9f1b20"
D = "9e8d7c6b-5a49-4838-a271-605f4e3d2c1b"


def read(*lines: str | bytes, label: str = LABEL) -> tuple[list[Line], Summary]:
    data = b"\n".join(line if isinstance(line, bytes) else line.encode() for line in lines)
    summary = Summary(label)
    return read_lines(data, label, NOW, summary), summary


def malformed(line: str | bytes) -> str:
    """The one reason a line is refused."""
    lines, summary = read(line)
    assert lines == []
    [bad] = summary.malformed
    assert bad.number == 1
    return bad.reason


# --- lines -------------------------------------------------------------------------------------
def test_a_task_id_line_is_a_plain_announcement_in_canonical_form() -> None:
    [line], summary = read(f"  {A.upper()}  ")

    assert line == Line(1, Announcement(A))
    assert summary.lines == 1


def test_a_json_line_carries_the_submitted_detail_and_its_time() -> None:
    submitted = NOW - timedelta(hours=2)
    text = json.dumps(
        {
            "taskId": A,
            "regions": [{"name": "surname"}, {"name": None}, {}],
            "correlationId": "order-17",
            "metadata": {"tenant": "acme", "n": 3},
            "expectedSeconds": 20,
            "submittedAt": "2026-03-01T10:00:00Z",
        }
    )

    [line], _ = read(text)

    task = line.announcement
    assert (task.task_id, task.region_names) == (A, ("surname", None, None))
    assert (task.correlation_id, task.metadata) == ("order-17", {"tenant": "acme", "n": 3})
    assert (task.expected_seconds, task.submitted_at) == (20, submitted)
    assert task.refetch is None
    assert task.detail() == {
        "taskId": A,
        "regions": [
            {"index": 0, "name": "surname"},
            {"index": 1, "name": None},
            {"index": 2, "name": None},
        ],
        "correlationId": "order-17",
        "metadata": {"tenant": "acme", "n": 3},
        "expectedSeconds": 20,
    }


def test_a_json_line_without_regions_leaves_them_out() -> None:
    [line], _ = read(json.dumps({"taskId": A}))

    assert line.announcement.detail() == {"taskId": A}


def test_line_numbers_count_every_line_and_blank_ones_are_skipped() -> None:
    lines, summary = read(b"\xef\xbb\xbf" + A.encode() + b"\r", b"", b"   ", B.encode(), b"")

    assert [(line.number, line.announcement.task_id) for line in lines] == [(1, A), (4, B)]
    assert summary.lines == 2


def test_a_task_named_twice_is_announced_once() -> None:
    lines, summary = read(A, json.dumps({"taskId": A.upper()}), B)

    assert [line.number for line in lines] == [1, 3]
    assert [(r.number, r.task_id, r.detail) for r in summary.repeated] == [(2, A, {"firstLine": 1})]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("not-a-task", '"not-a-task" is not a task id'),
        ("{2ce30237}", "not JSON, nor a task id"),
        ("[1, 2]", '"[1, 2]" is not a task id'),
        ('{"taskId": 7}', "int is not a task id"),
        ('{"regions": []}', "taskId is missing"),
        (json.dumps({"taskId": A, "taskid": A}), "unknown field 'taskid'"),
        (json.dumps({"taskId": A, "refetch": "x"}), "unknown field 'refetch'"),
        (json.dumps({"taskId": A, "regions": "surname"}), "regions must be a list of objects"),
        (json.dumps({"taskId": A, "regions": ["surname"]}), "regions must be a list of objects"),
        (json.dumps({"taskId": A, "submittedAt": "yesterday"}), "submittedAt is not an ISO 8601"),
        # the product's contract, as the starter applies it
        (json.dumps({"taskId": A, "regions": [{"name": "x" * 65}]}), "detail.regions[0].name"),
        (json.dumps({"taskId": A, "correlationId": "c" * 129}), "detail.correlationId"),
        (json.dumps({"taskId": A, "metadata": [1]}), "detail.metadata must be an object"),
        (json.dumps({"taskId": A, "metadata": {"n": 10**49}}), "significant digits"),
        (json.dumps({"taskId": A, "expectedSeconds": 0}), "detail.expectedSeconds"),
        (
            json.dumps({"taskId": A, "submittedAt": "2026-03-01T13:00:00Z"}),
            "ahead of the starter's clock",
        ),
    ],
)
def test_a_malformed_line_is_named_and_never_sent(line: str, says: str) -> None:
    assert says in malformed(line)


def test_a_line_that_is_not_utf8_is_malformed() -> None:
    assert malformed(A.encode()[:-1] + b"\xff") == "not UTF-8 text"


def test_a_line_nested_too_deep_is_malformed() -> None:
    assert "nested more than" in malformed('{"taskId": ' + "[" * 100 + "]" * 100 + "}")


def test_a_task_submitted_more_than_a_day_ago_is_counted_not_announced() -> None:
    old = json.dumps({"taskId": A, "submittedAt": "2026-02-28T10:30:00Z"})
    fresh = json.dumps({"taskId": B, "submittedAt": "2026-02-28T12:30:00+00:00"})

    lines, summary = read(old, fresh)

    assert [line.announcement.task_id for line in lines] == [B]
    [listed] = summary.too_old
    assert (listed.number, listed.task_id) == (1, A)
    assert listed.detail == {"submittedAt": "2026-02-28T10:30:00.000Z", "ageHours": 25.5}


def test_parse_line_raises_a_line_error() -> None:
    with pytest.raises(LineError, match="not JSON"):
        parse_line("{", 3)


# --- decisions, against a stand-in for the stack -----------------------------------------------
class Stack:
    """What ``run`` asks of a stack: items by key, the submitted facts, announcing many."""

    def __init__(
        self,
        items: dict[str, dict[str, Any]],
        facts: dict[str, datetime] | None = None,
        fail: Callable[[Announcement], str | None] | None = None,
    ) -> None:
        self._items = items
        self._facts = facts or {}
        self._fail = fail or (lambda announcement: None)
        self.looked_up: list[list[str]] = []
        self.announced: list[Announcement] = []

    def items(self, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        self.looked_up.append(list(task_ids))
        return {t: self._items[t] for t in task_ids if t in self._items}

    def submitted(self, task_id: str) -> SubmittedFacts | None:
        at = self._facts.get(task_id)
        if at is None:
            return None
        return SubmittedFacts(task_id, None, None, None, at, at, "source:tests")

    def announce_many(
        self, announcements: Sequence[Announcement], on_put: Callable[[int], None]
    ) -> PutResult:
        self.announced.extend(announcements)
        failures = tuple(
            EntryFailure(index, code)
            for index, a in enumerate(announcements)
            if (code := self._fail(a)) is not None
        )
        failed = {f.index for f in failures}
        ids = tuple(None if i in failed else f"event-{i}" for i in range(len(announcements)))
        on_put(len(announcements))
        return PutResult(ids, failures, calls=1)


def backfill(stack: Stack, *lines: str, force: bool = False) -> Summary:
    read_back, summary = read(*lines)
    reports: list[tuple[str, int, int]] = []
    session = cast(StackSession, stack)
    run(session, Backfill(read_back, LABEL, force, NOW), summary, lambda *r: reports.append(r))
    assert reports[-1] == ("announcing", len(stack.announced), len(stack.announced))
    return summary


def test_each_task_is_announced_as_its_record_says() -> None:
    stack = Stack(
        {
            A: {"taskId": A, "status": "Completed"},
            B: {"taskId": B, "status": "TimedOut"},
            C: {"taskId": C},  # written before any outcome: nothing recorded
        }
    )

    summary = backfill(stack, A, B, C, D)

    assert stack.looked_up == [[A, B, C, D]]
    assert [(a.task_id, a.refetch) for a in stack.announced] == [(B, LABEL), (C, None), (D, None)]
    assert [(s.number, s.task_id) for s in summary.skipped_completed] == [(1, A)]
    assert [entry.to_json() for entry in summary.announced] == [
        {
            "line": 2,
            "taskId": B,
            "executionName": f"{B}-{LABEL}",
            "eventId": "event-0",
            "refetch": True,
        },
        {"line": 3, "taskId": C, "executionName": C, "eventId": "event-1", "refetch": False},
        {"line": 4, "taskId": D, "executionName": D, "eventId": "event-2", "refetch": False},
    ]


def test_forced_a_completed_task_is_fetched_again() -> None:
    stack = Stack({A: {"taskId": A, "status": "Completed"}})

    summary = backfill(stack, A, force=True)

    assert [(a.task_id, a.refetch) for a in stack.announced] == [(A, LABEL)]
    assert summary.skipped_completed == []


def test_a_recorded_task_too_old_by_its_stored_facts_is_counted() -> None:
    stack = Stack(
        {A: {"taskId": A, "status": "TimedOut"}, B: {"taskId": B, "status": "TimedOut"}},
        facts={A: NOW - timedelta(hours=30), B: NOW - timedelta(hours=3)},
    )

    summary = backfill(stack, A, B)

    assert [a.task_id for a in stack.announced] == [B]
    assert [(t.number, t.task_id, t.detail["ageHours"]) for t in summary.too_old] == [(1, A, 30.0)]


def test_tasks_are_looked_up_a_hundred_at_a_time() -> None:
    ids = [f"{n:08x}-0000-4000-8000-000000000000" for n in range(250)]
    stack = Stack({})

    summary = backfill(stack, *ids)

    assert [len(chunk) for chunk in stack.looked_up] == [100, 100, 50]
    assert len(summary.announced) == 250


def test_entries_that_failed_are_listed_with_their_lines() -> None:
    stack = Stack({}, fail=lambda a: "InternalFailure" if a.task_id == B else None)

    summary = backfill(stack, A, B)

    assert [entry.to_json() for entry in summary.failed] == [
        {"line": 2, "taskId": B, "errorCode": "InternalFailure", "errorMessage": ""}
    ]
    assert summary.counts()["announced"] == 1


def test_the_summary_json_shape() -> None:
    stack = Stack({A: {"taskId": A, "status": "Completed"}})

    summary = backfill(stack, A, B, "nope", json.dumps({"taskId": C, "submittedAt": "2020-01-01"}))

    document = summary.to_json()
    assert set(document) == {
        "label",
        "counts",
        "announced",
        "skippedCompleted",
        "tooOld",
        "malformed",
        "repeated",
        "failed",
        "putEvents",
    }
    assert document["counts"] == {
        "lines": 4,
        "announced": 1,
        "skippedCompleted": 1,
        "tooOld": 1,
        "malformed": 1,
        "repeated": 0,
        "failed": 0,
    }
    assert document["malformed"] == [
        {"line": 3, "reason": '"nope" is not a task id (a GUID: 8-4-4-4-12 hex digits)'}
    ]
    assert document["putEvents"] == {"calls": 1, "retriedEntries": 0}


# --- the command, before it reaches a stack ----------------------------------------------------
def test_a_missing_file_and_a_bad_label_are_bad_input(tmp_path: Path) -> None:
    state = str(tmp_path / "none.json")
    missing = ocr_results("--local", "--state-file", state, "backfill", str(tmp_path / "no.txt"))
    tasks = tmp_path / "tasks.txt"
    tasks.write_text(A + "\n")
    label = ocr_results("--local", "--state-file", state, "backfill", str(tasks), "--label", "a b")

    assert missing.code == 2
    assert "no such file" in missing.error_line
    assert label.code == 2
    assert "--label" in label.error_line


# --- the progress bar --------------------------------------------------------------------------
def bars(terminal: bool) -> str:
    out = Output()
    stream = io.StringIO()
    out.err = Console(file=stream, force_terminal=terminal, width=100)
    with out.progress(BACKFILL_PHASES) as report:
        report("checking", 0, 3)
        report("checking", 3, 3)
        report("announcing", 0, 2)
        report("announcing", 2, 2)
    return stream.getvalue()


def test_a_terminal_sees_a_bar_for_each_phase() -> None:
    shown = bars(terminal=True)

    assert "checking the table" in shown
    assert "3/3" in shown
    assert "announcing on the bus" in shown
    assert "2/2" in shown


def test_a_pipe_gets_no_bar() -> None:
    assert bars(terminal=False) == ""


def test_a_line_both_old_and_malformed_is_malformed() -> None:
    line = json.dumps({"taskId": A, "submittedAt": "2026-02-20T00:00:00Z", "metadata": [1]})

    assert "detail.metadata must be an object" in malformed(line)
