"""The console's pages at the HTML level, on a local stack: what an on-call engineer needs to see
(status, errors, UTC times, polls, the path, the stored objects) and nothing they must not (the
recognised text, markup from an event)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta, timezone

from infra.ops.console import ConsoleServer
from infra.ops.console.formats import NOTHING, duration, utc
from infra.ops.console.pages import execution_href
from ocr_fetch.submission import parse_timestamp
from tests.console.conftest import HOSTILE, HOSTILE_NAME, Tasks, request
from tests.support.local_stack import LocalStack

UTC_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{3})? UTC"


def cell_texts(body: str, execution: str) -> list[str]:
    """The texts of the cells of the list's row for ``execution``."""
    row = re.search(rf'<tr[^>]*data-execution="{re.escape(execution)}"[^>]*>(.*?)</tr>', body)
    assert row, f"no row for {execution}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


def test_the_list_shows_each_execution_with_status_outcome_time_and_polls(
    console: ConsoleServer, stack: LocalStack, tasks: Tasks
) -> None:
    # When the on-call engineer opens the console
    answer = request(console, "/")

    # Then every task's execution is listed, linked to its page, with what the stack recorded
    assert answer.status == 200
    for task_id in tasks.seeded.all:
        summary = stack.session.describe_execution(task_id)
        assert summary is not None
        item = stack.session.item(task_id)
        assert item is not None
        started, _, status, outcome, seconds, polls, problem, correlation = cell_texts(
            answer.body, task_id
        )
        assert started == utc(summary["startDate"])
        assert status == summary["status"]
        assert outcome == item["status"]
        assert seconds == duration((summary["stopDate"] - summary["startDate"]).total_seconds())
        assert polls == str(item["polls"])
        assert problem == (summary.get("error") or "")
        assert correlation.startswith("order-")
        assert answer.dom.find("a", href=execution_href(task_id))
    # newest first, with the counts by status
    listed = [row["data-execution"] for row in answer.dom.find("tr") if "data-execution" in row]
    starts = {str(e["name"]): e["startDate"] for e in stack.session.executions()}
    assert set(listed) == set(starts)
    assert [starts[name] for name in listed] == sorted(starts.values(), reverse=True)
    assert 'data-status="FAILED">FAILED</span> 2</a>' in answer.body


def test_a_failed_execution_shows_its_error_in_the_list_and_on_its_page(
    console: ConsoleServer, stack: LocalStack, tasks: Tasks
) -> None:
    unknown = tasks.seeded.unknown
    execution = stack.session.execution(stack.session.execution_arn(unknown))
    assert execution.status == "FAILED"
    assert execution.error
    assert execution.cause

    listing = request(console, "/")
    assert listing.dom.find("tr", class_="bad", data_execution=unknown)
    assert cell_texts(listing.body, unknown)[6] == execution.error

    page = request(console, execution_href(unknown))
    alert = re.search(r'<div class="alert" role="alert" id="error">(.*?)</div>', page.body)
    assert alert, page.body
    assert execution.error in alert.group(1)
    assert html.escape(execution.cause, quote=True) in alert.group(1)
    # the task's recorded error says the same: said once
    item = stack.session.item(unknown)
    assert item is not None
    assert (item["errorName"], item["errorMessage"]) == (execution.error, execution.cause)
    assert page.body.count('role="alert"') == 1


def test_a_running_execution_shows_its_polls_so_far(
    console: ConsoleServer, stack: LocalStack, tasks: Tasks
) -> None:
    listing = request(console, "/")
    cells = cell_texts(listing.body, tasks.running)
    assert cells[2] == "RUNNING"
    assert cells[3] == NOTHING  # no outcome recorded
    assert cells[4].endswith(" so far")
    assert int(cells[5]) >= 1
    assert not listing.dom.find("tr", class_="bad", data_execution=tasks.running)

    page = request(console, execution_href(tasks.running))
    assert "Still running" in page.body
    assert page.dom.find("meta", http_equiv="refresh")
    assert not request(console, execution_href(tasks.seeded.form)).dom.find(
        "meta", http_equiv="refresh"
    )
    last = [g["data-state"] for g in page.dom.find("g", class_="last")]
    assert last in (["Check Task Status"], ["Route On Task Status"], ["Wait Before Next Poll"])


def test_an_execution_page_draws_its_path_and_its_timeline_of_polls_and_waits(
    console: ConsoleServer, stack: LocalStack, tasks: Tasks
) -> None:
    flaky = tasks.seeded.flaky
    execution = stack.session.execution(stack.session.execution_arn(flaky))
    page = request(console, execution_href(flaky))
    dom = page.dom

    # The state machine, every state of the definition, those the execution entered highlighted
    definition = stack.session.definition()
    drawn = {g["data-state"] for g in dom.find("g", class_="state")}
    assert drawn == set(definition["States"])
    visited = {g["data-state"] for g in dom.find("g", class_="visited")}
    assert visited == set(execution.states_entered())
    assert [g["data-state"] for g in dom.find("g", class_="last")] == ["Results Stored"]

    # The timeline: a dot per poll with what it found (the throttled and unavailable ones too),
    # a bar per wait, and a row per state entered with its time in UTC
    found = [g["data-status"] for g in dom.find("g", class_="poll")]
    assert found == [str(poll["status"]) for poll in execution.polls()]
    assert {"Throttled", "Unavailable", "Completed"} <= set(found)
    assert len(dom.find("g", class_="span", data_kind="Wait")) == len(execution.waits())
    steps = [row["data-state"] for row in dom.find("tr") if "data-state" in row]
    assert steps == execution.states_entered()
    for step in execution.steps:
        assert utc(step.entered, milliseconds=True) in page.body
    assert re.search(rf"Started</dt><dd>{UTC_TIME}</dd>", page.body)


def test_an_execution_page_lists_the_stored_objects_and_the_outcome_never_the_text(
    console: ConsoleServer, stack: LocalStack, tasks: Tasks
) -> None:
    texts = []
    for task_id in (tasks.seeded.flaky, tasks.seeded.form):
        page = request(console, execution_href(task_id))
        stored = stack.session.stored_objects(task_id)
        assert len(stored) >= 3  # raw answer, regions, manifest
        for entry in stored:
            assert f'<td class="mono">{entry.key}</td>' in page.body
            assert f'<td class="num">{entry.size}</td>' in page.body
            data, _ = stack.session.read_object(entry.key)
            if entry.content_type.startswith("text/plain"):
                texts.append(data.decode("utf-8").strip())
        item = stack.session.item(task_id)
        assert item is not None
        assert f"Outcome</dt><dd>{item['status']}" in re.sub(r"<span[^>]*>|</span>", "", page.body)
        assert utc(parse_timestamp(item["recordedAt"]), milliseconds=True) in page.body
        event = stack.session.execution(stack.session.execution_arn(task_id)).outcome_event
        assert event is not None
        assert str(event["id"]) in page.body

    # No recognised text on any page (each region's text is a few characters: look for all)
    assert len(texts) >= 8
    assert all(texts)
    pages = [request(console, "/").body] + [
        request(console, execution_href(t)).body for t in tasks.seeded.all
    ]
    for text in texts:
        for body in pages:
            assert html.escape(text) not in body, text


def test_every_text_from_an_event_is_escaped(console: ConsoleServer, tasks: Tasks) -> None:
    for path in ("/", execution_href(tasks.hostile)):
        body = request(console, path).body
        assert HOSTILE not in body
        assert HOSTILE_NAME not in body
        assert "<script" not in body.lower()
        assert html.escape(HOSTILE, quote=True) in body
    # The region name travels by reference (the stored submitted-regions.json, whose content the
    # console never reads): a task that recorded nothing shows none, escaped or not.


def test_times_are_written_in_utc_whatever_the_zone() -> None:
    moment = datetime(2026, 1, 31, 23, 30, 5, 250_000, tzinfo=timezone(timedelta(hours=2)))
    assert utc(moment) == "2026-01-31 21:30:05 UTC"
    assert utc(moment, milliseconds=True) == "2026-01-31 21:30:05.250 UTC"
    assert utc(moment.astimezone(UTC)) == utc(moment)
    assert duration(65) == "1 min 5 s"
    assert duration(4.25) == "4.2 s"
    assert duration(None) == NOTHING
