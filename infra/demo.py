"""``make demo``: the whole product on this machine, end to end, with no account and no network.

Starts the Aspose emulator (real OCR) and the local AWS, deploys template.yaml with small polling
parameters, submits the sample ID card and form as a real submitter would, announces them on the
bus, follows each execution live, then prints what was recognised and where it was stored.

The recognised text is printed because this is the user's own terminal and seeing it is the point;
the product itself never logs it, and it appears nowhere in events or execution history.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
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
from typing import Any

import requests

from infra.emulator import EmulatorConfig, EmulatorServer, Timing
from infra.local_cloud import LocalCloud, StackInfo
from infra.samples import SampleDocument, id_card, registration_form
from ocr_fetch.client import AsposeClient, Credentials, RecognitionSettings
from ocr_fetch.events import SOURCE as OUTCOME_SOURCE
from ocr_fetch.events import EventPublisher

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
    "LogLevel": "WARNING",  # the handlers' JSON logs would drown the demo's own output
}
#: A task waits a few seconds in the emulator's queue, so each execution polls several times.
EMULATOR_TIMING = Timing(queue_delay_s=5.0, per_region_s=0.2)
#: The deadline plus room for the last poll, decoding and storing.
TASK_TIMEOUT_S = 150.0
PROGRESS_EVERY_S = 0.25
RUNNING_STATUSES = {"Pending", "Processing", "Throttled", "NotChecked"}
POLL_ROUTER = "Route On Task Status"
ARROW = " → "


class DemoError(Exception):
    """Something the demo expected did not happen; the message says what."""


@dataclass
class DemoTask:
    """One submitted document and what the demo has seen of its execution so far."""

    label: str
    document: SampleDocument
    task_id: str
    correlation_id: str
    execution_arn: str | None = None
    seen_events: int = 0
    state: str = ""
    last_line: str = ""
    execution: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    outcome_event: dict[str, Any] | None = None


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 when every task's regions were recognised and stored, 1 otherwise."""
    args = _parse_args(argv)
    started = time.monotonic()
    try:
        with _sigterm_as_interrupt(), _quiet_powertools():
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
    config = EmulatorConfig(timing=EMULATOR_TIMING, workers=2)
    with EmulatorServer(config) as emulator:
        _say(f"Aspose emulator   {emulator.base_url}  (Aspose.OCR Cloud v5.0 API, real OCR)")
        cloud = LocalCloud.for_aspose(emulator)
        with cloud:
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
                f"Product logs      JSON on stdout at {DEMO_PARAMETERS['LogLevel']} and above "
                "(a throttled poll writes one); never the recognised text\n"
            )
            consumer = _outcome_consumer(cloud, stack)
            tasks: list[DemoTask] = []
            try:
                t0 = time.time()
                tasks = _submit_samples(emulator, cloud, stack, resilience=resilience)
                _follow(cloud, stack, tasks, t0)
                _collect_outcome_events(cloud, consumer, tasks)
                _report(cloud, stack, tasks)
            finally:
                _stop_running_executions(cloud, tasks)
            _check(tasks)


# --- submitting ----------------------------------------------------------------------------------
def _submit_samples(
    emulator: EmulatorServer, cloud: LocalCloud, stack: StackInfo, *, resilience: bool
) -> list[DemoTask]:
    """Submit each sample to the emulator and announce it on the bus, as a real submitter does."""
    documents = [("ID card", id_card()), ("Form", registration_form())]
    if resilience:
        documents.append(("ID card, flaky", id_card()))
    publisher = EventPublisher(stack.outputs["EventBusName"], client=cloud.client("events"))
    session = requests.Session()
    client = AsposeClient.create(
        base_url=emulator.base_url,
        token_url=emulator.token_url,
        credentials=lambda: Credentials(emulator.client_id, emulator.client_secret),
        session=session,
    )
    tasks = []
    try:
        for label, document in documents:
            task_id = client.submit_regions(
                document.png, document.rects, RecognitionSettings(result_type="Text")
            )
            if label.endswith("flaky"):
                # Its first poll is throttled, its second finds the service down: both survived.
                emulator.admin.inject("http_429", task_id=task_id, times=1, retry_after=2)
                emulator.admin.inject("http_503", task_id=task_id, times=1)
            task = DemoTask(label, document, task_id, f"demo-{uuid.uuid4().hex[:8]}")
            publisher.publish_submitted(
                task_id,
                document.region_names,
                correlation_id=task.correlation_id,
                metadata={"document": document.title.lower(), "submittedBy": "make demo"},
                source=SUBMITTER_SOURCE,
            )
            extra = "  (its first polls get HTTP 429, then 503)" if label.endswith("flaky") else ""
            _say(
                f"Submitted {label:<15} task {task_id}, {len(document.fields)} regions; "
                f"announced on the bus{extra}"
            )
            tasks.append(task)
    finally:
        session.close()
    _say("")
    return tasks


# --- following the executions --------------------------------------------------------------------
def _follow(cloud: LocalCloud, stack: StackInfo, tasks: list[DemoTask], t0: float) -> None:
    """Print one line per new poll result, retry or end of each execution, until all end.

    Times are those the history recorded, in seconds since ``t0`` (the first submission).
    """
    sfn = cloud.client("stepfunctions")
    state_machine_arn = stack.outputs["StateMachineArn"]
    started = time.monotonic()
    width = max(len(t.label) for t in tasks)
    while any(t.execution is None for t in tasks):
        elapsed = time.monotonic() - started
        if elapsed > TASK_TIMEOUT_S:
            late = ", ".join(f"{t.label} ({t.last_line or 'not started'})" for t in tasks)
            raise DemoError(f"tasks still running after {TASK_TIMEOUT_S:.0f} s: {late}")
        waiting = [t for t in tasks if t.execution_arn is None]
        if waiting:
            executions = _executions(sfn, state_machine_arn)
            for task in waiting:
                execution = executions.get(task.task_id)
                if execution is not None:
                    task.execution_arn = execution["executionArn"]
                    at = _since(t0, execution.get("startDate"))
                    _progress(at, task, width, "execution started, named after the task id")
        for task in tasks:
            if task.execution_arn is None or task.execution is not None:
                continue
            described: dict[str, Any] = sfn.describe_execution(executionArn=task.execution_arn)
            task.history = _history(sfn, task.execution_arn)
            for event in task.history[task.seen_events :]:
                if event["type"].endswith("StateEntered"):
                    task.state = event["stateEnteredEventDetails"]["name"]
                line = _describe_event(event, task.state)
                if line and line != task.last_line:
                    task.last_line = line
                    _progress(_since(t0, event.get("timestamp")), task, width, line)
            task.seen_events = len(task.history)
            if described["status"] != "RUNNING":
                task.execution = described
                at = _since(t0, described.get("stopDate"))
                _progress(at, task, width, f"execution {described['status']}")
        if elapsed > 20 and any(t.execution_arn is None for t in tasks):
            missing = ", ".join(t.label for t in tasks if t.execution_arn is None)
            raise DemoError(
                f"no execution started for {missing}: the start path "
                "(bus → rule → start queue → starter Lambda) did not run"
            )
        time.sleep(PROGRESS_EVERY_S)
    _say("")


def _describe_event(event: dict[str, Any], state: str) -> str | None:
    """A progress line for the history events a person cares about, else None.

    ``state`` is the state the execution was in when ``event`` happened.
    """
    kind = event["type"]
    if kind == "ChoiceStateEntered" and event["stateEnteredEventDetails"]["name"] == POLL_ROUTER:
        poll = json.loads(event["stateEnteredEventDetails"]["input"])["poll"]
        status = str(poll["status"])
        line = f"poll {poll['polls']}: {status}"
        if status in RUNNING_STATUSES and not poll.get("giveUp"):
            line += f", next poll in {poll['waitSeconds']} s"
        return line
    if kind == "TaskFailed":
        error = event["taskFailedEventDetails"].get("error", "an error")
        return f"{state} failed with {error}; its Retry tries again"
    if kind.endswith("StateEntered"):
        name = str(event["stateEnteredEventDetails"]["name"])
        if kind == "TaskStateEntered" and name.startswith(("Decode", "Record")):
            return name.capitalize()
    return None


def _progress(at: float, task: DemoTask, width: int, line: str) -> None:
    _say(f"  {at:5.1f} s  {task.label:<{width}}  {line}")


def _since(t0: float, moment: datetime | None) -> float:
    return (moment.timestamp() if moment is not None else time.time()) - t0


def _executions(sfn: Any, state_machine_arn: str) -> dict[str, dict[str, Any]]:
    """The state machine's executions by name."""
    executions: dict[str, dict[str, Any]] = {}
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        executions.update({e["name"]: e for e in page["executions"]})
    return executions


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def _path(history: list[dict[str, Any]]) -> list[str]:
    """The states visited in order (choices left out), waits with their seconds, retries marked."""
    steps: list[str] = []
    for event in history:
        kind = event["type"]
        if kind == "TaskFailed" and steps:
            steps[-1] += f" ✗ {event['taskFailedEventDetails'].get('error', 'error')} ↻"
        if not kind.endswith("StateEntered") or kind == "ChoiceStateEntered":
            continue
        details = event["stateEnteredEventDetails"]
        if kind == "WaitStateEntered":
            steps.append(f"Wait {json.loads(details['input'])['poll']['waitSeconds']}s")
        else:
            steps.append(details["name"])
    return steps


# --- outcome events, like a downstream consumer ---------------------------------------------------
def _outcome_consumer(cloud: LocalCloud, stack: StackInfo) -> str:
    """A queue receiving every outcome event from the bus, as a downstream consumer would."""
    return cloud.queue_for_events(
        stack.outputs["EventBusName"], "demo-outcome-consumer", {"source": [OUTCOME_SOURCE]}
    )


def _collect_outcome_events(cloud: LocalCloud, queue_url: str, tasks: list[DemoTask]) -> None:
    sqs = cloud.client("sqs")
    by_id = {t.task_id: t for t in tasks}
    deadline = time.monotonic() + 10
    while any(t.outcome_event is None for t in tasks) and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        for message in messages:
            event = json.loads(message["Body"])
            task = by_id.get(event.get("detail", {}).get("taskId"))
            if task is not None:
                task.outcome_event = event
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if not messages:
            time.sleep(0.2)


# --- the report ----------------------------------------------------------------------------------
def _report(cloud: LocalCloud, stack: StackInfo, tasks: list[DemoTask]) -> None:
    s3 = cloud.client("s3")
    bucket = stack.outputs["ResultsBucketName"]
    table_name = stack.outputs["ResultsTableName"]
    table = cloud.resource("dynamodb").Table(table_name)
    for task in tasks:
        execution = task.execution or {}
        status = execution.get("status", "UNKNOWN")
        _say(f"{task.label}: task {task.task_id}, execution {status}")
        if status != "SUCCEEDED":
            _say(f"  error {execution.get('error')}: {execution.get('cause')}")
        item: dict[str, Any] = table.get_item(Key={"taskId": task.task_id}).get("Item") or {}
        manifest_key = item.get("manifestKey")
        if manifest_key:
            prefix = manifest_key.rsplit("/", 1)[0] + "/"
            _say(f"  S3        s3://{bucket}/{prefix}")
            manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
            _print_regions(s3, bucket, prefix, task, manifest["regions"])
            raw = str(item.get("rawKey", "")).removeprefix(prefix)
            _say(f"    {raw} (the service's answer), {manifest_key.removeprefix(prefix)}")
        if item:
            _say(
                f"  DynamoDB  {table_name} item: status {item['status']}, "
                f"responseStatusCode {item.get('responseStatusCode')}, polls {item.get('polls')}, "
                f"{item.get('decodedCount', 0)} of {item.get('regionCount', 0)} regions decoded"
            )
        else:
            _say(f"  DynamoDB  no item in {table_name} for this task")
        if task.outcome_event is not None:
            detail = task.outcome_event["detail"]
            _say(
                f"  event     {task.outcome_event['detail-type']}: ids, counts and S3 keys "
                f"of {len(detail.get('regions', []))} regions, correlationId "
                f"{detail.get('correlationId')}; no recognised text"
            )
        _say(_wrap("  path      ", ARROW.join(_path(task.history))))
        _say("")


def _print_regions(
    s3: Any, bucket: str, prefix: str, task: DemoTask, regions: list[dict[str, Any]]
) -> None:
    """Each region's decoded text next to what the sample printed there, and its S3 object."""
    printed = {f.name: f.value for f in task.document.fields}
    rows: list[tuple[str, str, str, str]] = []  # name, text or problem, check, object
    for region in regions:
        name = str(region.get("name"))
        if region.get("error"):
            rows.append((name, f"(not decoded: {region['error']})", "", ""))
            continue
        body = s3.get_object(Bucket=bucket, Key=region["s3Key"])["Body"].read()
        text = body.decode("utf-8", errors="replace").strip().replace("\n", " ⏎ ")
        check = "✓" if text == printed.get(name) else f"(printed {printed.get(name)!r})"
        rows.append((name, repr(text), check, str(region["s3Key"]).removeprefix(prefix)))
    name_width = max((len(r[0]) for r in rows), default=0)
    text_width = max((len(r[1]) for r in rows), default=0)
    key_width = max((len(r[3]) for r in rows), default=0)
    for name, text, check, key in rows:
        _say(
            f"    {key:<{key_width}}  {name:<{name_width}}  {text:<{text_width}}  {check}".rstrip()
        )


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


def _check(tasks: list[DemoTask]) -> None:
    """Fail unless every task succeeded with every region decoded and its outcome published."""
    problems = []
    for task in tasks:
        status = (task.execution or {}).get("status")
        if status != "SUCCEEDED":
            problems.append(f"{task.label} ended {status}")
        elif task.outcome_event is None:
            problems.append(f"{task.label}: no outcome event reached the consumer")
        elif task.outcome_event["detail"].get("errorCount"):
            problems.append(f"{task.label}: some regions could not be decoded")
    if problems:
        raise DemoError("; ".join(problems))
    regions = sum(len(t.document.fields) for t in tasks)
    _say(
        f"All {len(tasks)} tasks completed: {regions} regions recognised, stored in S3 and "
        "DynamoDB, and their outcome events published."
    )


def _stop_running_executions(cloud: LocalCloud, tasks: list[DemoTask]) -> None:
    """On a failure or Ctrl-C, stop what is still running before the cloud goes away."""
    sfn = cloud.client("stepfunctions")
    for task in tasks:
        if task.execution_arn is not None and task.execution is None:
            with contextlib.suppress(Exception):  # best effort: the cloud stops next anyway
                sfn.stop_execution(executionArn=task.execution_arn, error="DemoStopped")


# --- process hygiene -----------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet_powertools() -> Iterator[None]:
    """No EMF metrics blobs on stdout while the handlers run in this process."""
    previous = os.environ.get("POWERTOOLS_METRICS_DISABLED")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
        else:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = previous


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
