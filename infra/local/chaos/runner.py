"""Running a chaos schedule against a proving ground, and waiting until everything has ended.

Each task's steps (submit it to the emulator, put its announcements, arm its faults) and the
shared actions are dispatched at their moment to a pool of threads; a task's later steps wait
for its submission. What was done, and when, is recorded for the judgement: the task ids the
emulator gave, when each announcement was put and with which time, and the armed cloud faults
(their hit counts are the cloud's own).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import requests.adapters

from infra.local.chaos.schedule import (
    MAX_FAILED_ENTRIES,
    Announcement,
    CloudFault,
    Schedule,
    ServiceFault,
    SharedAction,
    TaskPlan,
)
from infra.local.cloud.faults import AwsFault
from infra.local.proving_ground import ProvingGround
from infra.local.samples import SampleDocument, id_card, registration_form
from infra.stack.waiting import WaitTimeout, wait_until
from ocr_fetch.client import AsposeClient, RecognitionSettings
from ocr_fetch.credentials import Credentials, FixedCredentials
from ocr_fetch.errors import EventPublishError

logger = logging.getLogger(__name__)

SOURCE = "chaos"
#: Threads that carry out the steps; a step may wait on its task's submission.
_WORKERS = 16
#: A submitter retries what failed on its side (a token endpoint fault, a failed entry): more
#: often than any fault is armed to fail it in a row.
_ATTEMPTS = MAX_FAILED_ENTRIES + 2


@dataclass
class Sent:
    """An announcement as put: when (epoch seconds), the time it carried, how many tries."""

    announcement: Announcement
    put_at: float | None = None
    event_time: datetime | None = None
    attempts: int = 0
    error: str | None = None


@dataclass
class TaskRun:
    """What the run did for one task."""

    plan: TaskPlan
    task_id: str | None = None
    submitted_at: float | None = None
    sent: list[Sent] = field(default_factory=list)
    cloud_faults: list[tuple[CloudFault, AwsFault]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event, repr=False)


@dataclass
class SharedRun:
    action: SharedAction
    done_at: float | None = None
    faults: list[AwsFault] = field(default_factory=list)


@dataclass
class RunRecord:
    """Everything the run did, and whether the stack came to rest afterwards."""

    tasks: list[TaskRun]
    shared: list[SharedRun]
    #: Every client secret the service accepted during the run (the leak scan looks for them).
    secrets: list[str]
    started: float
    dispatched: float = 0.0
    settled: float = 0.0
    unsettled: str | None = None
    #: Steps that failed (an injection refused, a shared action that raised).
    problems: list[str] = field(default_factory=list)


class Runner:
    """Carries out a schedule on a proving ground."""

    def __init__(self, ground: ProvingGround, schedule: Schedule) -> None:
        self.ground = ground
        self.schedule = schedule
        access = ground.aspose
        #: The submitters' credentials: rotation sets the new ones here first (the client reads
        #: them afresh after the service refuses a token).
        self._credentials = FixedCredentials(Credentials(access.client_id, access.client_secret))
        session = requests.Session()  # one connection per worker thread, kept alive
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=_WORKERS)
        session.mount("http://", adapter)
        self._aspose = AsposeClient.create(
            base_url=access.base_url,
            token_url=access.token_url,
            credentials=self._credentials,
            session=session,
        )
        self._documents = {"id_card": id_card(), "registration_form": registration_form()}
        self.record = RunRecord(
            [TaskRun(plan) for plan in schedule.tasks],
            [SharedRun(action) for action in schedule.shared],
            [access.client_secret],
            time.time(),
        )

    def run(self, settle_timeout: float) -> RunRecord:
        """Every step at its moment, then wait for the stack to come to rest."""
        steps = self._steps()
        start = time.monotonic()
        self.record.started = time.time()
        with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="chaos") as pool:
            for at, _, step in sorted(steps, key=lambda s: (s[0], s[1])):
                delay = start + at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self._logged, step)
        self.record.dispatched = time.time()
        try:
            self._settle(settle_timeout)
        except WaitTimeout as error:
            self.record.unsettled = str(error)
        self.record.settled = time.time()
        self.ground.cloud.faults.clear()
        self.ground.emulator.admin.clear_faults()
        return self.record

    # --- the steps ------------------------------------------------------------------------
    def _steps(self) -> list[tuple[float, int, Callable[[], None]]]:
        steps: list[tuple[float, int, Callable[[], None]]] = []
        for task in self.record.tasks:
            plan = task.plan
            steps.append((plan.submit_at, len(steps), _bind(self._submit, task)))
            for announcement in plan.announcements:
                step = _bind(self._announce, task, announcement)
                steps.append((plan.submit_at + announcement.at, len(steps), step))
            for fault in plan.service_faults:
                step = _bind(self._arm_service_fault, task, fault)
                steps.append((plan.submit_at + fault.at, len(steps), step))
            for cloud_fault in plan.cloud_faults:
                step = _bind(self._arm_cloud_fault, task, cloud_fault)
                steps.append((plan.submit_at + cloud_fault.at, len(steps), step))
        for shared in self.record.shared:
            steps.append((shared.action.at, len(steps), _bind(self._shared, shared)))
        return steps

    def _submit(self, task: TaskRun) -> None:
        plan = task.plan
        try:
            if plan.document is None:
                task.task_id = plan.unknown_id
                return
            document = self._documents[plan.document]
            task.task_id = self._retrying(lambda: self._submit_once(document, plan))
            task.submitted_at = time.time()
        except Exception as error:
            task.problems.append(f"not submitted: {type(error).__name__}: {error}")
        finally:
            task.ready.set()

    def _submit_once(self, document: SampleDocument, plan: TaskPlan) -> str:
        rects = [document.rects[i] for i in plan.fields]
        settings = RecognitionSettings(result_type=plan.result_type)
        return self._aspose.submit_regions(document.png, rects, settings)

    def _announce(self, task: TaskRun, announcement: Announcement) -> None:
        task_id = self._task_id(task)
        if task_id is None:
            return
        sent = Sent(announcement)
        task.sent.append(sent)
        for attempt in range(1, _ATTEMPTS + 1):
            sent.attempts = attempt
            sent.event_time = datetime.now(UTC) + timedelta(seconds=announcement.offset)
            try:
                self._put(task_id, announcement, sent.event_time)
            except EventPublishError as error:  # an injected failed entry: a submitter retries
                sent.error = str(error)
                time.sleep(0.2 * attempt)
                continue
            sent.put_at, sent.error = time.time(), None
            return
        task.problems.append(f"announcement {announcement.correlation_id} never put")

    def _put(self, task_id: str, announcement: Announcement, event_time: datetime) -> None:
        session = self.ground.session
        bus = session.at(event_time) if announcement.offset else session
        names = announcement.names
        if announcement.refetch is None:
            bus.announce(
                task_id,
                None if names is None else list(names),
                correlation_id=announcement.correlation_id,
                metadata=announcement.metadata,
                source=SOURCE,
            )
            return
        submission = {
            "regions": None if names is None else [{"name": n} for n in names],
            "correlationId": announcement.correlation_id,
            "metadata": announcement.metadata,
        }
        bus.announce_refetch(task_id, announcement.refetch, submission, source=SOURCE)

    def _arm_service_fault(self, task: TaskRun, fault: ServiceFault) -> None:
        task_id = self._task_id(task)
        if task_id is None:
            return
        admin = self.ground.emulator.admin
        admin.inject(fault.fault, task_id=task_id, times=fault.times, **fault.params)

    def _arm_cloud_fault(self, task: TaskRun, fault: CloudFault) -> None:
        task_id = self._task_id(task)
        if task_id is None:
            return
        match = {
            "task": task_id,
            "run": f"results/{task_id}/runs/",
            "facts": f"{task_id}/submitted.json",
        }[fault.aim]
        armed = self.ground.cloud.faults.inject(
            fault.kind, target=fault.target, times=fault.times, match=match, **fault.params
        )
        task.cloud_faults.append((fault, armed))

    def _task_id(self, task: TaskRun) -> str | None:
        """The task's id once it is submitted (None if it never was)."""
        if not task.ready.wait(timeout=120):
            task.problems.append("a step waited in vain for the submission")
            return None
        return task.task_id

    # --- shared actions -------------------------------------------------------------------
    def _shared(self, shared: SharedRun) -> None:
        action = shared.action
        admin = self.ground.emulator.admin
        faults = self.ground.cloud.faults
        if action.kind == "revoke_tokens":
            admin.revoke_tokens()
        elif action.kind == "token_fault":
            params = dict(action.params)
            fault = params.pop("fault")
            admin.inject(fault, path="/connect/token", **params)
        elif action.kind == "secrets_error":
            target = "secretsmanager:GetSecretValue"
            times = int(action.params["times"])
            shared.faults.append(faults.inject("aws_error", target=target, times=times))
            admin.revoke_tokens()  # the check reads the secret again after a refused token
        elif action.kind == "dynamodb_error":
            times = int(action.params["times"])
            shared.faults.append(faults.inject("aws_error", target="dynamodb:*", times=times))
        elif action.kind == "rotate_secret":
            self._rotate()
        shared.done_at = time.time()

    def _rotate(self) -> None:
        """Rotate the client secret as an operator does without an outage: the stack's secret
        first, then the service's (tokens issued stay valid; a refused one makes the product
        read the secret again)."""
        access = self.ground.aspose
        new = f"rotated-{self.schedule.seed}-{len(self.record.secrets)}"
        secret_id = self.ground.session.outputs.credentials_secret
        self.ground.session.client("secretsmanager").put_secret_value(
            SecretId=secret_id,
            SecretString=json.dumps({"clientId": access.client_id, "clientSecret": new}),
        )
        self._credentials.credentials = Credentials(access.client_id, new)
        self.record.secrets.append(new)
        self.ground.emulator.admin.rotate_secret(new)

    def _retrying(self, call: Callable[[], str]) -> str:
        """A submitter's retries: whatever failed on its side (a token fault), a few times."""
        for attempt in range(1, _ATTEMPTS):
            try:
                return call()
            except Exception as error:
                logger.info("submission retried", extra={"cause": type(error).__name__})
                time.sleep(0.5 * attempt)
        return call()

    def _logged(self, step: Callable[[], None]) -> None:
        """Run a step; one that raises is a problem of the run, never silent."""
        try:
            step()
        except Exception as error:
            logger.exception("a chaos step failed")
            self.record.problems.append(f"a step failed: {type(error).__name__}: {error}")

    # --- coming to rest -------------------------------------------------------------------
    def _settle(self, timeout: float) -> None:
        """Wait until the start queue is empty (nothing visible, in flight or delayed) and no
        execution runs, seen twice in a row a few seconds apart."""
        session = self.ground.session
        sqs = session.client("sqs")
        quiet_rounds = [0]

        def at_rest() -> bool:
            attributes = sqs.get_queue_attributes(
                QueueUrl=session.outputs.start_queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            busy = any(int(v) for v in attributes.values())
            busy = busy or any(True for _ in session.list_executions(status="RUNNING"))
            quiet_rounds[0] = 0 if busy else quiet_rounds[0] + 1
            return quiet_rounds[0] >= 2

        wait_until(at_rest, timeout=timeout, what="the stack to come to rest", every=3.0)


def _bind(step: Callable[..., None], *args: Any) -> Callable[[], None]:
    return lambda: step(*args)
