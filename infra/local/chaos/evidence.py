"""What is known of each task once a chaos run has come to rest, from both sides.

The service's side comes from the emulator alone (never from what the product stored): the
result entries it recognised (its admin API's ground truth, before any response fault), the
``taskStatus`` each answer told the client, and which of its faults hit the task's requests.
The product's side is read as a consumer or an operator would: every execution with its history,
every outcome event, the table item, the submitted facts, the dead letters, and the bytes of
whatever it stored.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infra.local.chaos.runner import RunRecord, TaskRun
from infra.local.proving_ground import ProvingGround
from infra.stack.dead_letters import DeadLetter
from infra.stack.executions import task_id_of
from infra.stack.history import Execution
from infra.stack.values import json_object
from ocr_fetch.layout import submitted_key

#: Emulator faults applied to the task itself rather than to a request.
STATE_FAULTS = frozenset({"error", "stuck", "expire"})
#: The emulator's faults that change the results a Completed answer carries.
SHAPING = frozenset({"corrupt_base64", "result_count"})
#: What the service answers while a task is queued or being recognised.
RUNNING = frozenset({"Pending", "Processing"})


@dataclass
class ServiceTruth:
    """What the service recognised for a task and what it told the client about it."""

    #: The entries a Completed answer carries before response faults; None: never recognised.
    results: list[dict[str, str]] | None
    #: Every ``taskStatus`` an answer told the client (answers cut short are not counted).
    answers: frozenset[str]
    #: The emulator's faults that hit the task's requests (state faults: those armed).
    fired: Counter[str]
    #: Seconds from the first to the last answer that said the task was running.
    running_span: float = 0.0
    #: The shaping faults each Completed answer carried (an empty set: one sent as recognised).
    completed_shapes: frozenset[frozenset[str]] = frozenset()


@dataclass
class Stored:
    """What the product did for a task, as its consumers and operators read it."""

    executions: list[Execution] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    item: dict[str, Any] | None = None
    facts: dict[str, Any] | None = None
    facts_written: datetime | None = None
    letters: list[DeadLetter] = field(default_factory=list)


def recorded_outcomes(execution: Execution) -> list[dict[str, Any]]:
    """What the execution's recording states say they recorded in the table (the outcome's
    detail, as the state data carries it to ``Was Outcome Recorded?``): published or not."""
    found = []
    for event in execution.history:
        details = event.get("stateEnteredEventDetails") or {}
        if details.get("name") != "Was Outcome Recorded?":
            continue
        outcome = json_object(details.get("input")).get("outcome")
        if isinstance(outcome, dict) and outcome.get("recorded") is True:
            detail = outcome.get("detail")
            found.append(detail if isinstance(detail, dict) else {"status": outcome.get("kind")})
    return found


@dataclass
class Evidence:
    """One task: what the run did, what the service said, what the product did."""

    run: TaskRun
    truth: ServiceTruth
    stored: Stored
    #: An object's bytes from the results bucket, None when it is not there.
    read: Callable[[str], bytes | None] = field(repr=False)

    @property
    def task_id(self) -> str:
        return self.run.task_id or ""

    def manifest(self, key: str | None) -> dict[str, Any] | None:
        body = self.read(key) if key else None
        return json_object(body.decode("utf-8")) if body is not None else None

    def cloud_hits(self, kinds: Iterable[str], targets: Iterable[str]) -> int:
        """How often the cloud's faults of ``kinds`` aimed at ``targets`` hit this task."""
        wanted_kinds, wanted_targets = set(kinds), set(targets)
        return sum(
            armed.hits
            for fault, armed in self.run.cloud_faults
            if fault.kind in wanted_kinds and fault.target in wanted_targets
        )

    def storage_hits(self) -> int:
        """Hits of the task's own storage faults on what its executions read and write (its
        runs' objects, its item); the starter's facts are not an execution's."""
        return sum(
            armed.hits
            for fault, armed in self.run.cloud_faults
            if fault.kind == "aws_error" and fault.aim in {"run", "task"}
        )

    def describe(self) -> list[str]:
        """What happened to the task, step by step: for the report of a task judged wrong."""
        lines = [
            f"announced {s.announcement.correlation_id} ({s.announcement.clock}"
            + (f", refetch {s.announcement.refetch}" if s.announcement.refetch else "")
            + f") at {s.put_at}"
            for s in self.run.sent
        ]
        lines.append(
            f"service answered {sorted(self.truth.answers)}; fired {dict(self.truth.fired)}"
        )
        lines += [
            f"cloud fault {f.label} x{f.times}: {a.hits} hits" for f, a in self.run.cloud_faults
        ]
        for execution in self.stored.executions:
            tail = execution.states_entered()[-3:]
            lines.append(f"execution {execution.name} {execution.status} {execution.error} {tail}")
        for event in self.stored.events:
            detail = event["detail"]
            lines.append(
                f"event {detail.get('status')} {detail.get('error')} {detail.get('executionArn')}"
            )
        item = self.stored.item or {}
        lines.append(
            f"item {item.get('status')} {item.get('errorName')} {item.get('executionArn')}"
        )
        lines += [
            f"dead letter received {d.receive_count}x sent {d.sent} reason {d.reason}"
            for d in self.stored.letters
        ]
        return lines

    def fired(self) -> list[str]:
        """Every fault that hit the task, by its row in the report."""
        rows = sorted(f"{kind} (service)" for kind in self.truth.fired)
        rows += sorted({fault.label for fault, armed in self.run.cloud_faults if armed.hits})
        return rows


def collect(ground: ProvingGround, record: RunRecord) -> list[Evidence]:
    """The evidence of every task of the run (that got a task id)."""
    runs = [task for task in record.tasks if task.task_id]
    ids = [task.task_id or "" for task in runs]
    truths = _service_truths(ground, runs)
    stored = _stored(ground, ids)
    session = ground.session
    s3 = session.client("s3")

    cache: dict[str, bytes | None] = {}

    def read(key: str) -> bytes | None:
        """Read once: the stack is at rest, an event and the item often name the same run."""
        if key not in cache:
            try:
                cache[key], _ = session.read_object(key)
            except s3.exceptions.NoSuchKey:
                cache[key] = None
        return cache[key]

    return [
        Evidence(task, truths[task.task_id or ""], stored[task.task_id or ""], read)
        for task in runs
    ]


def _service_truths(ground: ProvingGround, runs: list[TaskRun]) -> dict[str, ServiceTruth]:
    admin = ground.emulator.admin
    requests: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for request in admin.requests():
        requests[str(request.get("task_id"))].append(request)
    truths = {}
    for task in runs:
        task_id = task.task_id or ""
        logged = requests.get(task_id, [])
        fired: Counter[str] = Counter(kind for r in logged for kind in r.get("faults") or [])
        for fault in task.plan.service_faults:
            if fault.fault in STATE_FAULTS:
                fired[fault.fault] += 1
        answers = frozenset(str(r["answer"]) for r in logged if r.get("answer"))
        results = admin.results(task_id) if task.plan.document is not None else None
        running = [float(r["time"]) for r in logged if r.get("answer") in RUNNING]
        span = max(running) - min(running) if running else 0.0
        shapes = frozenset(
            frozenset(r.get("faults") or []) & SHAPING
            for r in logged
            if r.get("answer") == "Completed"
        )
        truths[task_id] = ServiceTruth(results, answers, fired, span, shapes)
    return truths


def _stored(ground: ProvingGround, ids: list[str]) -> dict[str, Stored]:
    session = ground.session
    found: dict[str, Stored] = {task_id: Stored() for task_id in ids}
    for summary in session.executions():
        task_id = task_id_of(str(summary["name"]))
        if task_id in found:
            found[task_id].executions.append(session.execution(summary["executionArn"]))
    for event in ground.outcomes.all_events():
        task_id = str(event.get("detail", {}).get("taskId"))
        if task_id in found:
            found[task_id].events.append(event)
    for task_id, item in session.items(ids).items():
        found[task_id].item = item
    for letter in session.dead_letters(limit=100_000):
        if letter.task_id in found:
            found[letter.task_id].letters.append(letter)
    _facts(ground, found)
    return found


def _facts(ground: ProvingGround, found: dict[str, Stored]) -> None:
    """Each task's submitted facts as kept, and when they were written (one listing)."""
    session = ground.session
    s3 = session.client("s3")
    written: dict[str, datetime] = {}
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=session.outputs.results_bucket, Prefix="results/"):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/submitted.json"):
                written[obj["Key"]] = obj["LastModified"]
    for task_id, stored in found.items():
        key = submitted_key(task_id)
        if key in written:
            body, _ = session.read_object(key)
            stored.facts = json.loads(body)
            stored.facts_written = written[key]
