"""An SQS event source mapping as AWS runs it: batches of at most BatchSize, partial batch
failures, redelivery after the visibility timeout, and the dead-letter queue after
maxReceiveCount (the fixture queue: visibility 2 s, maxReceiveCount 3, batches of 3)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from infra.local.cloud import LocalCloud, StackInfo
from infra.stack.waiting import wait_until


def send(cloud: LocalCloud, stack: StackInfo, *bodies: dict[str, Any]) -> None:
    sqs = cloud.client("sqs")
    sqs.send_message_batch(
        QueueUrl=stack.outputs["StartQueueUrl"],
        Entries=[{"Id": str(i), "MessageBody": json.dumps(b)} for i, b in enumerate(bodies)],
    )


def deliveries(cloud: LocalCloud, stack: StackInfo, prefix: str) -> list[dict[str, Any]]:
    """Every delivery the consumer stored for messages named ``prefix...``, one per receive."""
    items = cloud.client("dynamodb").scan(TableName=stack.outputs["TableName"])["Items"]
    return [
        {
            "name": item["name"]["S"],
            "receive": int(item["pk"]["S"].rsplit(":", 1)[1]),
            "batch": int(item["batch"]["N"]),
        }
        for item in items
        if item["name"]["S"].startswith(prefix)
    ]


def dead_letters(cloud: LocalCloud, stack: StackInfo, prefix: str) -> list[str]:
    sqs = cloud.client("sqs")
    names: list[str] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=stack.outputs["DeadLetterQueueUrl"], MaxNumberOfMessages=10
        ).get("Messages", [])
        if not messages:
            return names
        for message in messages:
            name = json.loads(message["Body"]).get("name", "")
            if name.startswith(prefix):
                names.append(name)
                sqs.delete_message(
                    QueueUrl=stack.outputs["DeadLetterQueueUrl"],
                    ReceiptHandle=message["ReceiptHandle"],
                )


def test_batches_never_exceed_batch_size(cloud: LocalCloud, mini_stack: StackInfo) -> None:
    prefix = f"size-{uuid.uuid4().hex[:8]}-"
    send(cloud, mini_stack, *({"name": f"{prefix}{i}"} for i in range(7)))

    def all_seven() -> list[dict[str, Any]] | None:
        found = deliveries(cloud, mini_stack, prefix)
        return found if len(found) == 7 else None

    seen = wait_until(all_seven, timeout=20, what="seven deliveries")
    assert sorted(d["name"] for d in seen) == sorted(f"{prefix}{i}" for i in range(7))
    assert all(1 <= d["batch"] <= 3 for d in seen)
    assert {d["receive"] for d in seen} == {1}  # each delivered once: the batches succeeded


def test_a_reported_item_failure_is_redelivered_then_dead_lettered(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    # Given a batch in which the consumer reports one message as failed every time
    prefix = f"partial-{uuid.uuid4().hex[:8]}-"
    send(
        cloud,
        mini_stack,
        {"name": f"{prefix}ok"},
        {"name": f"{prefix}bad", "fail": True},
    )
    # Then SQS moves the failing one to the dead-letter queue after maxReceiveCount (3) receives
    dead = wait_until(
        lambda: dead_letters(cloud, mini_stack, prefix),
        timeout=30,
        what="the failing message in the dead-letter queue",
    )
    assert dead == [f"{prefix}bad"]
    seen = deliveries(cloud, mini_stack, prefix)
    # received three times, each after the visibility timeout; the good one only once
    assert sorted(d["receive"] for d in seen if d["name"].endswith("bad")) == [1, 2, 3]
    assert [d["receive"] for d in seen if d["name"].endswith("ok")] == [1]


def test_a_failed_invocation_fails_the_whole_batch(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    prefix = f"whole-{uuid.uuid4().hex[:8]}-"
    send(cloud, mini_stack, {"name": f"{prefix}boom", "raise": True})
    dead = wait_until(
        lambda: dead_letters(cloud, mini_stack, prefix), timeout=30, what="the dead letter"
    )
    assert dead == [f"{prefix}boom"]
    assert sorted(d["receive"] for d in deliveries(cloud, mini_stack, prefix)) == [1, 2, 3]


def test_a_crashed_consumer_gets_the_message_again(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    # Given the consumer's next invocation for this message crashes
    prefix = f"crash-{uuid.uuid4().hex[:8]}-"
    cloud.faults.inject("lambda_crash", target="ConsumerFunction", match=prefix)
    send(cloud, mini_stack, {"name": f"{prefix}once"})
    # Then SQS delivers it again after the visibility timeout and it is processed
    seen = wait_until(
        lambda: deliveries(cloud, mini_stack, prefix), timeout=20, what="the redelivery"
    )
    assert [d["receive"] for d in seen] == [2]
