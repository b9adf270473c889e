"""``dlq``: the dead-letter queue, submitted events that started nothing, and why (``list``);
sending back those the starter would now accept (``redrive``)."""

from __future__ import annotations

from typing import Annotated

import typer

from infra.ops.cli import actions, output, views
from infra.ops.cli.errors import bad_input
from infra.ops.cli.invocation import JsonFlag, invocation

app = typer.Typer(
    help="The dead-letter queue: submitted events that started nothing, and why.",
    no_args_is_help=True,
)


@app.command("list")
def dlq_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Each dead letter with its reason, and whether sending it again could succeed."""
    given = invocation(ctx)
    out = given.output(as_json)
    letters = given.target.session.dead_letters()
    if out.as_json:
        out.document({"count": len(letters), "deadLetters": views.dead_letters_json(letters)})
    elif letters:
        out.out.print(output.dead_letters_table(letters))
    else:
        out.note("the dead-letter queue is empty")


@app.command("redrive")
def dlq_redrive(
    ctx: typer.Context,
    message_id: Annotated[
        str | None,
        typer.Argument(metavar="ID", help="The message id of one dead letter (dlq list)."),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every dead letter the starter would now accept.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Send back to the start queue the dead letters the starter would now accept.

    Malformed ones stay listed with their reason, so none goes round again."""
    if every == (message_id is not None):
        raise bad_input("give one dead letter's ID, or --all")
    given = invocation(ctx)
    out = given.output(as_json)
    done = actions.redrive(given.target.session, message_id)
    if out.as_json:
        sent, kept = views.dead_letters_json(done.sent), views.dead_letters_json(done.kept)
        out.document({"sent": sent, "kept": kept})
    else:
        for line in output.redrive_lines(done):
            out.line(line)
