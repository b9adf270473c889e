"""``breaker``: the fleet's circuit breaker, read (``status``) and set by hand (``open``,
``close``), in the stack's fleet table (output ``FleetTableName``) as every check reads it."""

from __future__ import annotations

import typer

from infra.ops.cli import output, views
from infra.ops.cli.invocation import JsonFlag, invocation
from infra.stack.fleet import BreakerChange, BreakerState

app = typer.Typer(
    help="The fleet's circuit breaker: while it is open, checks do not call Aspose.",
    no_args_is_help=True,
)


@app.command("status")
def breaker_status(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Open or closed, by whom and since when, the next probe, the non-answers in a row.

    And the budget's rate, when a 429 has lowered it."""
    given = invocation(ctx)
    _show(given.output(as_json), given.target.session.breaker())


@app.command("open")
def breaker_open(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Open it by hand: checks pause and call Aspose no more, and no probe closes it.

    For a planned outage of Aspose, or to stop spending calls; `breaker close` ends it."""
    given = invocation(ctx)
    _show_change(given.output(as_json), given.target.session.open_breaker())


@app.command("close")
def breaker_close(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Close it by hand, whoever opened it: paused checks call Aspose again when they wake."""
    given = invocation(ctx)
    _show_change(given.output(as_json), given.target.session.close_breaker())


def _show(out: output.Output, state: BreakerState, changed: bool | None = None) -> None:
    if out.as_json:
        document = views.breaker_json(state)
        out.document(document if changed is None else {"changed": changed, **document})
        return
    for line in output.breaker_lines(state, changed):
        out.line(line)


def _show_change(out: output.Output, change: BreakerChange) -> None:
    _show(out, change.state, change.changed)
