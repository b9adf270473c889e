"""``ocr-results [--local | --stack NAME] COMMAND [ARGS] [--json]``: the commands, their options
and how every way of failing becomes one line on stderr and a documented exit code.

Each command's options are a dataclass (what it was asked), so a command is a function of the
invocation (the global options) and one value; :func:`command` turns the dataclass's fields into
typer parameters.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import sys
import typing
from collections.abc import Callable
from dataclasses import MISSING, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from infra.ops import listing
from infra.ops.cli import actions, inputs, output, views
from infra.ops.cli.errors import CliError, ExitCode, bad_input, not_found
from infra.ops.cli.output import Output
from infra.ops.cli.target import Target, Where, resolve
from infra.stack.results import COMPLETED, recorded_outcome
from infra.stack.state_file import DEFAULT_STATE_FILE
from infra.stack.waiting import WaitTimeout

DEFAULT_TIMEOUT_S = 600.0
Options = TypeVar("Options")
KEYWORD = inspect.Parameter.KEYWORD_ONLY
#: Set, an unexpected error (a bug) shows its traceback.
DEBUG = "OCR_RESULTS_DEBUG"

app = typer.Typer(
    name=output.PROGRAM,
    help="Submit documents to Aspose.OCR Cloud through the stack, follow and inspect their "
    "tasks, download their results, and look after the dead-letter queue.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    epilog="Exit codes: 0 ok, 1 not found, 2 usage or bad input, 3 the task ended without "
    "completing, 4 --wait timed out, 5 AWS error, 6 Aspose error, 70 a bug, 130 interrupted.",
)
dlq_app = typer.Typer(
    help="The dead-letter queue: submitted events that started nothing, and why.",
    no_args_is_help=True,
)
app.add_typer(dlq_app, name="dlq")

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
        return Output(as_json=as_json or self.as_json)


Command = Callable[[Invocation, Options], None]


def command(
    group: typer.Typer, name: str, options: type[Options]
) -> Callable[[Command[Options]], Command[Options]]:
    """Register ``body(invocation, options)`` as the command ``name``: each field of the
    ``options`` dataclass is one of its typer parameters (``Annotated`` as typer reads them)."""

    def register(body: Command[Options]) -> Command[Options]:
        def run(ctx: typer.Context, options: Options) -> None:
            found = ctx.find_object(Invocation)
            if found is None:  # only when a command is invoked without the app's callback
                raise CliError("the global options were not read", ExitCode.INTERNAL_ERROR)
            body(found, options)

        group.command(name, help=" ".join((body.__doc__ or "").split()))(
            typer_function(options, run)
        )
        return body

    return register


def typer_function(
    options: type[Options], body: Callable[[typer.Context, Options], None]
) -> Callable[..., None]:
    """A function typer reads as taking the context and each field of ``options``, calling
    ``body(ctx, options(**fields))``."""
    hints = typing.get_type_hints(options, include_extras=True)
    parameters = [inspect.Parameter("ctx", KEYWORD, annotation=typer.Context)]
    for found in dataclasses.fields(options):  # type: ignore[arg-type]
        default = inspect.Parameter.empty if found.default is MISSING else found.default
        parameters.append(
            inspect.Parameter(found.name, KEYWORD, annotation=hints[found.name], default=default)
        )

    def function(ctx: typer.Context, **values: Any) -> None:
        body(ctx, options(**values))

    function.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return function


# --- global options ----------------------------------------------------------------------------
@dataclass(frozen=True)
class GlobalOptions:
    local: Annotated[
        bool, typer.Option("--local", help="The local cloud `make local` runs (.local/stack.json).")
    ] = False
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            metavar="NAME",
            envvar="OCR_RESULTS_STACK",
            help="A stack deployed on AWS, found by its outputs (the usual profile and region).",
        ),
    ] = None
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile (default: the usual one).")
    ] = None
    region: Annotated[
        str | None, typer.Option("--region", help="AWS region (default: the profile's).")
    ] = None
    state_file: Annotated[
        Path,
        typer.Option(
            "--state-file", envvar="OCR_RESULTS_STATE_FILE", help="What `make local` wrote."
        ),
    ] = DEFAULT_STATE_FILE
    as_json: JsonFlag = False


def _store_global_options(ctx: typer.Context, options: GlobalOptions) -> None:
    where = Where(
        local=options.local,
        stack=options.stack,
        profile=options.profile,
        region=options.region,
        state_file=options.state_file,
    )
    ctx.obj = Invocation(where, options.as_json)


app.callback()(typer_function(GlobalOptions, _store_global_options))


# --- submit ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SubmitOptions:
    image: Annotated[
        Path,
        typer.Argument(help="PNG, JPEG, BMP, TIFF or GIF.", show_default=False),
    ]
    regions: Annotated[
        Path,
        typer.Option(
            "--regions",
            metavar="FILE",
            help='JSON list of named rectangles, in order: [{"name": "surname", "topLeftX": 10, '
            '"topLeftY": 15, "bottomRightX": 980, "bottomRightY": 110}].',
            show_default=False,
        ),
    ]
    result_type: Annotated[
        str,
        typer.Option(
            "--result-type", metavar="TYPE", help=f"One of {', '.join(inputs.RESULT_TYPES)}."
        ),
    ] = "Text"
    correlation_id: Annotated[
        str | None,
        typer.Option("--correlation-id", metavar="ID", help="Carried to the outcome event."),
    ] = None
    wait: WaitFlag = False
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S
    as_json: JsonFlag = False


@command(app, "submit", SubmitOptions)
def submit(invocation: Invocation, options: SubmitOptions) -> None:
    """Send IMAGE and its regions to Aspose and announce the task on the stack's bus."""
    result_type = inputs.result_type(options.result_type)
    correlation_id = inputs.correlation_id(options.correlation_id)
    image = inputs.read_image(options.image)
    regions = inputs.load_regions(options.regions, image)
    out = invocation.output(options.as_json)
    target = invocation.target
    submission = actions.Submission(image, regions, result_type, correlation_id)
    task_id = actions.send(target, submission)
    if not out.as_json:
        out.line(task_id)  # at once: a script has it even if announcing fails or --wait times out
    submitted = _announce(target, submission, task_id)
    if not out.as_json or options.wait:
        for line in output.submitted_lines(submitted):
            out.note(line)
    document = submitted.to_json()
    if options.wait:
        _wait(out, target, actions.Followed(submitted.task_id), options.timeout, document)
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


def _wait(
    out: Output, target: Target, task: actions.Followed, timeout: float, document: dict[str, Any]
) -> None:
    """Follow the task to its end, then print its outcome (with ``document`` for ``--json``);
    exit code 3 when it did not complete, 4 when the wait timed out (the document printed with
    ``outcome: null`` and the execution so far)."""
    outcome: dict[str, Any] | None = None
    try:
        outcome = _follow(out, target, task, timeout)
    finally:
        if out.as_json:
            out.document(document | {"outcome": outcome, "execution": _execution_json(task)})
    _exit_unless_completed(outcome, task.task_id)


def _follow(
    out: Output, target: Target, task: actions.Followed, timeout: float
) -> dict[str, Any] | None:
    """Follow one task to its end, showing progress on stderr; its recorded outcome (JSON)."""
    progress = output.ProgressLines(out.note, datetime.now(UTC))
    try:
        with out.waiting(f"waiting for task {task.task_id}"):
            outcomes = actions.follow(target.session, [task], progress, timeout=timeout)
    except WaitTimeout:
        if task.execution is None:
            raise CliError(
                f"--wait timed out after {timeout:g} s and no execution {task.execution_name} "
                "was started: is the announcement in the dead-letter queue (ocr-results dlq list)?",
                ExitCode.WAIT_TIMED_OUT,
            ) from None
        raise CliError(
            f"--wait timed out after {timeout:g} s; task {task.task_id} is still going "
            f"(ocr-results status {task.task_id})",
            ExitCode.WAIT_TIMED_OUT,
        ) from None
    item = recorded_outcome(outcomes[task.task_id].item)
    if not out.as_json:
        status = views.TaskStatus(task.task_id, item, task.execution)
        for line in output.status_lines(status):
            out.line(line)
    return views.outcome_json(item) if item else None


def _execution_json(task: actions.Followed) -> dict[str, Any] | None:
    return views.execution_json(task.execution) if task.execution is not None else None


def _exit_unless_completed(outcome: dict[str, Any] | None, task_id: str) -> None:
    status = (outcome or {}).get("status")
    if status != COMPLETED:
        error = (outcome or {}).get("errorName")
        raise CliError(
            f"task {task_id} ended {status or 'without recording an outcome'}"
            + (f" ({error})" if error else ""),
            ExitCode.NOT_COMPLETED,
        )


# --- status ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskOptions:
    task: TaskArg
    as_json: JsonFlag = False


@command(app, "status", TaskOptions)
def status(invocation: Invocation, options: TaskOptions) -> None:
    """The task's outcome and counts; while none is recorded, where its execution stands
    (state, polls so far, next wait). Exit code 3 when it ended without completing."""
    task_id = inputs.task_id(options.task)
    out = invocation.output(options.as_json)
    found = views.task_status(invocation.target.session, task_id)
    if found is None:
        raise _unknown(task_id)
    if out.as_json:
        out.document(found.to_json())
    else:
        for line in output.status_lines(found):
            out.line(line)
    if found.ended:
        outcome = views.outcome_json(found.item) if found.item else None
        _exit_unless_completed(outcome, task_id)


def _unknown(task_id: str) -> CliError:
    return not_found(f"no task {task_id} in this stack (no execution, no outcome, no results)")


# --- inspect -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class InspectOptions:
    task: TaskArg
    svg: Annotated[
        Path | None,
        typer.Option(
            "--svg",
            metavar="FILE",
            help="Also draw the state machine with the latest execution's path to FILE.",
        ),
    ] = None
    show_text: Annotated[
        bool,
        typer.Option(
            "--show-text", help="Show the recognised text of each region (personal data)."
        ),
    ] = False
    as_json: JsonFlag = False


@command(app, "inspect", InspectOptions)
def inspect_task(invocation: Invocation, options: InspectOptions) -> None:
    """Everything about one task: table item, stored objects, each execution with every state
    entered, each wait and poll, its error and its outcome event. No recognised text unless
    --show-text."""
    task_id = inputs.task_id(options.task)
    out = invocation.output(options.as_json)
    session = invocation.target.session
    report = views.inspect_task(session, task_id, show_text=options.show_text)
    if not report.known:
        raise _unknown(task_id)
    document = report.to_json()
    if options.svg is not None:
        document["svg"] = str(_draw(session, report, options.svg))
    if out.as_json:
        out.document(document)
        return
    output.show_report(out, report)
    if options.svg is not None:
        out.line()
        out.line(f"Drew the state machine and the path of {report.latest.name} to {options.svg}")  # type: ignore[union-attr]


def _draw(session: Any, report: views.TaskReport, path: Path) -> Path:
    from infra.ops.drawing import render

    if report.latest is None:
        raise not_found(f"task {report.task_id} has no execution to draw")
    svg = render(session.definition(), report.latest)
    try:
        path.write_text(svg + "\n", encoding="utf-8")
    except OSError as error:
        raise bad_input(f"--svg {path}: cannot write it ({error.strerror})") from None
    return path


# --- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResultsOptions:
    task: TaskArg
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="DIR", help="Where to write them (default: ./TASK/)."),
    ] = None
    as_json: JsonFlag = False


@command(app, "results", ResultsOptions)
def results(invocation: Invocation, options: ResultsOptions) -> None:
    """Download the decoded regions of a completed task (and its manifest) into a directory.
    Exit code 3 when the task ended without completing."""
    task_id = inputs.task_id(options.task)
    out = invocation.output(options.as_json)
    directory = options.out or Path(task_id)
    if directory.exists() and not directory.is_dir():
        raise bad_input(f"--out {directory}: exists and is not a directory")
    download = actions.download_results(invocation.target.session, task_id, directory)
    if out.as_json:
        out.document(download.to_json())
    else:
        for line in output.download_lines(download):
            out.line(line)


# --- list --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ListOptions:
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            metavar="S",
            help="An execution status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED) or an "
            "outcome (Completed, Failed, NotFound, TimedOut).",
        ),
    ] = None
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="DURATION", help="Started in the last 90s, 15m, 2h, 7d."),
    ] = None
    correlation_id: Annotated[
        str | None, typer.Option("--correlation-id", metavar="ID", help="Only this one's.")
    ] = None
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many.")] = 50
    as_json: JsonFlag = False


@command(app, "list", ListOptions)
def list_tasks(invocation: Invocation, options: ListOptions) -> None:
    """Recent tasks, newest first: from the state machine's executions and the items of their
    tasks read by key (never a scan of the table)."""
    wanted = inputs.list_status(options.status)
    query = listing.Query(
        outcome=wanted.outcome,
        correlation_id=inputs.correlation_id(options.correlation_id),
        limit=options.limit,
    )
    since = inputs.duration(options.since) if options.since else None
    out = invocation.output(options.as_json)
    session = invocation.target.session
    summaries = session.list_executions(
        status=wanted.execution, started_after=listing.started_after(since)
    )
    rows = listing.rows(session, summaries, query)
    if out.as_json:
        out.document({"count": len(rows), "executions": [row.to_json() for row in rows]})
    elif rows:
        out.out.print(output.listing_table(rows))
    else:
        out.note("no executions match")


# --- refetch -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RefetchOptions:
    task: TaskArg
    label: Annotated[
        str | None,
        typer.Option(
            "--label",
            help="Names the execution <task>-<label> (1-36 of A-Za-z0-9_-; default: the time).",
        ),
    ] = None
    wait: WaitFlag = False
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S
    as_json: JsonFlag = False


@command(app, "refetch", RefetchOptions)
def refetch(invocation: Invocation, options: RefetchOptions) -> None:
    """Fetch a task again from Aspose (a new execution, <task>-<label>): the stored result is
    overwritten, never downgraded."""
    task_id = inputs.task_id(options.task)
    label = inputs.refetch_label(options.label) if options.label is not None else None
    out = invocation.output(options.as_json)
    target = invocation.target
    announced = actions.refetch(target.session, task_id, label)
    if not out.as_json:
        out.line(announced.execution_name)
    if not out.as_json or options.wait:
        for line in output.refetch_lines(announced):
            out.note(line)
    document = announced.to_json()
    if options.wait:
        followed = actions.Followed(task_id, execution_name=announced.execution_name)
        _wait(out, target, followed, options.timeout, document)
    elif out.as_json:
        out.document(document)


# --- dead letters ------------------------------------------------------------------------------
@dataclass(frozen=True)
class DlqListOptions:
    as_json: JsonFlag = False


@command(dlq_app, "list", DlqListOptions)
def dlq_list(invocation: Invocation, options: DlqListOptions) -> None:
    """Each dead letter with its reason, and whether sending it again could succeed."""
    out = invocation.output(options.as_json)
    letters = invocation.target.session.dead_letters()
    if out.as_json:
        out.document({"count": len(letters), "deadLetters": views.dead_letters_json(letters)})
    elif letters:
        out.out.print(output.dead_letters_table(letters))
    else:
        out.note("the dead-letter queue is empty")


@dataclass(frozen=True)
class RedriveOptions:
    message_id: Annotated[
        str | None,
        typer.Argument(metavar="ID", help="The message id of one dead letter (dlq list)."),
    ] = None
    all: Annotated[
        bool, typer.Option("--all", help="Every dead letter the starter would now accept.")
    ] = False
    as_json: JsonFlag = False


@command(dlq_app, "redrive", RedriveOptions)
def dlq_redrive(invocation: Invocation, options: RedriveOptions) -> None:
    """Send dead letters back to the start queue: only those the starter would now accept;
    malformed ones stay listed with their reason, so none goes round again."""
    if options.all == (options.message_id is not None):
        raise bad_input("give one dead letter's ID, or --all")
    out = invocation.output(options.as_json)
    done = actions.redrive(invocation.target.session, options.message_id)
    if out.as_json:
        out.document(
            {
                "sent": views.dead_letters_json(done.sent),
                "kept": views.dead_letters_json(done.kept),
            }
        )
    else:
        for line in output.redrive_lines(done):
            out.line(line)


# --- running -----------------------------------------------------------------------------------
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


def failure_of(error: BaseException) -> CliError | None:
    """The one line and exit code an exception ends the command with (None: let it through,
    as ``SystemExit``)."""
    if isinstance(error, CliError):
        return error
    if isinstance(error, KeyboardInterrupt | typer.Abort):
        return CliError("interrupted", ExitCode.INTERRUPTED)
    if isinstance(error, typer.TyperException):  # a usage error typer found
        message = getattr(error, "format_message", lambda: str(error))()
        # No command at all: the help was printed, which says it all.
        return CliError(f"{message} (see --help)" if message else "", ExitCode.USAGE)
    if not isinstance(error, Exception):
        return None
    return _service_failure(error) or CliError(
        f"unexpected {type(error).__name__}: {_clip(str(error))} (a bug: please report it"
        + f"; {DEBUG}=1 shows its traceback)",
        ExitCode.INTERNAL_ERROR,
    )


def _service_failure(error: Exception) -> CliError | None:
    """AWS's and Aspose's errors, named."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    from ocr_fetch.errors import (
        AsposeAuthError,
        AsposeBadRequestError,
        AsposeProtocolError,
        AsposeThrottledError,
        AsposeUnavailableError,
        CredentialsNotConfigured,
        EventPublishError,
        ResponseTooLarge,
    )

    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "error")
        message = error.response.get("Error", {}).get("Message", "")
        return CliError(
            f"AWS {error.operation_name} failed: {code}: {_clip(message)}", ExitCode.AWS_ERROR
        )
    if isinstance(error, EndpointConnectionError):
        return CliError(
            f"cannot reach AWS at {error.kwargs.get('endpoint_url')} (for --local: is `make "
            "local` running?)",
            ExitCode.AWS_ERROR,
        )
    if isinstance(error, BotoCoreError | EventPublishError):
        return CliError(f"AWS: {_clip(str(error))}", ExitCode.AWS_ERROR)
    aspose = (
        AsposeAuthError,
        AsposeBadRequestError,
        AsposeProtocolError,
        AsposeThrottledError,
        AsposeUnavailableError,
        CredentialsNotConfigured,
        ResponseTooLarge,
    )
    if isinstance(error, aspose):
        return CliError(
            f"Aspose: {type(error).__name__}: {_clip(str(error))}", ExitCode.ASPOSE_ERROR
        )
    return None


def _clip(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


if __name__ == "__main__":
    sys.exit(main())
