"""The whole product on one machine, for the workflow and end-to-end tests.

A local cloud (moto, Lambda worker processes, SQS pollers) with the Aspose emulator, template.yaml
deployed into it, and a stack session with an outcome subscription (a rule on the stack's bus
sending every outcome event to a queue). Tests drive and read the stack only through the session.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.cloud import LocalCloud, RuntimeOptions, StackInfo, fast_polling
from infra.local.emulator import EmulatorConfig, EmulatorProcess, Timing
from infra.local.samples import SampleDocument
from infra.stack.outcomes import OutcomeSubscription, TaskOutcome
from infra.stack.session import StackSession
from ocr_fetch.bucket import ResultBucket
from ocr_fetch.client import RecognitionSettings
from ocr_fetch.submission import SUBMITTED_DETAIL_TYPE, SubmittedTask

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

#: Small polling parameters: waits of 1, 2, 4, 4... seconds so paths finish in seconds.
FAST_POLLING = {**fast_polling(max_interval_seconds=4, deadline_seconds=90), "PollMaxPolls": "20"}


class TestSession(StackSession):
    """The stack client with what only tests do: start an execution around the bus and the
    starter, and announce events the product's own publisher would refuse to build."""

    def start_execution(self, task: SubmittedTask) -> str:
        """Start the state machine for ``task`` directly, as the starter would: its submitted
        facts kept first (once), then run with."""
        bucket = ResultBucket(self.outputs.results_bucket, s3=self.client("s3"))
        facts, _ = bucket.keep_facts(task.facts())
        answer = self.client("stepfunctions").start_execution(
            stateMachineArn=self.outputs.state_machine_arn,
            name=task.execution_name,
            input=task.execution_input_json(facts),
        )
        arn: str = answer["executionArn"]
        return arn

    def announce_detail(self, detail: Mapping[str, Any] | str, source: str = "tests") -> None:
        """Put a submitted event with any detail at all (a malformed one, say)."""
        answer = self.client("events").put_events(
            Entries=[
                {
                    "EventBusName": self.outputs.event_bus_name,
                    "Source": source,
                    "DetailType": SUBMITTED_DETAIL_TYPE,
                    "Detail": detail if isinstance(detail, str) else json.dumps(detail),
                }
            ]
        )
        if answer["FailedEntryCount"]:
            raise RuntimeError(f"EventBridge refused the event: {answer['Entries']}")


@dataclass
class LocalStack:
    """A deployed stack and the handles a test needs."""

    cloud: LocalCloud
    stack: StackInfo
    session: TestSession
    outcomes: OutcomeSubscription

    @property
    def emulator(self) -> EmulatorProcess:
        assert self.cloud.emulator is not None
        return self.cloud.emulator

    def submit(self, document: SampleDocument, result_type: str = "Text") -> str:
        """Submit a document's regions to the emulator, as a user's submitter would."""
        assert self.cloud.aspose is not None
        return self.cloud.aspose.client().submit_regions(
            document.png, document.rects, RecognitionSettings(result_type=result_type)
        )

    def outcome(self, task_id: str, timeout: float = 90, **kwargs: Any) -> TaskOutcome:
        return self.session.wait_for_outcome(
            task_id, timeout=timeout, subscription=self.outcomes, **kwargs
        )

    def outcome_events(self, task_id: str) -> list[dict[str, Any]]:
        return self.outcomes.events_for(task_id)

    def polls_received(self, task_id: str) -> list[dict[str, Any]]:
        """GET requests the emulator answered for ``task_id`` (what each poll cost the user)."""
        return [r for r in self.emulator.admin.requests_for(task_id) if r["method"] == "GET"]


@contextmanager
def local_stack(
    parameters: dict[str, str] | None = None,
    timing: Timing | None = None,
    *,
    template: Path = TEMPLATE,
    runtime: RuntimeOptions | None = None,
) -> Iterator[LocalStack]:
    """Start the emulator and the local cloud, deploy ``template`` (template.yaml, or a build of
    it), subscribe to outcomes."""
    emulator = EmulatorConfig(timing=timing or Timing(queue_delay_s=1.0, per_region_s=0.3))
    with LocalCloud(emulator=emulator, runtime=runtime) as cloud:
        stack = cloud.deploy(template, parameters={**FAST_POLLING, **(parameters or {})})
        session = TestSession.from_outputs(stack.outputs, cloud.client)
        with session.subscribe_outcomes("test-outcomes") as outcomes:
            yield LocalStack(cloud, stack, session, outcomes)
