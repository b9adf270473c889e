"""The dead-letter queue: submitted events that started nothing, why, and sending back those the
starter would accept now (never a malformed one, which would only come back)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infra.stack.client import StackClient
from infra.stack.values import json_object
from ocr_fetch.errors import InvalidEventError
from ocr_fetch.submission import parse_submitted_event

#: How long a dead letter stays hidden while it is read or redriven (then it is released).
_HOLD_SECONDS = 30
#: SQS's most messages a receive (or a batch) takes.
_SQS_BATCH = 10


@dataclass(frozen=True)
class DeadLetter:
    """A submitted event that started nothing, and why.

    The starter sets ``reason`` when it refuses an event, or when starting it failed on its last
    delivery. A message SQS moved by itself (every delivery failed, the starter crashed, say) has
    none: :attr:`why` then says what is known.
    """

    message_id: str
    body: str
    reason: str | None
    receive_count: int
    attributes: dict[str, str]
    sent: datetime | None = None

    @classmethod
    def of(cls, message: dict[str, Any]) -> DeadLetter:
        """From an SQS message received with all its attributes."""
        attributes = {
            name: str(value.get("StringValue"))
            for name, value in message.get("MessageAttributes", {}).items()
        }
        system = message.get("Attributes", {})
        sent = system.get("SentTimestamp")
        return cls(
            message_id=message["MessageId"],
            body=message["Body"],
            reason=attributes.get("reason"),
            receive_count=int(system.get("ApproximateReceiveCount", 0)),
            attributes=attributes,
            sent=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
        )

    @property
    def why(self) -> str:
        if self.reason:
            return self.reason
        return (
            "no reason recorded: moved by SQS once its deliveries had all failed (the starter "
            "crashed, timed out or was throttled each time); see the starter's logs"
        )

    @property
    def problem(self) -> str | None:
        """Why the starter would refuse the event today (the same check it makes), else None:
        only an event without a problem can succeed when sent again."""
        try:
            parse_submitted_event(self.body)
        except InvalidEventError as error:
            return str(error)
        return None

    @property
    def task_id(self) -> str | None:
        """The task id the event names, when it names one as a string."""
        detail = json_object(self.body).get("detail")
        task_id = detail.get("taskId") if isinstance(detail, dict) else None
        return task_id if isinstance(task_id, str) else None


@dataclass(frozen=True)
class Redrive:
    """What a redrive of the dead-letter queue did: sent back to the start queue, or left."""

    sent: tuple[DeadLetter, ...]
    kept: tuple[DeadLetter, ...]


class DeadLetters(StackClient):
    """The stack's dead-letter queue, read and redriven."""

    def dead_letters(self, *, consume: bool = False, limit: int = 100) -> list[DeadLetter]:
        """Messages in the dead-letter queue; ``consume`` deletes the ones read, the others are
        left there, visible again."""
        held = self._hold_dead_letters(limit)
        sqs = self.client("sqs")
        url = self.outputs.dead_letter_queue_url
        if consume:
            for _, receipt in held:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=receipt)
        else:
            self._release([receipt for _, receipt in held])
        return [letter for letter, _ in held]

    def redrive_dead_letters(self, message_ids: Sequence[str] | None = None) -> Redrive:
        """Send back to the start queue, unchanged, the dead letters (all, or those named) the
        starter would accept now; leave the others where they are, listed with their reason, so
        a malformed event never goes round again."""
        sqs = self.client("sqs")
        url = self.outputs.dead_letter_queue_url
        held = self._hold_dead_letters(limit=10_000)
        sent: list[DeadLetter] = []
        kept: list[DeadLetter] = []
        deleted: set[str] = set()
        try:
            for letter, receipt in held:
                chosen = message_ids is None or letter.message_id in message_ids
                if chosen and letter.problem is None:
                    sqs.send_message(QueueUrl=self.outputs.start_queue_url, MessageBody=letter.body)
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=receipt)
                    deleted.add(receipt)
                    sent.append(letter)
                elif chosen:
                    kept.append(letter)
        finally:
            self._release([receipt for _, receipt in held if receipt not in deleted])
        return Redrive(tuple(sent), tuple(kept))

    def _hold_dead_letters(self, limit: int) -> list[tuple[DeadLetter, str]]:
        """Up to ``limit`` dead letters with their receipt handles, each hidden while held, so
        that every one is read once however many there are."""
        sqs = self.client("sqs")
        found: dict[str, tuple[DeadLetter, str]] = {}
        while len(found) < limit:
            messages = sqs.receive_message(
                QueueUrl=self.outputs.dead_letter_queue_url,
                MaxNumberOfMessages=min(_SQS_BATCH, limit - len(found)),
                WaitTimeSeconds=0,
                VisibilityTimeout=_HOLD_SECONDS,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            new = [m for m in messages if m["MessageId"] not in found]
            if not new:
                break
            for message in new:
                found[message["MessageId"]] = (DeadLetter.of(message), message["ReceiptHandle"])
        return list(found.values())

    def _release(self, receipts: Sequence[str]) -> None:
        """Make held dead letters visible again at once."""
        sqs = self.client("sqs")
        for start in range(0, len(receipts), _SQS_BATCH):
            sqs.change_message_visibility_batch(
                QueueUrl=self.outputs.dead_letter_queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": receipt, "VisibilityTimeout": 0}
                    for i, receipt in enumerate(receipts[start : start + _SQS_BATCH])
                ],
            )
