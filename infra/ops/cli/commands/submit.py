"""Announcing work: ``submit`` sends a document to Aspose and announces the task, ``refetch``
announces a task again; both follow it to its end with ``--wait``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.ops.cli import actions, ending, inputs, output
from infra.ops.cli.errors import CliError
from infra.ops.cli.failures import failure_of
from infra.ops.cli.invocation import (
    DEFAULT_TIMEOUT_S,
    JsonFlag,
    TaskArg,
    TimeoutOption,
    WaitFlag,
    invocation,
)
from infra.ops.cli.target import Target

app = typer.Typer()


@app.command()
def submit(
    ctx: typer.Context,
    image: Annotated[Path, typer.Argument(help="PNG, JPEG, BMP, TIFF or GIF.", show_default=False)],
    regions: Annotated[
        Path,
        typer.Option(
            "--regions",
            metavar="FILE",
            help='JSON list of named rectangles, in order: [{"name": "surname", "topLeftX": 10, '
            '"topLeftY": 15, "bottomRightX": 980, "bottomRightY": 110}].',
            show_default=False,
        ),
    ],
    result_type: Annotated[
        str,
        typer.Option(
            "--result-type", metavar="TYPE", help=f"One of {', '.join(inputs.RESULT_TYPES)}."
        ),
    ] = "Text",
    correlation_id: Annotated[
        str | None,
        typer.Option("--correlation-id", metavar="ID", help="Carried to the outcome event."),
    ] = None,
    wait: WaitFlag = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    as_json: JsonFlag = False,
) -> None:
    """Send IMAGE and its regions to Aspose and announce the task on the stack's bus."""
    checked_type = inputs.result_type(result_type)
    checked_id = inputs.correlation_id(correlation_id)
    checked = inputs.read_image(image)
    named = inputs.load_regions(regions, checked)
    submission = actions.Submission(checked, named, checked_type, checked_id)
    given = invocation(ctx)
    out, target = given.output(as_json), given.target
    task_id = actions.send(target, submission)
    if not out.as_json:
        out.line(task_id)  # at once: a script has it even if announcing fails or --wait times out
    submitted = _announce(target, submission, task_id)
    if not out.as_json or wait:
        for line in output.submitted_lines(submitted):
            out.note(line)
    document = submitted.to_json()
    if wait:
        ending.wait(out, target, actions.Followed(submitted.task_id), timeout, document)
    elif out.as_json:
        out.document(document)


def _announce(target: Target, submission: actions.Submission, task_id: str) -> actions.Submitted:
    """Announce a task Aspose has accepted; a failure names the task, so it is not lost."""
    try:
        return actions.announce(target.session, submission, task_id)
    except Exception as error:
        failure = failure_of(error)
        if failure is None:
            raise
        raise CliError(
            f"task {task_id} was sent to Aspose but not announced on the bus, so nothing fetches "
            f"it: {failure}",
            failure.code,
        ) from None


@app.command()
def refetch(
    ctx: typer.Context,
    task: TaskArg,
    label: Annotated[
        str | None,
        typer.Option(
            "--label",
            help="Names the execution <task>-<label> (1-36 of A-Za-z0-9_-; default: the time).",
        ),
    ] = None,
    wait: WaitFlag = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    as_json: JsonFlag = False,
) -> None:
    """Fetch a task again from Aspose, in a new execution named <task>-<label>.

    The stored result is overwritten, never downgraded."""
    task_id = inputs.task_id(task)
    checked_label = inputs.refetch_label(label) if label is not None else None
    given = invocation(ctx)
    out, target = given.output(as_json), given.target
    announced = actions.refetch(target.session, task_id, checked_label)
    if not out.as_json:
        out.line(announced.execution_name)
    if not out.as_json or wait:
        for line in output.refetch_lines(announced):
            out.note(line)
    document = announced.to_json()
    if wait:
        followed = actions.Followed(task_id, execution_name=announced.execution_name)
        ending.wait(out, target, followed, timeout, document)
    elif out.as_json:
        out.document(document)
