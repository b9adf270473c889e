"""Found by make chaos (seed 4242, 300 tasks): a starter batch that outlasted the starter's 10 s
timeout came back whole, and after five receives SQS moved every message of it to the dead-letter
queue without a reason, those already started or already requeued included.

With S3 throttling the facts each record costs about three seconds (boto's three attempts and
their backoff), so a batch of four or more cannot finish in 10 s. The starter now keeps within
its invocation's time: every announcement ends started, requeued (delayed) or dead-lettered with
its reason, never dead-lettered by SQS without one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from infra.stack.waiting import wait_until
from tests.support.local_stack import LocalStack, local_stack

pytestmark = pytest.mark.slow

TASKS = 10


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with local_stack(parameters={"StartQueueVisibilitySeconds": "10"}) as running:
        yield running


def test_a_throttled_burst_is_requeued_or_dead_lettered_with_a_reason(stack: LocalStack) -> None:
    fault = stack.cloud.faults.inject(
        "aws_error",
        target="s3:PutObject",
        match="submitted.json",
        code="SlowDown",
        status=503,
        times=100_000,
    )
    for _ in range(TASKS):
        stack.session.announce(str(uuid.uuid4()), ["surname"], source="tests")
    sqs = stack.cloud.client("sqs")

    def handled() -> bool:
        """Nothing visible or in flight: each is requeued (delayed) or dead-lettered."""
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.stack.outputs["StartQueueUrl"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return not any(int(v) for v in attributes.values())

    wait_until(handled, timeout=180, what="every announcement to be handled", every=2)
    assert fault.hits > 0
    letters = stack.session.dead_letters(limit=1000)
    assert [letter.why for letter in letters if letter.reason is None] == []
