"""``ocr-results [--local | --stack NAME] COMMAND [ARGS] [--json]``: the app, its global options,
its command groups (``infra.ops.cli.commands``) and the one place a failure becomes a line on
stderr and an exit code (``failures``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from infra.ops.cli import output
from infra.ops.cli.commands import backfill, breaker, dlq, submit, tasks
from infra.ops.cli.errors import ExitCode
from infra.ops.cli.failures import DEBUG, failure_of
from infra.ops.cli.invocation import Invocation, JsonFlag
from infra.ops.cli.output import Output
from infra.ops.cli.target import Where
from infra.stack.state_file import DEFAULT_STATE_FILE

app = typer.Typer(
    name=output.PROGRAM,
    help="Submit documents to Aspose.OCR Cloud through the stack, follow and inspect their "
    "tasks, download their results, announce many again, and look after the dead-letter queue "
    "and the fleet's circuit breaker.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    epilog="Exit codes: 0 ok, 1 not found, 2 usage or bad input, 3 the task ended without "
    "completing, 4 --wait timed out, 5 AWS error, 6 Aspose error, 70 a bug, 130 interrupted.",
)
app.add_typer(submit.app)
app.add_typer(backfill.app)
app.add_typer(tasks.app)
app.add_typer(dlq.app, name="dlq")
app.add_typer(breaker.app, name="breaker")


@app.callback()
def global_options(
    ctx: typer.Context,
    local: Annotated[
        bool, typer.Option("--local", help="The local cloud `make local` runs (.local/stack.json).")
    ] = False,
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            metavar="NAME",
            envvar="OCR_RESULTS_STACK",
            help="A stack deployed on AWS, found by its outputs (the usual profile and region).",
        ),
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile (default: the usual one).")
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="AWS region (default: the profile's).")
    ] = None,
    state_file: Annotated[
        Path,
        typer.Option(
            "--state-file", envvar="OCR_RESULTS_STATE_FILE", help="What `make local` wrote."
        ),
    ] = DEFAULT_STATE_FILE,
    as_json: JsonFlag = False,
) -> None:
    where = Where(local=local, stack=stack, profile=profile, region=region, state_file=state_file)
    ctx.obj = Invocation(where, as_json)


def main(argv: list[str] | None = None) -> int:
    """Run ``ocr-results``; its exit code. Every failure is one line on stderr."""
    try:
        result = typer.main.get_command(app).main(
            args=argv, prog_name=output.PROGRAM, standalone_mode=False
        )
    except BaseException as error:  # each kind has its exit code
        failure = failure_of(error)
        if failure is None or (failure.code == ExitCode.INTERNAL_ERROR and DEBUG in os.environ):
            raise
        if str(failure):
            Output().error(str(failure))
        return int(failure.code)
    return result if isinstance(result, int) else ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
