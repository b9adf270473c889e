"""What every command is given: the global options (which stack, ``--json``), read once by the
app's callback, and the parameters more than one command takes, declared once for typer."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated

import typer

from infra.ops.cli.errors import CliError, ExitCode
from infra.ops.cli.output import Output
from infra.ops.cli.target import Target, Where, resolve

DEFAULT_TIMEOUT_S = 600.0

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout instead of text.")
]
TaskArg = Annotated[str, typer.Argument(metavar="TASK", help="The task id (a GUID).")]
WaitFlag = Annotated[
    bool, typer.Option("--wait", help="Show progress until the task ends, then its outcome.")
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", metavar="S", min=1, help="How long --wait waits, seconds.")
]


@dataclass
class Invocation:
    """What the global options said, and the target they name (resolved on first use, so
    ``--help`` and bad input need no stack)."""

    where: Where
    as_json: bool

    @functools.cached_property
    def target(self) -> Target:
        return resolve(self.where)

    def output(self, as_json: bool) -> Output:
        """Where the command writes; ``--json`` given before the command or after it."""
        return Output(as_json=as_json or self.as_json)


def invocation(ctx: typer.Context) -> Invocation:
    """The global options the app's callback read for this command."""
    found = ctx.find_object(Invocation)
    if found is None:  # only when a command is invoked without the app's callback
        raise CliError("the global options were not read", ExitCode.INTERNAL_ERROR)
    return found
