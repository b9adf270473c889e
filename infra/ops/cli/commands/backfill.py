"""``backfill``: announce many tasks again, from a file of task ids or JSON lines (``-``: stdin),
in ``PutEvents`` batches whose failed entries are retried; a progress bar on stderr, a summary
at the end (what each line became: :mod:`infra.ops.cli.backfill`)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from infra.ops.cli import backfill as bulk
from infra.ops.cli import inputs, output
from infra.ops.cli.errors import CliError, ExitCode, bad_input
from infra.ops.cli.invocation import JsonFlag, invocation

app = typer.Typer()


@app.command()
def backfill(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            metavar="FILE|-",
            help='One task a line: a task id, or JSON {"taskId", "regions": [{"name"}], '
            '"correlationId", "metadata", "submittedAt"}. "-" reads stdin.',
            show_default=False,
        ),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Announce completed tasks too (fetched again).")
    ] = False,
    label: Annotated[
        str | None,
        typer.Option(
            "--label",
            help="Re-fetches run as <task>-<label> (1-36 of A-Za-z0-9_-; default b<UTC time>). "
            "The same label again skips what a run already announced.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Announce many tasks again, ten to a PutEvents call, and say what became of each line.

    Completed tasks are skipped unless --force; those submitted over 24 h ago are counted, not
    announced (gone at Aspose). A task with an outcome is re-fetched as <task>-<label>, one
    without is announced as it is. Exit code 2: malformed lines (not sent); 5: some not taken."""
    now = datetime.now(UTC)
    run_label = inputs.refetch_label(label) if label is not None else now.strftime("b%Y%m%dT%H%M%S")
    data = _read(source)
    summary = bulk.Summary(run_label)
    lines = bulk.read_lines(data, run_label, now, summary)
    given = invocation(ctx)
    out, session = given.output(as_json), given.target.session
    with out.progress(output.BACKFILL_PHASES) as report:
        bulk.run(session, bulk.Backfill(lines, run_label, force, now), summary, report)
    if out.as_json:
        out.document(summary.to_json())
    else:
        for line in output.backfill_lines(summary):
            out.line(line)
    _exit(summary)


def _read(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    return inputs.read_file(Path(source), "file of task ids")


def _exit(summary: bulk.Summary) -> None:
    """Exit code 5 when some were not announced (EventBridge's codes named), else 2 when some
    lines were malformed; the summary printed says which."""
    if summary.failed:
        codes = sorted({str(entry.detail["errorCode"]) for entry in summary.failed})
        raise CliError(
            f"{len(summary.failed)} tasks not announced ({', '.join(codes)}): the summary lists "
            f"their lines; run them again with --label {summary.label}",
            ExitCode.AWS_ERROR,
        )
    if summary.malformed:
        raise bad_input(
            f"{len(summary.malformed)} malformed lines were not sent (the summary names them)"
        )
