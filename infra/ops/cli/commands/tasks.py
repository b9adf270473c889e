"""Reading tasks: ``status`` (the outcome, or where the execution stands), ``inspect``
(everything about one task), ``results`` (its decoded regions, downloaded) and ``list`` (recent
executions)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.ops import listing
from infra.ops.cli import actions, inputs, output, views
from infra.ops.cli.ending import exit_unless_completed
from infra.ops.cli.errors import CliError, bad_input, not_found
from infra.ops.cli.invocation import JsonFlag, TaskArg, invocation
from infra.stack.session import StackSession

app = typer.Typer()


@app.command()
def status(ctx: typer.Context, task: TaskArg, as_json: JsonFlag = False) -> None:
    """The task's outcome and counts, or where its execution stands.

    While no outcome is recorded: its state, the polls so far and the next wait. Exit code 3 when
    it ended without completing."""
    task_id = inputs.task_id(task)
    given = invocation(ctx)
    out = given.output(as_json)
    found = views.task_status(given.target.session, task_id)
    if found is None:
        raise _unknown(task_id)
    if out.as_json:
        out.document(found.to_json())
    else:
        for line in output.status_lines(found):
            out.line(line)
    if found.ended:
        exit_unless_completed(views.outcome_json(found.item) if found.item else None, task_id)


def _unknown(task_id: str) -> CliError:
    return not_found(f"no task {task_id} in this stack (no execution, no outcome, no results)")


@app.command("inspect")
def inspect_task(
    ctx: typer.Context,
    task: TaskArg,
    svg: Annotated[
        Path | None,
        typer.Option(
            "--svg",
            metavar="FILE",
            help="Also draw the state machine with the latest execution's path to FILE.",
        ),
    ] = None,
    show_text: Annotated[
        bool,
        typer.Option(
            "--show-text", help="Show the recognised text of each region (personal data)."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Everything about one task, and the path each of its executions took.

    Table item, stored objects, each execution with every state entered, each wait and poll, its
    error and its outcome event. No recognised text unless --show-text."""
    task_id = inputs.task_id(task)
    given = invocation(ctx)
    out, session = given.output(as_json), given.target.session
    report = views.inspect_task(session, task_id, show_text=show_text)
    if not report.known:
        raise _unknown(task_id)
    document = report.to_json()
    drawn = _draw(session, report, svg) if svg is not None else None
    if drawn is not None:
        document["svg"] = str(drawn)
    if out.as_json:
        out.document(document)
        return
    output.show_report(out, report, drawn)


def _draw(session: StackSession, report: views.TaskReport, path: Path) -> Path:
    from infra.ops.drawing import render

    if report.latest is None:
        raise not_found(f"task {report.task_id} has no execution to draw")
    svg = render(session.definition(), report.latest)
    try:
        path.write_text(svg + "\n", encoding="utf-8")
    except OSError as error:
        raise bad_input(f"--svg {path}: cannot write it ({error.strerror})") from None
    return path


@app.command()
def results(
    ctx: typer.Context,
    task: TaskArg,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", metavar="DIR", help="Where to write them (default: ./TASK/)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Download the decoded regions of a completed task, and its manifest.

    Into a directory (default ./TASK/). Exit code 3 when the task ended without completing."""
    task_id = inputs.task_id(task)
    given = invocation(ctx)
    out = given.output(as_json)
    directory = out_dir or Path(task_id)
    if directory.exists() and not directory.is_dir():
        raise bad_input(f"--out {directory}: exists and is not a directory")
    download = actions.download_results(given.target.session, task_id, directory)
    if out.as_json:
        out.document(download.to_json())
    else:
        for line in output.download_lines(download):
            out.line(line)


@app.command("list")
def list_tasks(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            metavar="S",
            help="An execution status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED) or an "
            "outcome (Completed, Failed, NotFound, TimedOut).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="DURATION", help="Started in the last 90s, 15m, 2h, 7d."),
    ] = None,
    correlation_id: Annotated[
        str | None, typer.Option("--correlation-id", metavar="ID", help="Only this one's.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Recent tasks, newest first, with their outcome, time to result and polls.

    From the state machine's executions and the items of their tasks read by key (never a scan
    of the table)."""
    wanted = inputs.list_status(status)
    query = listing.Query(
        outcome=wanted.outcome, correlation_id=inputs.correlation_id(correlation_id), limit=limit
    )
    started_after = listing.started_after(inputs.duration(since) if since else None)
    given = invocation(ctx)
    out, session = given.output(as_json), given.target.session
    summaries = session.list_executions(status=wanted.execution, started_after=started_after)
    rows = listing.rows(session, summaries, query)
    if out.as_json:
        out.document({"count": len(rows), "executions": [row.to_json() for row in rows]})
    elif rows:
        out.out.print(output.listing_table(rows))
    else:
        out.note("no executions match")
