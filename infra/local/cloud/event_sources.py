"""SQS event source mappings as AWS runs them: pollers that receive, invoke and delete.

For each enabled mapping from an SQS queue, pollers call ``ReceiveMessage`` (up to ``BatchSize``
messages, the queue's visibility timeout), invoke the function synchronously with the batch, and
then, as Lambda does:

- the function succeeded: delete the batch, except, when the mapping lists
  ``ReportBatchItemFailures``, the messages named in ``batchItemFailures`` (an answer naming an id
  that is not in the batch, or malformed, fails the whole batch);
- the function failed (an error, a timeout, a crash): delete nothing;
- the invocation was throttled: try again with backoff while the batch is still invisible.

What is not deleted becomes visible again after the visibility timeout, is received again, and
SQS moves it to the dead-letter queue once it has been received ``maxReceiveCount`` times. Only the
public SQS and Lambda APIs are used; moto's own delivery (once, inside ``SendMessage``) is off.

As on AWS, the pollers call SQS with the credentials of the function's execution role (which must
allow ``ReceiveMessage``, ``DeleteMessage``, ``GetQueueAttributes``...), and invoke the function as
the Lambda service itself (no role needs ``lambda:InvokeFunction`` for its own mapping).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.local.cloud.iam_calls import LAMBDA_SERVICE, LAMBDA_SERVICE_PRINCIPAL, Principals

#: Concurrent pollers per mapping (Lambda starts with five; ScalingConfig.MaximumConcurrency caps).
DEFAULT_POLLERS = 5
#: Long-poll wait per ReceiveMessage (AWS's pollers wait 20 s; an idle poller costs a call per
#: wait). Stopping does not wait for it: the server's shutdown ends the call.
_WAIT_SECONDS = 5
_THROTTLE_BACKOFF_S = (0.1, 0.2, 0.5, 1.0)
#: ``client(service, **boto3_client_arguments)``: a client of the local AWS.
ClientFactory = Callable[..., Any]


@dataclass(frozen=True)
class Mapping:
    """One SQS event source mapping, as ``ListEventSourceMappings`` describes it."""

    uuid: str
    queue_arn: str
    function_arn: str
    batch_size: int
    report_item_failures: bool
    pollers: int

    @classmethod
    def from_api(cls, value: dict[str, Any]) -> Mapping:
        maximum = (value.get("ScalingConfig") or {}).get("MaximumConcurrency")
        return cls(
            uuid=value["UUID"],
            queue_arn=value["EventSourceArn"],
            function_arn=value["FunctionArn"],
            batch_size=int(value.get("BatchSize") or 10),
            report_item_failures="ReportBatchItemFailures"
            in (value.get("FunctionResponseTypes") or []),
            pollers=min(DEFAULT_POLLERS, int(maximum)) if maximum else DEFAULT_POLLERS,
        )


class EventSources:
    """The pollers of every SQS mapping in one region; :meth:`sync` after each deployment."""

    def __init__(self, client: ClientFactory, region: str, principals: Principals) -> None:
        self._client = client
        self._region = region
        self._principals = principals
        self._pollers: dict[str, _MappingPollers] = {}
        self._lock = threading.Lock()

    def sync(self) -> None:
        """Start pollers for new enabled SQS mappings, stop those of mappings that are gone."""
        lambda_client = self._client("lambda")
        found: dict[str, Mapping] = {}
        for page in lambda_client.get_paginator("list_event_source_mappings").paginate():
            for value in page["EventSourceMappings"]:
                if value.get("State") == "Enabled" and value["EventSourceArn"].startswith(
                    "arn:aws:sqs:"
                ):
                    mapping = Mapping.from_api(value)
                    found[mapping.uuid] = mapping
        with self._lock:
            gone = [uuid for uuid in self._pollers if uuid not in found]
            stopped = [self._pollers.pop(uuid) for uuid in gone]
            for uuid, mapping in found.items():
                if uuid not in self._pollers:
                    pollers = self._pollers_of(mapping)
                    self._pollers[uuid] = pollers
                    pollers.start()
        for pollers in stopped:
            pollers.stop()

    def _pollers_of(self, mapping: Mapping) -> _MappingPollers:
        """Pollers calling SQS as the function's role, invoking as the Lambda service."""
        role = self._client("lambda").get_function_configuration(FunctionName=mapping.function_arn)[
            "Role"
        ]
        as_role = self._principals.credentials(role, LAMBDA_SERVICE).boto()
        as_lambda = self._principals.credentials(LAMBDA_SERVICE_PRINCIPAL, LAMBDA_SERVICE).boto()
        queue_name = mapping.queue_arn.rsplit(":", 1)[-1]
        return _MappingPollers(
            mapping,
            sqs=self._client("sqs", **as_role),
            lambda_client=self._client("lambda", **as_lambda),
            queue_url=self._client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"],
        )

    def stop(self) -> None:
        with self._lock:
            stopped = list(self._pollers.values())
            self._pollers.clear()
        for pollers in stopped:
            pollers.stop()


class _MappingPollers:
    def __init__(self, mapping: Mapping, *, sqs: Any, lambda_client: Any, queue_url: str) -> None:
        self.mapping = mapping
        self._sqs = sqs
        self._lambda = lambda_client
        self._queue_url = queue_url
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._queue_url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]
        self._visibility_s = int(attributes.get("VisibilityTimeout", 30))
        self._region = mapping.queue_arn.split(":")[3]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for number in range(self.mapping.pollers):
            thread = threading.Thread(
                target=self._poll, name=f"sqs-poller-{self.mapping.uuid[:8]}-{number}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self._stopping.set()  # each poller returns after its current call

    def _poll(self) -> None:
        while not self._stopping.is_set():
            try:
                messages = self._sqs.receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=self.mapping.batch_size,
                    WaitTimeSeconds=_WAIT_SECONDS,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
            except Exception:  # the local AWS is stopping, or hiccuped: poll again
                if self._stopping.wait(0.2):
                    return
                continue
            if messages:
                with contextlib.suppress(Exception):  # a failed batch comes back by itself
                    self._deliver(messages)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [self._record(m) for m in messages]}
        answer = self._invoke(json.dumps(event), deadline=time.monotonic() + self._visibility_s)
        if answer is None or "FunctionError" in answer:
            return  # visible again after the visibility timeout, then received again
        failed = self._failed_ids(answer["Payload"].read(), {m["MessageId"] for m in messages})
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )

    def _invoke(self, payload: str, deadline: float) -> dict[str, Any] | None:
        for backoff in (*_THROTTLE_BACKOFF_S, None):
            try:
                answer: dict[str, Any] = self._lambda.invoke(
                    FunctionName=self.mapping.function_arn, Payload=payload.encode()
                )
                return answer
            except self._lambda.exceptions.TooManyRequestsException:
                if backoff is None or time.monotonic() + backoff >= deadline:
                    return None
                time.sleep(backoff)
        return None

    def _failed_ids(self, payload: bytes, batch: set[str]) -> set[str]:
        """The messages to keep: those ``batchItemFailures`` names, or the whole batch when the
        answer is not a valid partial-failure report."""
        if not self.mapping.report_item_failures:
            return set()
        try:
            answer = json.loads(payload or b"null")
        except ValueError:
            return batch
        if answer is None or (isinstance(answer, dict) and not answer.get("batchItemFailures")):
            return set()
        failures = answer.get("batchItemFailures") if isinstance(answer, dict) else None
        if not isinstance(failures, list):
            return batch
        ids = {f.get("itemIdentifier") for f in failures if isinstance(f, dict)}
        if len(ids) != len(failures) or not ids <= batch:
            return batch
        return {str(i) for i in ids}

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        body = message["Body"]
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: _record_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
            "eventSource": "aws:sqs",
            "eventSourceARN": self.mapping.queue_arn,
            "awsRegion": self._region,
        }


def _record_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS message attribute as Lambda's event shows it (camelCase keys)."""
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": value.get("BinaryValue"),
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": value.get("BinaryListValues", []),
        "dataType": value.get("DataType"),
    }
