"""``make demo``: the whole product on this machine, end to end, with no account and no network.

Starts the Aspose emulator (real OCR) and the local AWS, deploys template.yaml with small polling
parameters, submits the sample ID card and form as a real submitter would, announces them on the
bus, follows each execution live, then prints what was recognised and where it was stored. It
drives the stack through the same session as the tests and the CLI.

The recognised text is printed because this is the user's own terminal and seeing it is the point;
the product itself never logs it, and it appears nowhere in events or execution history.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType

from infra.emulator import EmulatorConfig, Timing
from infra.local_cloud import LocalCloud
from infra.local_cloud.session import Execution, StackSession, Step, TaskOutcome
from infra.samples import SampleDocument, id_card, registration_form
from infra.waiting import wait_until
from ocr_fetch.client import RecognitionSettings
from ocr_fetch.layout import task_prefix

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
STACK_NAME = "ocr-regions-demo"
SUBMITTER_SOURCE = "demo.submitter"

#: Waits of 1, 2, 3, 3... seconds (AWS defaults are minutes); no jitter so the growth is visible.
DEMO_PARAMETERS = {
    "PollInitialSeconds": "1",
    "PollMultiplier": "2",
    "PollMaxIntervalSeconds": "3",
    "PollJitter": "0",
    "PollDeadlineSeconds": "120",
    "LogLevel": "INFO",  # the handlers' logs go to the local CloudWatch Logs, not this terminal
}
#: A task waits a few seconds in the emulator's queue, so each execution polls several times.
EMULATOR_TIMING = Timing(queue_delay_s=5.0, per_region_s=0.2)
#: The deadline plus room for the last poll, decoding and storing.
TASK_TIMEOUT_S = 150.0
PROGRESS_EVERY_S = 0.25
RUNNING_STATUSES = {"Pending", "Processing", "Throttled", "Unavailable", "NotChecked"}
ARROW = " → "


class DemoError(Exception):
    """Something the demo expected did not happen; the message says what."""


@dataclass
class DemoTask:
    """One submitted document and what the demo has shown of its execution so far."""

    label: str
    document: SampleDocument
    task_id: str
    correlation_id: str
    shown: set[tuple[int, int]] = field(default_factory=set)  # (step, errors) already printed
    execution: Execution | None = None


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 when every task's regions were recognised and stored, 1 otherwise."""
    args = _parse_args(argv)
    started = time.monotonic()
    try:
        with _sigterm_as_interrupt():
            _run(resilience=not args.no_resilience)
    except KeyboardInterrupt:
        print("\nInterrupted: the local cloud and the emulator are stopped.", file=sys.stderr)
        return 130
    except DemoError as error:
        print(f"\nDemo failed: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # a deploy or start-up failure: say what, not a traceback
        print(f"\nDemo failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    _say(f"\nDone in {time.monotonic() - started:.1f} s; everything is stopped.")
    _say(
        "To explore at your own pace: `make local` keeps a stack running and says how to reach it."
    )
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.demo", description=__doc__)
    parser.add_argument(
        "--no-resilience",
        action="store_true",
        help="skip the third task, whose first polls get an HTTP 429 and an HTTP 503",
    )
    return parser.parse_args(argv)


def _run(*, resilience: bool) -> None:
    _say("OCR region results: the whole product, locally (no AWS or Aspose account, no network)\n")
    with LocalCloud(emulator=EmulatorConfig(timing=EMULATOR_TIMING, workers=2)) as cloud:
        assert cloud.aspose is not None
        _say(f"Aspose emulator   {cloud.aspose.base_url}  (Aspose.OCR Cloud v5.0 API, real OCR)")
        _say(f"Local AWS (moto)  {cloud.endpoint}  (region {cloud.region})")
        deploy_started = time.monotonic()
        stack = cloud.deploy(TEMPLATE, parameters=DEMO_PARAMETERS, stack_name=STACK_NAME)
        outputs = stack.outputs
        _say(
            f"Deployed          template.yaml as stack {stack.stack_name} in "
            f"{time.monotonic() - deploy_started:.1f} s: bus {outputs['EventBusName']}, "
            f"bucket {outputs['ResultsBucketName']}, table {outputs['ResultsTableName']}"
        )
        _say(
            f"Polling policy    first wait {DEMO_PARAMETERS['PollInitialSeconds']} s, "
            f"times {DEMO_PARAMETERS['PollMultiplier']} each poll, at most "
            f"{DEMO_PARAMETERS['PollMaxIntervalSeconds']} s; gives up after "
            f"{DEMO_PARAMETERS['PollDeadlineSeconds']} s"
        )
        _say(
            "Product logs      each function's own log group in the local CloudWatch Logs "
            "(never the recognised text)\n"
        )
        session = StackSession.from_outputs(outputs, cloud.client)
        subscription = session.subscribe_outcomes("demo-outcomes")
        tasks = _submit_samples(cloud, session, resilience=resilience)
        try:
            _follow(session, tasks, time.time())
            outcomes = session.wait_for_outcomes(
                [t.task_id for t in tasks], timeout=30, subscription=subscription
            )
            _report(session, tasks, outcomes)
        finally:
            _stop_running_executions(session, tasks)
        _check(tasks, outcomes)


# --- submitting ----------------------------------------------------------------------------------
def _submit_samples(
    cloud: LocalCloud, session: StackSession, *, resilience: bool
) -> list[DemoTask]:
    """Submit each sample to the emulator and announce it on the bus, as a real submitter does."""
    assert cloud.aspose is not None
    assert cloud.emulator is not None
    documents = [("ID card", id_card()), ("Form", registration_form())]
    if resilience:
        documents.append(("ID card, flaky", id_card()))
    client = cloud.aspose.client()
    tasks = []
    for label, document in documents:
        task_id = client.submit_regions(
            document.png, document.rects, RecognitionSettings(result_type="Text")
        )
        flaky = label.endswith("flaky")
        if flaky:
            # Its first poll is throttled, its second finds the service down: both survived.
            cloud.emulator.admin.inject("http_429", task_id=task_id, times=1, retry_after=2)
            cloud.emulator.admin.inject("http_503", task_id=task_id, times=1)
        task = DemoTask(label, document, task_id, f"demo-{uuid.uuid4().hex[:8]}")
        session.announce(
            task_id,
            list(document.region_names),
            correlation_id=task.correlation_id,
            metadata={"document": document.title.lower(), "submittedBy": "make demo"},
            source=SUBMITTER_SOURCE,
        )
        extra = "  (its first polls get HTTP 429, then 503)" if flaky else ""
        _say(
            f"Submitted {label:<15} task {task_id}, {len(document.fields)} regions; "
            f"announced on the bus{extra}"
        )
        tasks.append(task)
    _say("")
    return tasks


# --- following the executions --------------------------------------------------------------------
def _follow(session: StackSession, tasks: list[DemoTask], t0: float) -> None:
    """Print one line per poll result, retry or end of each execution, until all have ended.

    Times are those the history recorded, in seconds since ``t0`` (the first submission).
    """
    width = max(len(t.label) for t in tasks)

    def all_ended() -> bool:
        for task in tasks:
            if task.execution is None or task.execution.running:
                _show_progress(session, task, width, t0)
        return all(t.execution is not None and not t.execution.running for t in tasks)

    try:
        wait_until(all_ended, timeout=TASK_TIMEOUT_S, what="every task", every=PROGRESS_EVERY_S)
    except AssertionError:
        late = ", ".join(f"{t.label} ({session.diagnose(t.task_id)})" for t in tasks)
        raise DemoError(f"tasks still running after {TASK_TIMEOUT_S:.0f} s: {late}") from None
    _say("")


def _show_progress(session: StackSession, task: DemoTask, width: int, t0: float) -> None:
    executions = session.executions(task.task_id)
    if not executions:
        return
    execution = session.execution(executions[0]["executionArn"])
    if task.execution is None:
        _progress(_since(t0, execution.started), task, width, "execution started, named after it")
    task.execution = execution
    for index, step in enumerate(execution.steps):
        for line, errors in _step_lines(step):
            if (index, errors) not in task.shown:
                task.shown.add((index, errors))
                _progress(_since(t0, step.entered), task, width, line)
    if not execution.running:
        _progress(_since(t0, execution.stopped), task, width, f"execution {execution.status}")


def _step_lines(step: Step) -> list[tuple[str, int]]:
    """What a person cares about in one step: a poll's answer, a retried failure, the end."""
    lines: list[tuple[str, int]] = []
    if step.poll is not None:
        status = str(step.poll.get("status"))
        line = f"poll {step.poll.get('polls')}: {status}"
        cause = step.poll.get("transientCause")
        if isinstance(cause, dict):
            line += f" ({cause.get('message')})"
        if status in RUNNING_STATUSES and not step.poll.get("giveUp"):
            line += f", next poll in {step.poll.get('waitSeconds')} s"
        lines.append((line, -1))
    elif step.kind == "Task" and step.name.startswith(("Decode", "Record")):
        lines.append((step.name.capitalize(), -1))
    for number, error in enumerate(step.errors):
        lines.append((f"{step.name} failed with {error}; its Retry tries again", number))
    return lines


def _progress(at: float, task: DemoTask, width: int, line: str) -> None:
    _say(f"  {at:5.1f} s  {task.label:<{width}}  {line}")


def _since(t0: float, moment: datetime | None) -> float:
    return (moment.timestamp() if moment is not None else time.time()) - t0


def _path(steps: tuple[Step, ...]) -> list[str]:
    """The states visited in order (choices left out), waits with their seconds, retries marked."""
    shown: list[str] = []
    for step in steps:
        if step.kind == "Choice":
            continue
        text = f"Wait {step.wait_seconds}s" if step.wait_seconds is not None else step.name
        shown.append(text + "".join(f" ✗ {error} ↻" for error in step.errors))
    return shown


# --- the report ----------------------------------------------------------------------------------
def _report(session: StackSession, tasks: list[DemoTask], outcomes: dict[str, TaskOutcome]) -> None:
    bucket = session.outputs.results_bucket
    table = session.outputs.results_table
    for task in tasks:
        outcome = outcomes[task.task_id]
        _say(f"{task.label}: task {task.task_id}, execution {outcome.execution.status}")
        if outcome.execution.status != "SUCCEEDED":
            _say(f"  error {outcome.execution.error}: {outcome.execution.cause}")
        prefix = task_prefix(task.task_id)
        manifest = session.manifest(task.task_id)
        item = outcome.item or {}
        if manifest is not None:
            _say(f"  S3        s3://{bucket}/{prefix}")
            _print_regions(session, prefix, task, manifest["regions"])
            raw = str(item.get("rawKey", "")).removeprefix(prefix)
            _say(f"    {raw} (the service's answer), {str(item['manifestKey'])[len(prefix) :]}")
        if item:
            _say(
                f"  DynamoDB  {table} item: status {item['status']}, "
                f"responseStatusCode {item.get('responseStatusCode')}, polls {item.get('polls')}, "
                f"{item.get('decodedCount', 0)} of {item.get('regionCount', 0)} regions decoded"
            )
        else:
            _say(f"  DynamoDB  no item in {table} for this task")
        if outcome.event is not None:
            detail = outcome.event["detail"]
            _say(
                f"  event     {outcome.event['detail-type']}: ids, counts and S3 keys "
                f"of {len(detail.get('regions', []))} regions, correlationId "
                f"{detail.get('correlationId')}; no recognised text"
            )
        _say(_wrap("  path      ", ARROW.join(_path(outcome.execution.steps))))
        _say("")


def _print_regions(
    session: StackSession, prefix: str, task: DemoTask, regions: list[dict[str, object]]
) -> None:
    """Each region's decoded text next to what the sample printed there, and its S3 object."""
    printed = {f.name: f.value for f in task.document.fields}
    rows: list[tuple[str, str, str, str]] = []  # name, text or problem, check, object
    for region in regions:
        name = str(region.get("name"))
        if region.get("error"):
            rows.append((name, f"(not decoded: {region['error']})", "", ""))
            continue
        body, _ = session.read_object(str(region["s3Key"]))
        text = body.decode("utf-8", errors="replace").strip().replace("\n", " ⏎ ")
        check = "✓" if text == printed.get(name) else f"(printed {printed.get(name)!r})"
        rows.append((name, repr(text), check, str(region["s3Key"]).removeprefix(prefix)))
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(4)]
    for name, text, check, key in rows:
        _say(f"    {key:<{widths[3]}}  {name:<{widths[0]}}  {text:<{widths[1]}}  {check}".rstrip())


def _wrap(prefix: str, text: str, width: int = 100) -> str:
    """Wrap ``text`` at arrows so each line stays under ``width``."""
    lines: list[str] = []
    current = prefix
    for i, step in enumerate(text.split(ARROW)):
        piece = step if i == 0 else ARROW + step
        if len(current) + len(piece) > width and current.strip():
            lines.append(current.rstrip())
            current = " " * len(prefix) + piece.lstrip()
        else:
            current += piece
    lines.append(current)
    return "\n".join(lines)


def _check(tasks: list[DemoTask], outcomes: dict[str, TaskOutcome]) -> None:
    """Fail unless every task succeeded with every region decoded and its outcome published."""
    problems = []
    for task in tasks:
        outcome = outcomes[task.task_id]
        if outcome.execution.status != "SUCCEEDED":
            problems.append(f"{task.label} ended {outcome.execution.status}")
        elif outcome.event is None:
            problems.append(f"{task.label}: no outcome event reached the consumer")
        elif outcome.event["detail"].get("errorCount"):
            problems.append(f"{task.label}: some regions could not be decoded")
    if problems:
        raise DemoError("; ".join(problems))
    regions = sum(len(t.document.fields) for t in tasks)
    _say(
        f"All {len(tasks)} tasks completed: {regions} regions recognised, stored in S3 and "
        "DynamoDB, and their outcome events published."
    )


def _stop_running_executions(session: StackSession, tasks: list[DemoTask]) -> None:
    """On a failure or Ctrl-C, stop what is still running before the cloud goes away."""
    sfn = session.client("stepfunctions")
    for task in tasks:
        if task.execution is not None and task.execution.running:
            with contextlib.suppress(Exception):  # best effort: the cloud stops next anyway
                sfn.stop_execution(executionArn=task.execution.arn, error="DemoStopped")


# --- process hygiene -----------------------------------------------------------------------------
@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the cloud and the emulator are stopped either way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _say(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
