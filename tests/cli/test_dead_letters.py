"""``ocr-results dlq list`` and ``dlq redrive``: each dead letter with its reason; a redrive sends
back only what the starter would now accept and leaves a malformed event listed, every time."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from tests.cli.conftest import CliStack

pytestmark = pytest.mark.slow


def dead_letter(cli: CliStack, task_id: str, reason: str) -> str:
    """Put a submitted event in the dead-letter queue as the starter does; its message id."""
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Region Recognition Submitted",
        "source": "tests",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "detail": {"taskId": task_id, "regions": [{"name": "surname"}]},
    }
    sent = cli.stack.session.client("sqs").send_message(
        QueueUrl=cli.stack.session.outputs.dead_letter_queue_url,
        MessageBody=json.dumps(event),
        MessageAttributes={"reason": {"DataType": "String", "StringValue": reason}},
    )
    return str(sent["MessageId"])


def test_dead_letters_are_listed_and_only_the_good_ones_redriven(cli: CliStack) -> None:
    good = dead_letter(cli, str(uuid.uuid4()), "StartExecution failed: ThrottlingException")
    bad = dead_letter(cli, "not-a-guid", "detail.taskId is not a GUID")

    listed = cli.run("dlq", "list", "--json")
    table = cli.run("dlq", "list")

    assert listed.code == 0, listed.err
    letters = {letter["messageId"]: letter for letter in listed.json()["deadLetters"]}
    assert letters[good]["redrivable"] is True
    assert letters[good]["reason"] == "StartExecution failed: ThrottlingException"
    assert letters[bad]["redrivable"] is False
    assert "not a GUID" in letters[bad]["problem"]
    assert bad in table.out
    assert "detail.taskId is not a GUID" in table.out

    refused = cli.run("dlq", "redrive", bad)
    assert refused.code == 2
    assert "would be refused again" in refused.error_line

    redriven = cli.run("dlq", "redrive", "--all", "--json")
    assert redriven.code == 0, redriven.err
    assert [letter["messageId"] for letter in redriven.json()["sent"]] == [good]
    assert [letter["messageId"] for letter in redriven.json()["kept"]] == [bad]

    again = cli.run("dlq", "redrive", "--all", "--json")
    assert again.json()["sent"] == []
    assert [letter["messageId"] for letter in again.json()["kept"]] == [bad]
    remaining = cli.run("dlq", "list", "--json").json()["deadLetters"]
    assert [letter["messageId"] for letter in remaining] == [bad]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        ((), 2, "give one dead letter's ID, or --all"),
        (("--all", "some-id"), 2, "give one dead letter's ID, or --all"),
        (("no-such-message",), 1, "no dead letter 'no-such-message'"),
    ],
)
def test_redrive_needs_one_known_letter_or_all(
    cli: CliStack, args: tuple[str, ...], code: int, says: str
) -> None:
    ran = cli.run("dlq", "redrive", *args)

    assert ran.code == code
    assert says in ran.error_line
