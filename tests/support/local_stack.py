"""The whole product on one machine, for the workflow and end-to-end tests.

The Aspose emulator, moto with state machine execution, and template.yaml deployed into it, plus a
test consumer: a rule on the stack's bus sending every outcome event to an SQS queue.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from infra.emulator import EmulatorConfig, EmulatorServer, Timing
from infra.local_cloud import LocalCloud, StackInfo
from infra.samples import SampleDocument
from infra.waiting import wait_until
from ocr_fetch.client import AsposeClient, Credentials, RecognitionSettings
from ocr_fetch.outcome import DETAIL_TYPES
from ocr_fetch.submission import SUBMITTED_DETAIL_TYPE

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
T = TypeVar("T")

#: Small polling parameters: waits of 1, 2, 4, 4... seconds so paths finish in seconds.
FAST_POLLING = {
    "PollInitialSeconds": "1",
    "PollMultiplier": "2",
    "PollMaxIntervalSeconds": "4",
    "PollJitter": "0",
    "PollDeadlineSeconds": "90",
    "PollMaxPolls": "20",
}


@dataclass
class LocalStack:
    emulator: EmulatorServer
    cloud: LocalCloud
    stack: StackInfo
    consumer_queue_url: str
    _events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    # --- handy clients and names -----------------------------------------------------------------
    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    @property
    def outputs(self) -> dict[str, str]:
        return self.stack.outputs

    @property
    def state_machine_arn(self) -> str:
        return self.outputs["StateMachineArn"]

    def aspose(self) -> AsposeClient:
        return AsposeClient.create(
            base_url=self.emulator.base_url,
            token_url=self.emulator.token_url,
            credentials=lambda: Credentials(self.emulator.client_id, self.emulator.client_secret),
        )

    # --- submitting ------------------------------------------------------------------------------
    def submit(self, document: SampleDocument, result_type: str = "Text") -> str:
        """Submit a document's regions to the emulator, as a user's submitter would."""
        return self.aspose().submit_regions(
            document.png, document.rects, RecognitionSettings(result_type=result_type)
        )

    def start_execution(self, task_id: str, region_names: list[str] | None, **extra: Any) -> str:
        """Start the state machine directly (the workflow tests bypass the start path)."""
        execution_input = {
            "taskId": task_id,
            "regions": [{"name": n} for n in region_names] if region_names is not None else None,
            "correlationId": None,
            "metadata": None,
            "submittedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "source": "tests",
            **extra,
        }
        answer = self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=task_id, input=json.dumps(execution_input)
        )
        arn: str = answer["executionArn"]
        return arn

    def put_submitted(self, detail: dict[str, Any] | str, source: str = "tests.submitter") -> None:
        """Announce a submission on the bus, as the public contract says."""
        answer = self.client("events").put_events(
            Entries=[
                {
                    "EventBusName": self.outputs["EventBusName"],
                    "Source": source,
                    "DetailType": SUBMITTED_DETAIL_TYPE,
                    "Detail": detail if isinstance(detail, str) else json.dumps(detail),
                }
            ]
        )
        assert answer["FailedEntryCount"] == 0, answer

    # --- observing -------------------------------------------------------------------------------
    def wait_for_execution(self, execution_arn: str, timeout: float = 90) -> dict[str, Any]:
        sfn = self.client("stepfunctions")

        def finished() -> dict[str, Any] | None:
            described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            return described if described["status"] != "RUNNING" else None

        return wait_until(finished, timeout=timeout, what=f"execution {execution_arn} to finish")

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
            if token:
                kwargs["nextToken"] = token
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events

    def outcome_events(self, task_id: str, timeout: float = 30) -> list[dict[str, Any]]:
        """Every outcome event published for ``task_id`` (waits for the first)."""

        def drain() -> list[dict[str, Any]] | None:
            sqs = self.client("sqs")
            while True:
                messages = sqs.receive_message(
                    QueueUrl=self.consumer_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
                ).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    event = json.loads(message["Body"])
                    self._events.setdefault(event["detail"]["taskId"], []).append(event)
                    sqs.delete_message(
                        QueueUrl=self.consumer_queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
            return self._events.get(task_id)

        try:
            return wait_until(drain, timeout=timeout, what=f"an outcome event for {task_id}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; {self.diagnose(task_id)}") from None

    def diagnose(self, task_id: str) -> str:
        """Where a task's workflow stands: its executions and their last history events."""
        sfn = self.client("stepfunctions")
        found = [
            e
            for page in sfn.get_paginator("list_executions").paginate(
                stateMachineArn=self.state_machine_arn
            )
            for e in page["executions"]
            if e["name"].startswith(task_id)
        ]
        if not found:
            return "no execution was started for it"
        parts = []
        for execution in found:
            history = self.history(execution["executionArn"])
            tail = [
                e["type"]
                + (
                    f"({e['taskFailedEventDetails']['error']})"
                    if "taskFailedEventDetails" in e
                    else ""
                )
                for e in history[-6:]
            ]
            parts.append(f"execution {execution['status']}, last events {tail}")
        return "; ".join(parts)

    def item(self, task_id: str) -> dict[str, Any] | None:
        table = self.cloud.resource("dynamodb").Table(self.outputs["ResultsTableName"])
        item: dict[str, Any] | None = table.get_item(Key={"taskId": task_id}).get("Item")
        return item

    def s3_object(self, key: str) -> tuple[bytes, str]:
        answer = self.client("s3").get_object(Bucket=self.outputs["ResultsBucketName"], Key=key)
        return answer["Body"].read(), answer["ContentType"]

    def s3_keys(self, task_id: str) -> list[str]:
        answer = self.client("s3").list_objects_v2(
            Bucket=self.outputs["ResultsBucketName"], Prefix=f"results/{task_id}/"
        )
        return sorted(obj["Key"] for obj in answer.get("Contents", []))

    def polls_received(self, task_id: str) -> list[dict[str, Any]]:
        """GET requests the emulator answered for ``task_id`` (what each poll cost the user)."""
        return [r for r in self.emulator.admin.requests_for(task_id) if r["method"] == "GET"]


@contextmanager
def local_stack(
    parameters: dict[str, str] | None = None, timing: Timing | None = None
) -> Iterator[LocalStack]:
    """Start the emulator and the local cloud, deploy template.yaml, add a test consumer."""
    config = EmulatorConfig(timing=timing or Timing(queue_delay_s=1.0, per_region_s=0.3))
    with EmulatorServer(config) as emulator:
        cloud = LocalCloud.for_aspose(emulator)
        with cloud:
            stack = cloud.deploy(TEMPLATE, parameters={**FAST_POLLING, **(parameters or {})})
            queue_url = cloud.queue_for_events(
                stack.outputs["EventBusName"],
                "test-outcome-consumer",
                {"source": ["ocr.region-results"], "detail-type": list(DETAIL_TYPES.values())},
            )
            yield LocalStack(emulator, cloud, stack, queue_url)
