"""How tasks ended: waiting for their outcomes (the one wait of this kind in the tree), and an
outcome subscription, a queue receiving the stack's outcome events as a downstream consumer's.

A task has ended once its execution has left RUNNING and, with a subscription, its outcome event
has arrived (an execution that ended without publishing one, such as ``Outcome Not Published``,
has ended too).
"""

from __future__ import annotations

import functools
import itertools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infra.stack.client import StackClient
from infra.stack.executions import Executions
from infra.stack.history import AFTER_PUBLISHING, RUNNING, Execution, execution_path
from infra.stack.results import Results
from infra.stack.serving import Running
from infra.stack.waiting import WaitTimeout, wait_until
from ocr_fetch.events import SOURCE as OUTCOME_SOURCE
from ocr_fetch.submission import parse_timestamp

#: Waiting on more executions than this, one listing is cheaper than a description each.
_LIST_INSTEAD_OF_DESCRIBE = 10
#: With an outcome subscription, tasks without an event are looked at every this many rounds.
_ROUNDS_BETWEEN_CHECKS = 5
#: The subscription's one target on its rule.
_TARGET_ID = "consumer"


class OutcomeSubscription(Running):
    """A queue receiving the stack's outcome events through a rule on its bus, as a downstream
    consumer's would; the queue's policy lets that rule, and only it, send to it (EventBridge
    delivers nothing to a queue that does not allow it). :meth:`stop` (or leaving ``with``)
    deletes the target, the rule and the queue."""

    def __init__(self, stack: StackClient, name: str) -> None:
        self._stack = stack
        self.name = name
        self.queue_url: str | None = None
        self._rule = False
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _start(self) -> None:
        sqs, events = self._stack.client("sqs"), self._stack.client("events")
        bus = self._stack.outputs.event_bus_name
        self.queue_url = str(sqs.create_queue(QueueName=self.name)["QueueUrl"])
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        rule_arn = events.put_rule(
            Name=self.name,
            EventBusName=bus,
            EventPattern=json.dumps({"source": [OUTCOME_SOURCE]}),
        )["RuleArn"]
        self._rule = True
        sqs.set_queue_attributes(
            QueueUrl=self.queue_url,
            Attributes={"Policy": json.dumps(_delivery_policy(queue_arn, rule_arn))},
        )
        events.put_targets(
            Rule=self.name, EventBusName=bus, Targets=[{"Id": _TARGET_ID, "Arn": queue_arn}]
        )

    def _stop(self) -> None:
        """Delete what :meth:`start` made: the rule's target, the rule, the queue."""
        events = self._stack.client("events")
        bus = self._stack.outputs.event_bus_name
        if self._rule:
            events.remove_targets(Rule=self.name, EventBusName=bus, Ids=[_TARGET_ID])
            events.delete_rule(Name=self.name, EventBusName=bus)
            self._rule = False
        if self.queue_url is not None:
            self._stack.client("sqs").delete_queue(QueueUrl=self.queue_url)
            self.queue_url = None

    def events_for(self, task_id: str) -> list[dict[str, Any]]:
        """Every outcome event for ``task_id`` that has arrived."""
        self.drain()
        return self.received(task_id)

    def received(self, task_id: str) -> list[dict[str, Any]]:
        """The outcome events for ``task_id`` received by earlier :meth:`drain` calls."""
        with self._lock:
            return list(self._events.get(task_id, []))

    def all_events(self) -> list[dict[str, Any]]:
        self.drain()
        with self._lock:
            return [event for events in self._events.values() for event in events]

    def drain(self) -> None:
        """Receive every event waiting in the queue, and delete it there."""
        sqs = self._stack.client("sqs")
        while True:
            messages = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                event = json.loads(message["Body"])
                task_id = str(event.get("detail", {}).get("taskId"))
                with self._lock:
                    self._events.setdefault(task_id, []).append(event)
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )


def _delivery_policy(queue_arn: str, rule_arn: str) -> dict[str, Any]:
    """What an SQS target of a rule needs on AWS: EventBridge may send, for that rule only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OutcomeEventsFromTheRule",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }


class Outcomes(Executions, Results):
    """Waiting for how tasks ended, read from their executions, items and outcome events."""

    def subscribe_outcomes(self, name: str = "ocr-results-outcomes") -> OutcomeSubscription:
        """A started subscription to the outcome events; stop it (or use ``with``) when done."""
        return OutcomeSubscription(self, name).start()

    def wait_for_outcome(
        self,
        task_id: str,
        *,
        timeout: float = 90,
        subscription: OutcomeSubscription | None = None,
        execution_name: str | None = None,
    ) -> TaskOutcome:
        """How the task ended; see :meth:`wait_for_outcomes`."""
        names = {task_id: execution_name or task_id}
        return self.wait_for_outcomes(names, timeout=timeout, subscription=subscription)[task_id]

    def wait_for_outcomes(
        self,
        tasks: Mapping[str, str] | list[str],
        *,
        timeout: float = 90,
        subscription: OutcomeSubscription | None = None,
        progress: Callable[[], None] | None = None,
    ) -> dict[str, TaskOutcome]:
        """How each task ended (``tasks``: ids, or id -> execution name for a re-fetch).

        ``progress`` is called at every round, to show how the tasks are doing. Raises
        :class:`WaitTimeout` naming where the late tasks stand.
        """
        names = dict(tasks) if isinstance(tasks, Mapping) else {t: t for t in tasks}
        ended: dict[str, tuple[str, dict[str, Any] | None]] = {}
        rounds = itertools.count()

        def all_ended() -> bool:
            if progress is not None:
                progress()
            if subscription is not None:
                subscription.drain()
            pending = {t: n for t, n in names.items() if t not in ended}
            # A task with an outcome event has ended, or is about to: look at it now. One
            # without may have ended without publishing: look at those every few rounds.
            check = {t: n for t, n in pending.items() if subscription and subscription.received(t)}
            if subscription is None or next(rounds) % _ROUNDS_BETWEEN_CHECKS == 0:
                check = pending
            statuses = self._statuses(list(check.values()))
            for task_id, name in check.items():
                state = self._ended(task_id, name, statuses.get(name), subscription)
                if state is not None:
                    ended[task_id] = state
            return len(ended) == len(names)

        try:
            # Many tasks: one listing a second; a few: a description each, five times a second.
            every = 0.2 if len(names) <= _LIST_INSTEAD_OF_DESCRIBE else 1.0
            wait_until(
                all_ended, timeout=timeout, what=f"outcomes of {len(names)} tasks", every=every
            )
        except WaitTimeout as error:
            late = [t for t in names if t not in ended][:5]
            diagnosis = "; ".join(f"{t}: {self.diagnose(t)}" for t in late)
            raise WaitTimeout(f"{error}; {diagnosis}") from None
        return {
            task_id: TaskOutcome(task_id, arn, event, self)
            for task_id, (arn, event) in ended.items()
        }

    def _statuses(self, execution_names: list[str]) -> dict[str, tuple[str, str]]:
        """``name -> (arn, status)`` of the named executions that exist: one listing for many
        names, one description each for a few."""
        wanted = set(execution_names)
        if len(wanted) > _LIST_INSTEAD_OF_DESCRIBE:
            return {
                e["name"]: (e["executionArn"], e["status"])
                for e in self.list_executions()
                if e["name"] in wanted
            }
        found = {}
        for name in wanted:
            described = self.describe_execution(name)
            if described is not None:  # else not started yet
                found[name] = (str(described["executionArn"]), str(described["status"]))
        return found

    def _ended(
        self,
        task_id: str,
        name: str,
        execution: tuple[str, str] | None,
        subscription: OutcomeSubscription | None,
    ) -> tuple[str, dict[str, Any] | None] | None:
        """``(execution ARN, outcome event)`` once the execution ``name`` of the task has ended,
        else None. Only that execution's events count: an earlier run's (a re-fetch's original)
        says nothing about it."""
        received = subscription.received(task_id) if subscription is not None else []
        events = [e for e in received if _execution_name(e) == name]
        if events:
            arn = str(events[-1]["detail"]["executionArn"])
            if execution is not None and execution[0] == arn and execution[1] == RUNNING:
                return None  # published; its last states are still running
            return arn, events[-1]
        if execution is None or execution[1] == RUNNING:
            return None
        if subscription is not None and self._published(execution[0]):
            return None  # published: the event is on its way to the queue
        return execution[0], None

    def _published(self, execution_arn: str) -> bool:
        """Whether the ended execution published its outcome event (which is then due)."""
        steps = execution_path(self.history(execution_arn))
        return any(step.name == AFTER_PUBLISHING for step in steps)

    def diagnose(self, task_id: str) -> str:
        """Where a task's workflow stands: its executions and the last states they entered."""
        executions = self.executions(task_id)
        if not executions:
            return "no execution was started for it"
        parts = []
        for summary in executions:
            execution = self.execution(summary["executionArn"])
            tail = [
                step.name + (f" ({', '.join(step.errors)})" if step.errors else "")
                for step in execution.steps[-4:]
            ]
            parts.append(f"execution {execution.name} {execution.status}, last states {tail}")
        return "; ".join(parts)


@dataclass
class TaskOutcome:
    """How a task ended: its outcome event (when subscribed), and, read when first asked for,
    its execution (with its history) and its table item."""

    task_id: str
    execution_arn: str
    event: dict[str, Any] | None
    stack: Outcomes = field(repr=False, compare=False)

    @functools.cached_property
    def execution(self) -> Execution:
        return self.stack.execution(self.execution_arn)

    @functools.cached_property
    def item(self) -> dict[str, Any] | None:
        return self.stack.item(self.task_id)

    @property
    def published(self) -> datetime | None:
        """When the outcome event was put on the bus."""
        if self.event is None:
            return None
        return parse_timestamp(self.event["time"])

    @property
    def status(self) -> str | None:
        """The recorded outcome (``Completed``, ``Failed``, ``NotFound``, ``TimedOut``)."""
        if self.event is not None:
            return str(self.event["detail"]["status"])
        return str(self.item["status"]) if self.item else None

    @property
    def detail_type(self) -> str | None:
        return str(self.event["detail-type"]) if self.event is not None else None


def _execution_name(event: dict[str, Any]) -> str:
    """The name of the execution that published an outcome event (its ARN's last part)."""
    return str(event.get("detail", {}).get("executionArn", "")).rsplit(":", 1)[-1]
