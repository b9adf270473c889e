"""``ocr-results backfill`` against the local stack: a file mixing task ids, JSON lines, a
malformed line, a completed task and one too old; what each became, on the bus and in the
stack; and PutEvents failures, injected by the local cloud, retried for exactly the entries
that failed, or listed with exit code 5 when they keep failing."""

from __future__ import annotations

import io
import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.local.samples import id_card, registration_form
from ocr_fetch.events import MAX_PUT_ATTEMPTS
from tests.cli.conftest import CliStack, Ran

pytestmark = pytest.mark.slow

CARD_NAMES = ["surname", "given_names", "date_of_birth", "document_number", "expiry_date"]


def backfill(cli: CliStack, tmp_path: Path, lines: list[str], *args: str) -> Ran:
    path = tmp_path / f"tasks-{uuid.uuid4().hex[:6]}.txt"
    path.write_text("\n".join(lines) + "\n")
    return cli.run("backfill", str(path), *args)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def completed_task(cli: CliStack) -> str:
    """A task announced once and completed."""
    task_id = cli.stack.submit(id_card())
    cli.stack.session.announce(task_id, list(CARD_NAMES))
    assert cli.stack.outcome(task_id, timeout=60).status == "Completed"
    return task_id


def test_a_mixed_file_announces_what_it_should_and_says_what_became_of_each_line(
    cli: CliStack, completed_task: str, tmp_path: Path
) -> None:
    # Given: a task sent to Aspose and never announced (a plain id), another with its names,
    # correlation id and submission time (a JSON line), a malformed line, a completed task, and
    # a task submitted more than a day ago
    plain = cli.stack.submit(registration_form())
    named = cli.stack.submit(id_card())
    submitted_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    old = str(uuid.uuid4())
    lines = [
        plain,
        json.dumps(
            {
                "taskId": named,
                "regions": [{"name": name} for name in CARD_NAMES],
                "correlationId": "backfill-1",
                "metadata": {"tenant": "acme"},
                "submittedAt": iso(submitted_at),
            }
        ),
        "not-a-task-id",
        completed_task,
        json.dumps({"taskId": old, "submittedAt": iso(datetime.now(UTC) - timedelta(hours=30))}),
    ]

    # When
    ran = backfill(cli, tmp_path, lines, "--label", "bf1", "--json")

    # Then: exit code 2 names the malformed line; the rest went ahead
    assert ran.code == 2, ran.err
    assert "1 malformed lines were not sent" in ran.error_line
    summary = ran.json()
    assert summary["label"] == "bf1"
    assert summary["counts"] == {
        "lines": 5,
        "announced": 2,
        "skippedCompleted": 1,
        "tooOld": 1,
        "malformed": 1,
        "repeated": 0,
        "failed": 0,
    }
    assert [
        (a["line"], a["taskId"], a["executionName"], a["refetch"]) for a in summary["announced"]
    ] == [
        (1, plain, plain, False),
        (2, named, named, False),
    ]
    assert all(a["eventId"] for a in summary["announced"])
    assert summary["skippedCompleted"] == [{"line": 4, "taskId": completed_task}]
    assert [(t["line"], t["taskId"]) for t in summary["tooOld"]] == [(5, old)]
    [bad] = summary["malformed"]
    assert bad["line"] == 3
    assert "is not a task id" in bad["reason"]
    assert summary["failed"] == []

    # and each announced task is fetched, with what its line said
    assert cli.stack.outcome(plain, timeout=60).status == "Completed"
    assert cli.stack.outcome(named, timeout=60).status == "Completed"
    facts = cli.stack.session.submitted(named)
    assert facts is not None
    assert facts.region_names == tuple(CARD_NAMES)
    assert facts.correlation_id == "backfill-1"
    assert facts.submitted_at == submitted_at  # the lifetime counts from the real submission
    assert (cli.stack.session.item(named) or {})["correlationId"] == "backfill-1"
    # and nothing was announced for the old, the malformed or the completed task
    assert cli.stack.session.describe_execution(old) is None
    assert cli.stack.session.describe_execution(f"{completed_task}-bf1") is None


def test_a_completed_task_is_fetched_again_with_force(
    cli: CliStack, completed_task: str, tmp_path: Path
) -> None:
    skipped = backfill(cli, tmp_path, [completed_task])
    forced = backfill(cli, tmp_path, [completed_task], "--force", "--label", "again", "--json")

    assert skipped.code == 0, skipped.err
    assert "skipped         1 completed already (--force announces them)" in skipped.out
    assert forced.code == 0, forced.err
    [announced] = forced.json()["announced"]
    assert announced["executionName"] == f"{completed_task}-again"
    assert announced["refetch"] is True
    outcome = cli.stack.outcome(
        completed_task, timeout=60, execution_name=f"{completed_task}-again"
    )
    assert outcome.status == "Completed"


def test_stdin_is_read_with_a_dash(
    cli: CliStack, completed_task: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(f"{completed_task}\n".encode())))

    ran = cli.run("backfill", "-", "--json")

    assert ran.code == 0, ran.err
    assert ran.json()["counts"]["skippedCompleted"] == 1


# --- PutEvents failures ------------------------------------------------------------------------
def fresh_tasks(count: int) -> list[str]:
    """Task ids the stack has never seen (Aspose will not know them either: NotFound)."""
    return [str(uuid.uuid4()) for _ in range(count)]


def test_a_failed_call_is_retried_for_its_entries_only(cli: CliStack, tmp_path: Path) -> None:
    # Given 13 tasks (two PutEvents calls: 10 and 3), and the local cloud failing every entry of
    # the one call that carries the 12th task, once
    tasks = fresh_tasks(13)
    fault = cli.stack.cloud.faults.inject(
        "events_failed_entry", target="events:PutEvents", match=tasks[11], times=1
    )

    ran = backfill(cli, tmp_path, tasks, "--json")

    # Then only the 3 entries of that call were sent again, and every task was announced
    assert ran.code == 0, ran.err
    summary: dict[str, Any] = ran.json()
    assert fault.hits == 1
    assert summary["putEvents"] == {"calls": 3, "retriedEntries": 3}
    assert [a["taskId"] for a in summary["announced"]] == tasks
    assert summary["failed"] == []


def test_entries_that_keep_failing_are_listed_and_exit_5(cli: CliStack, tmp_path: Path) -> None:
    tasks = fresh_tasks(2)
    cli.stack.cloud.faults.inject(
        "events_failed_entry",
        target="events:PutEvents",
        match=tasks[1],
        times=MAX_PUT_ATTEMPTS,
        code="ThrottlingException",
    )

    ran = backfill(cli, tmp_path, tasks, "--label", "keep")
    as_json = backfill(cli, tmp_path, tasks, "--label", "keep", "--json")

    assert ran.code == 5, ran.err
    assert "2 tasks not announced (ThrottlingException)" in ran.error_line
    assert "run them again with --label keep" in ran.error_line
    assert f"line 2: task {tasks[1]} not announced: ThrottlingException" in ran.out
    assert "not announced   2" in ran.out
    # the fault is used up: the same file again announces them
    assert as_json.code == 0, as_json.err
    assert as_json.json()["counts"]["announced"] == 2
