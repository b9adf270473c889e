"""The console's pages as HTML: the list of executions, one execution, and the error pages.

Server-side HTML with inline SVG and one inline stylesheet (its hash is in the page's Content
Security Policy; no script at all). Every value from the stack goes through
:mod:`infra.ops.console.markup`, escaped. Times are UTC. No page ever holds recognised text: objects
are listed by key, type and size, never read.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from infra.ops import drawing
from infra.ops.console import timeline
from infra.ops.console.formats import NOTHING, duration, utc
from infra.ops.console.markup import Html, el, escape, join
from infra.ops.console.model import Detail, Listing, Search
from infra.ops.listing import Row
from infra.stack.history import STATUSES, Step
from infra.stack.results import StoredObject
from infra.stack.times import iso, seconds_between
from ocr_fetch.submission import parse_timestamp

TITLE = "OCR region results · local console"
#: The task record's fields shown as the outcome (the record never holds recognised text).
RECORD_FIELDS = (
    ("status", "Outcome"),
    ("taskStatus", "Aspose task status"),
    ("responseStatusCode", "Aspose response code"),
    ("polls", "Polls"),
    ("regionCount", "Regions"),
    ("decodedCount", "Decoded"),
    ("errorCount", "Region errors"),
    ("countMismatch", "Count mismatch"),
    ("errorName", "Error"),
    ("errorMessage", "Error message"),
    ("warnings", "Warnings"),
    ("createdAt", "Recorded first"),
    ("recordedAt", "Recorded last"),
)
GOOD = {"SUCCEEDED", "Completed"}
#: A running execution's page reloads itself this often.
RUNNING_REFRESH_SECONDS = 5
UNDER_WAY = {"RUNNING", "PENDING_REDRIVE"}

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#111827;
background:#f9fafb}
header{display:flex;gap:18px;align-items:center;flex-wrap:wrap;padding:10px 20px;
background:#111827;color:#f9fafb}
header a{color:#f9fafb;font-weight:600;text-decoration:none}
header form{display:flex;gap:6px}
header input{width:24em;padding:4px 6px;font:13px ui-monospace,monospace}
header .read{margin-left:auto;color:#9ca3af;font-size:12px}
main{padding:14px 20px 40px}
h1{font-size:20px;margin:6px 0 12px}h2{font-size:16px;margin:26px 0 8px}
h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{border-bottom:1px solid #e5e7eb;padding:5px 9px;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;font-size:12px;font-weight:600;
color:#fff;background:#6b7280}
.badge.good{background:#15803d}.badge.bad{background:#b91c1c}.badge.busy{background:#c2410c}
tr.bad td{background:#fef2f2}
.problem{color:#b91c1c;font-weight:600}
.alert{border-left:5px solid #b91c1c;background:#fef2f2;padding:8px 12px;margin:10px 0}
.alert.busy{border-color:#c2410c;background:#fff7ed}
.counts a{margin-right:12px}.counts .current{font-weight:700;text-decoration:none;color:#111827}
dl{display:grid;grid-template-columns:max-content auto;gap:3px 16px;margin:0}
dt{color:#4b5563}dd{margin:0}
.note{color:#4b5563;font-size:12.5px}
.figure{overflow-x:auto;background:#fff;border:1px solid #e5e7eb;padding:6px;max-width:100%}
.figure svg{max-width:100%;height:auto}
details pre{background:#fff;border:1px solid #e5e7eb;padding:8px;overflow-x:auto;max-width:100em}
"""
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
#: No script, nothing from elsewhere: the page's own stylesheet and inline SVG only.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def execution_href(name: str) -> str:
    return "/executions/" + quote(name, safe="")


def list_href(**query: str | None) -> str:
    chosen = {k: v for k, v in query.items() if v}
    return "/" + (f"?{urlencode(chosen)}" if chosen else "")


# --- the frame ---------------------------------------------------------------------------------
def page(
    title: str,
    body: Iterable[object],
    *,
    search: str = "",
    now: datetime,
    refresh: int | None = None,
) -> Html:
    """The frame of every page; ``refresh``: reload itself every so many seconds."""
    header = el(
        "header",
        el("a", TITLE, href="/"),
        el(
            "form",
            el("label", "Task id", for_="q", class_="note"),
            el(
                "input",
                type="search",
                id="q",
                name="q",
                value=search,
                placeholder="a task id, or part of one",
                autocomplete="off",
            ),
            el("button", "Find", type="submit"),
            action="/",
            method="get",
            role="search",
        ),
        el("span", "read at ", el("time", utc(now), datetime=iso(now)), class_="read"),
    )
    document = el(
        "html",
        el(
            "head",
            el("meta", charset="utf-8"),
            el("meta", name="viewport", content="width=device-width, initial-scale=1"),
            el("meta", name="referrer", content="no-referrer"),
            el("meta", http_equiv="refresh", content=refresh) if refresh else "",
            el("title", f"{title} · {TITLE}"),
            el("style", Html(STYLE)),
        ),
        el("body", header, el("main", *body)),
        lang="en",
    )
    return Html("<!doctype html>\n" + document)


def badge(status: str | None) -> Html:
    if not status:
        return escape(NOTHING)
    tone = "good" if status in GOOD else "busy" if status in UNDER_WAY else "bad"
    return el("span", status, class_=f"badge {tone}", data_status=status)


# --- the list ----------------------------------------------------------------------------------
def listing_page(listing: Listing, search: Search, now: datetime) -> Html:
    body: list[Html] = [el("h1", "Executions"), _counts(listing, search)]
    if search.text or search.status:
        what = " and ".join(
            part
            for part in (
                f"task id containing “{search.text}”" if search.text else "",
                f"status {search.status}" if search.status else "",
            )
            if part
        )
        body.append(
            el(
                "p",
                f"{listing.matched} of {sum(listing.counts.values())} executions with {what}. ",
                el("a", "Show all", href="/"),
                class_="note",
                id="matched",
            )
        )
    if listing.rows:
        body.append(_rows_table(listing.rows))
        if listing.matched > len(listing.rows):
            body.append(
                el(
                    "p",
                    f"The newest {len(listing.rows)} of {listing.matched} are shown; ",
                    el(
                        "a",
                        "show more",
                        href=list_href(
                            q=search.text,
                            status=search.status,
                            limit=str(min(500, search.limit * 4)),
                        ),
                    ),
                    class_="note",
                )
            )
    elif listing.counts:
        body.append(el("p", "No execution matches.", class_="note", id="nothing"))
    else:
        body.append(
            el(
                "p",
                "No execution yet: announce a task on the stack's bus (see `make local`'s "
                "banner, or `ocr-results --local submit`).",
                class_="note",
                id="nothing",
            )
        )
    return page("Executions", body, search=search.text, now=now)


def _counts(listing: Listing, search: Search) -> Html:
    links = [
        el(
            "a",
            f"all {sum(listing.counts.values())}",
            href=list_href(q=search.text),
            class_="current" if search.status is None else None,
        )
    ]
    for status in STATUSES:
        if listing.counts[status]:
            links.append(
                el(
                    "a",
                    badge(status),
                    f" {listing.counts[status]}",
                    href=list_href(q=search.text, status=status),
                    class_="current" if search.status == status else None,
                )
            )
    return el("p", *links, class_="counts")


def _rows_table(rows: list[Row]) -> Html:
    head = el(
        "tr",
        *(
            el("th", name, class_="num" if name in ("Time to result", "Polls") else None)
            for name in (
                "Started (UTC)",
                "Task id",
                "Status",
                "Outcome",
                "Time to result",
                "Polls",
                "Problem",
                "Correlation id",
            )
        ),
    )
    return el(
        "table", el("thead", head), el("tbody", *(_row(row) for row in rows)), id="executions"
    )


def _row(row: Row) -> Html:
    running = row.status in UNDER_WAY
    bad = not running and (row.status not in GOOD or row.outcome not in (None, *GOOD))
    refetch = row.name.removeprefix(row.task_id) if row.task_id else ""
    return el(
        "tr",
        el("td", el("time", utc(row.started), datetime=iso(row.started)), class_="mono"),
        el(
            "td",
            el("a", row.task_id or row.name, href=execution_href(row.name), class_="mono"),
            el("span", f" re-fetch {refetch.lstrip('-')}", class_="note") if refetch else "",
        ),
        el("td", badge(row.status)),
        el("td", badge(row.outcome) if row.outcome else el("span", NOTHING, class_="note")),
        el("td", duration(row.seconds) + (" so far" if running else ""), class_="num"),
        el("td", NOTHING if row.polls is None else row.polls, class_="num"),
        el("td", row.problem or "", class_="problem"),
        el("td", row.correlation_id or "", class_="mono"),
        class_="bad" if bad else None,
        data_execution=row.name,
        data_status=row.status,
    )


# --- one execution -----------------------------------------------------------------------------
def detail_page(found: Detail, now: datetime) -> Html:
    execution = found.execution
    body: list[object] = [
        el(
            "p",
            el("a", "← All executions", href="/"),
            " · ",
            el("a", "every execution of this task", href=list_href(q=found.task_id))
            if found.task_id
            else "",
            class_="note",
        ),
        el(
            "h1",
            "Execution ",
            el("span", execution.name, class_="mono"),
            " ",
            badge(execution.status),
        ),
        *_alerts(found),
        _summary(found, now),
        el("h2", "Path through the state machine"),
        el(
            "div",
            Html(drawing.render(found.definition, execution, id_prefix="path")),
            class_="figure",
            id="path",
        ),
        el("h2", "Timeline of polls and waits"),
        el("div", timeline.render(execution, now), class_="figure", id="timeline"),
        el(
            "p",
            "Grey: a task running (a poll, decoding, recording, publishing); blue: a wait; "
            "a dot: what a poll found; ✗: an attempt that failed and was retried or caught. "
            "Hover for the state and its times.",
            class_="note",
        ),
        _steps_table(execution.steps, execution.started),
        *_outcome(found),
        *_objects(found),
        *_siblings(found),
        el("h2", "Input"),
        _json_block(
            "The execution input (ids, region count, correlation id, metadata, polling plan)",
            execution.input,
        ),
    ]
    return page(
        f"Execution {execution.name}",
        body,
        search=found.task_id or "",
        now=now,
        refresh=RUNNING_REFRESH_SECONDS if execution.running else None,
    )


def _alerts(found: Detail) -> list[Html]:
    """The execution's error, the task's recorded one when it says something else, or that it
    is still running."""
    execution = found.execution
    alerts: list[Html] = []
    if execution.error or execution.cause:
        title = f"{execution.status}: {execution.error or 'no error name'}"
        alerts.append(_alert(title, execution.cause or "", "error"))
    record = found.record if found.own_record else None
    if record and record.get("errorName"):
        said = (record.get("errorName"), record.get("errorMessage"))
        if said != (execution.error, execution.cause):
            title = f"Outcome {record.get('status')}: {record.get('errorName')}"
            alerts.append(_alert(title, str(record.get("errorMessage") or ""), "outcome-error"))
    if execution.running:
        message = f"Still running: this page reloads every {RUNNING_REFRESH_SECONDS} s."
        alerts.append(el("div", message, class_="alert busy", id="running"))
    return alerts


def _alert(title: str, message: str, anchor: str) -> Html:
    return el(
        "div", el("strong", title), el("br"), message, class_="alert", role="alert", id=anchor
    )


def _summary(found: Detail, now: datetime) -> Html:
    execution = found.execution
    end = execution.stopped or (now if execution.running else None)
    record = found.record if found.own_record else None
    waits = execution.waits()
    pairs: list[tuple[str, object]] = [
        ("Task id", el("span", found.task_id or NOTHING, class_="mono", id="task-id")),
        ("Status", badge(execution.status)),
        ("Outcome", badge(record.get("status")) if record else f"{NOTHING} (none recorded by it)"),
        ("Started", utc(execution.started, milliseconds=True)),
        ("Stopped", utc(execution.stopped, milliseconds=True)),
        (
            "Time to result",
            duration(seconds_between(execution.started, end))
            + (" so far" if execution.running else ""),
        ),
        ("Polls", execution.polls_made),
        ("Waits", f"{len(waits)}, {sum(waits)} s in all" if waits else "none"),
        (
            "Correlation id",
            el("span", execution.input.get("correlationId") or NOTHING, class_="mono"),
        ),
        ("Execution ARN", el("span", execution.arn, class_="mono")),
    ]
    return el("dl", *(join([el("dt", k), el("dd", v)]) for k, v in pairs), id="summary")


def _steps_table(steps: tuple[Step, ...], started: datetime | None) -> Html:
    head = el("tr", *(el("th", h) for h in ("At (UTC)", "+s", "State", "Type", "What happened")))
    rows = []
    for step in steps:
        offset = seconds_between(started, step.entered)
        rows.append(
            el(
                "tr",
                el("td", utc(step.entered, milliseconds=True), class_="mono"),
                el("td", NOTHING if offset is None else f"{offset:.3f}", class_="num"),
                el("td", step.name),
                el("td", step.kind, class_="note"),
                el("td", _what_happened(step)),
                class_="bad" if step.errors else None,
                data_state=step.name,
            )
        )
    return el("table", el("thead", head), el("tbody", *rows), id="steps")


def _what_happened(step: Step) -> Html:
    parts: list[object] = []
    if step.poll is not None:
        poll = step.poll
        line = f"poll {poll.get('polls')}: {poll.get('status')}"
        if poll.get("responseStatusCode"):
            line += f" ({poll.get('responseStatusCode')})"
        cause = poll.get("transientCause")
        if isinstance(cause, dict):
            line += f"; transient: {cause.get('error') or ''} {cause.get('message') or ''}".rstrip()
        if poll.get("giveUp"):
            line += f"; gives up: {poll.get('giveUpReason')}"
        elif poll.get("waitSeconds"):
            line += f"; next poll in {poll.get('waitSeconds')} s"
        parts.append(line)
    if step.wait_seconds is not None:
        parts.append(f"waits {step.wait_seconds} s")
    for error in step.errors:
        parts.append(el("div", f"✗ attempt failed: {error} (retried or caught)", class_="problem"))
    return join(parts)


def _outcome(found: Detail) -> list[Html]:
    found_event = found.execution.outcome_event
    record = found.record
    parts: list[Html] = [el("h2", "Outcome")]
    if record is None:
        parts.append(el("p", "No outcome is recorded for this task yet.", class_="note"))
    else:
        if not found.own_record:
            other = str(record.get("executionArn", "")).rsplit(":", 1)[-1]
            parts.append(
                el(
                    "p",
                    "The task's outcome was recorded by another of its executions: ",
                    el("a", other, href=execution_href(other), class_="mono"),
                    class_="note",
                )
            )
        pairs = [
            (label, _field(key, record.get(key))) for key, label in RECORD_FIELDS if key in record
        ]
        parts.append(
            el(
                "dl",
                *(join([el("dt", k), el("dd", _value(v))]) for k, v in pairs),
                id="record",
            )
        )
        parts.extend(_regions(record.get("regions")))
    if found_event is None:
        parts.append(el("p", "This execution published no outcome event.", class_="note"))
    else:
        parts.append(
            el(
                "p",
                f"Outcome event “{found_event.get('detail-type')}” published at "
                f"{utc(parse_timestamp(found_event.get('time')), milliseconds=True)}, id ",
                el("span", str(found_event.get("id")), class_="mono"),
                id="event",
            )
        )
        parts.append(_json_block("The event as consumers receive it", found_event))
    return parts


def _regions(regions: object) -> list[Html]:
    if not isinstance(regions, list) or not regions:
        return []
    head = el("tr", *(el("th", h) for h in ("#", "Name", "Type", "Content type", "Bytes", "Error")))
    rows = [
        el(
            "tr",
            el("td", r.get("index"), class_="num"),
            el("td", r.get("name") or NOTHING),
            el("td", r.get("type") or NOTHING),
            el("td", r.get("contentType") or NOTHING, class_="note"),
            el("td", NOTHING if r.get("bytes") is None else r.get("bytes"), class_="num"),
            el("td", r.get("error") or "", class_="problem"),
            class_="bad" if r.get("error") else None,
        )
        for r in regions
        if isinstance(r, dict)
    ]
    return [
        el("h3", "Regions"),
        el("table", el("thead", head), el("tbody", *rows), id="regions"),
    ]


def _objects(found: Detail) -> list[Html]:
    parts = [
        el("h2", "Stored objects"),
        el(
            "p",
            "Keys, types and sizes only: the recognised text is personal data and is never "
            "shown here.",
            class_="note",
        ),
    ]
    if not found.objects:
        parts.append(el("p", "Nothing is stored for this task.", class_="note", id="no-objects"))
        return parts
    head = el("tr", *(el("th", h) for h in ("Key", "Content type", "Bytes", "Stored (UTC)")))
    rows = [_object_row(o) for o in found.objects]
    total = sum(o.size for o in found.objects)
    foot = el(
        "tr",
        el("td", f"{len(found.objects)} objects"),
        el("td", ""),
        el("td", total, class_="num"),
        el("td", ""),
    )
    parts.append(
        el("table", el("thead", head), el("tbody", *rows), el("tfoot", foot), id="objects")
    )
    return parts


def _object_row(stored: StoredObject) -> Html:
    return el(
        "tr",
        el("td", stored.key, class_="mono"),
        el("td", stored.content_type, class_="note"),
        el("td", stored.size, class_="num"),
        el("td", utc(stored.last_modified), class_="mono"),
    )


def _siblings(found: Detail) -> list[Html]:
    if not found.siblings:
        return []
    items = [
        el(
            "li",
            el("a", s["name"], href=execution_href(str(s["name"])), class_="mono"),
            " ",
            badge(str(s["status"])),
            f" started {utc(s.get('startDate'))}",
        )
        for s in found.siblings
    ]
    return [el("h2", "The task's other executions"), el("ul", *items, id="siblings")]


def _json_block(summary: str, value: Any) -> Html:
    return el("details", el("summary", summary), el("pre", json.dumps(value, indent=2)))


def _field(key: str, value: object) -> object:
    """A record's field as shown: its times in UTC like every other."""
    if key.endswith("At") and isinstance(value, str):
        moment = parse_timestamp(value)
        return utc(moment, milliseconds=True) if moment else value
    return value


def _value(value: object) -> object:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return NOTHING if value is None else value


# --- errors ------------------------------------------------------------------------------------
def error_page(status: int, title: str, message: str, now: datetime) -> Html:
    body = [
        el("h1", f"{status} {title}"),
        el("p", message, class_="alert", role="alert", id="error"),
        el("p", el("a", "← All executions", href="/")),
    ]
    return page(title, body, now=now)
