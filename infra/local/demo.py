"""``make demo``: the whole product on this machine, end to end, with no account and no network.

Starts the Aspose emulator (real OCR) and the local AWS, deploys template.yaml with small polling
parameters, submits the sample ID card and form as a real submitter would, announces them on the
bus, follows each execution live, then prints what was recognised and where it was stored. It
drives the stack through the code of ``ocr-results`` (``infra.ops.cli``: its submit, follow and
inspect), so the demo shows what the CLI does.

The recognised text is printed because this is the user's own terminal and seeing it is the point;
the product itself never logs it, and it appears nowhere in events or execution history.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from infra.local.cloud import LocalCloud, fast_polling
from infra.local.emulator import EmulatorConfig, Timing
from infra.local.samples import SampleDocument, id_card, registration_form
from infra.ops.cli.actions import Followed, Submission, announce, follow, send
from infra.ops.cli.inputs import NamedRegion, image_from_bytes
from infra.ops.cli.output import ARROW, ProgressLines, path_summary
from infra.ops.cli.target import Target
from infra.ops.cli.views import Region, inspect_task
from infra.stack.aspose import AsposeAccess
from infra.stack.outcomes import OutcomeSubscription, TaskOutcome
from infra.stack.serving import sigterm_as_interrupt
from infra.stack.session import StackSession
from infra.stack.waiting import WaitTimeout
from ocr_fetch.layout import task_prefix

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
STACK_NAME = "ocr-regions-demo"
SUBMITTER_SOURCE = "demo.submitter"

#: Waits of 1, 2, 3, 3... seconds (AWS defaults are minutes); the handlers' logs go to the local
#: CloudWatch Logs, not this terminal.
DEMO_PARAMETERS = fast_polling(max_interval_seconds=3, deadline_seconds=120)
#: A task waits in the emulator's queue longer than the first polls take to arrive (cold starts
#: included, on a busy machine), so each execution polls several times and its waits grow.
EMULATOR_TIMING = Timing(queue_delay_s=8.0, per_region_s=0.2)
#: The deadline plus room for the last poll, decoding and storing.
TASK_TIMEOUT_S = 150.0
#: The demo's steps with ``ocr-results``, against the stack ``make local`` runs.
CLI_SESSION = (
    ".venv/bin/python -m infra.local.samples  # writes examples/id_card.png beside its regions",
    ".venv/bin/ocr-results --local submit examples/id_card.png "
    "--regions examples/id_card.regions.json --wait",
    ".venv/bin/ocr-results --local inspect TASK --svg path.svg",
    ".venv/bin/ocr-results --local results TASK --out results/",
)


class DemoError(Exception):
    """Something the demo expected did not happen; the message says what."""


@dataclass
class DemoTask:
    """One submitted document, followed as ``ocr-results submit --wait`` follows a task."""

    document: SampleDocument
    followed: Followed

    @property
    def label(self) -> str:
        return self.followed.label.strip()

    @property
    def task_id(self) -> str:
        return self.followed.task_id


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 when every task's regions were recognised and stored, 1 otherwise."""
    args = _parse_args(argv)
    started = time.monotonic()
    try:
        with sigterm_as_interrupt():  # the cloud and the emulator are stopped either way
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
    _say("To explore at your own pace: `make local` keeps a stack running; then, in another shell,")
    for line in CLI_SESSION:
        _say(f"  {line}")
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.local.demo", description=__doc__)
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
        target = Target(f"stack {stack.stack_name}", session, lambda: _aspose(cloud))
        with session.subscribe_outcomes("demo-outcomes") as subscription:
            tasks = _submit_samples(cloud, target, resilience=resilience)
            try:
                outcomes = _follow(session, tasks, subscription)
                _report(session, tasks, outcomes)
            finally:
                _stop_running_executions(session, tasks)
        _check(tasks, outcomes)


def _aspose(cloud: LocalCloud) -> AsposeAccess:
    assert cloud.aspose is not None
    return cloud.aspose


# --- submitting ----------------------------------------------------------------------------------
def _submit_samples(cloud: LocalCloud, target: Target, *, resilience: bool) -> list[DemoTask]:
    """Submit each sample to the emulator and announce it on the bus, as ``ocr-results submit``
    does (the same two steps, with a fault armed between them for the flaky one)."""
    assert cloud.emulator is not None
    documents = [
        ("ID card", "id_card", id_card()),
        ("Form", "registration_form", registration_form()),
    ]
    if resilience:
        documents.append(("ID card, flaky", "id_card", id_card()))
    width = max(len(label) for label, _, _ in documents)
    tasks = []
    for label, name, document in documents:
        submission = Submission(
            image=image_from_bytes(document.png, Path(f"{name}.png")),
            regions=[NamedRegion(f.name, f.rect) for f in document.fields],
            correlation_id=f"demo-{uuid.uuid4().hex[:8]}",
            metadata={"document": document.title.lower(), "submittedBy": "make demo"},
            source=SUBMITTER_SOURCE,
        )
        task_id = send(target, submission)
        flaky = label.endswith("flaky")
        if flaky:
            # Its first poll is throttled, its second finds the service down: both survived.
            cloud.emulator.admin.inject("http_429", task_id=task_id, times=1, retry_after=2)
            cloud.emulator.admin.inject("http_503", task_id=task_id, times=1)
        announce(target.session, submission, task_id)
        extra = "  (its first polls get HTTP 429, then 503)" if flaky else ""
        _say(
            f"Submitted {label:<15} task {task_id}, {len(document.fields)} regions; "
            f"announced on the bus{extra}"
        )
        tasks.append(DemoTask(document, Followed(task_id, label=f"{label:<{width}}")))
    _say("")
    return tasks


# --- following the executions --------------------------------------------------------------------
def _follow(
    session: StackSession, tasks: list[DemoTask], subscription: OutcomeSubscription
) -> dict[str, TaskOutcome]:
    """One line per poll result, retry or end of each execution until all have ended (the
    progress of ``ocr-results submit --wait``), in seconds since the first submission."""
    report = ProgressLines(_say, datetime.now(UTC), labels=True)
    try:
        outcomes = follow(
            session,
            [t.followed for t in tasks],
            report,
            timeout=TASK_TIMEOUT_S,
            subscription=subscription,
        )
    except WaitTimeout as error:
        raise DemoError(str(error)) from None
    _say("")
    return outcomes


# --- the report ----------------------------------------------------------------------------------
def _report(session: StackSession, tasks: list[DemoTask], outcomes: dict[str, TaskOutcome]) -> None:
    """Each task as ``ocr-results inspect --show-text`` reads it: regions with their text and
    S3 objects, the table item, the outcome event and the path with its waits."""
    table = session.outputs.results_table
    for task in tasks:
        outcome = outcomes[task.task_id]
        report = inspect_task(session, task.task_id, show_text=True)
        execution = report.latest or outcome.execution
        _say(f"{task.label}: task {task.task_id}, execution {execution.status}")
        if execution.status != "SUCCEEDED":
            _say(f"  error {execution.error}: {execution.cause}")
        item = report.item or {}
        # the run whose results are the task's: its own prefix
        manifest = str(item.get("manifestKey") or "")
        prefix = manifest.rsplit("/", 1)[0] + "/" if manifest else task_prefix(task.task_id)
        if report.regions and item.get("manifestKey"):
            _say(f"  S3        s3://{report.bucket}/{prefix}")
            _print_regions(prefix, task, report.regions)
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
        _say(_wrap("  path      ", ARROW.join(path_summary(execution.steps))))
        _say("")


def _print_regions(prefix: str, task: DemoTask, regions: Sequence[Region]) -> None:
    """Each region's decoded text next to what the sample printed there, and its S3 object."""
    printed = {f.name: f.value for f in task.document.fields}
    rows: list[tuple[str, str, str, str]] = []  # name, text or problem, check, object
    for region in regions:
        name = str(region.name)
        if region.error or region.text is None:
            rows.append((name, f"(not decoded: {region.error})", "", ""))
            continue
        text = region.text.strip().replace("\n", " ⏎ ")
        check = "✓" if text == printed.get(name) else f"(printed {printed.get(name)!r})"
        rows.append((name, repr(text), check, str(region.s3_key).removeprefix(prefix)))
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
        execution = task.followed.execution
        if execution is not None and execution.running:
            with contextlib.suppress(Exception):  # best effort: the cloud stops next anyway
                sfn.stop_execution(executionArn=execution.arn, error="DemoStopped")


def _say(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
