"""An outcome subscription makes a queue, a rule and its target, lets that rule (and only it)
send to the queue, as EventBridge needs on AWS, and deletes all three when it stops."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.stack.client import StackOutputs
from infra.stack.outcomes import Outcomes, OutcomeSubscription
from ocr_fetch.events import SOURCE as OUTCOME_SOURCE

REGION = "eu-west-1"
BUS = "ocr-regions"


@pytest.fixture
def stack() -> Iterator[Outcomes]:
    with mock_aws():
        boto3.client("events", region_name=REGION).create_event_bus(Name=BUS)
        outputs = StackOutputs(
            event_bus_name=BUS,
            state_machine_arn=f"arn:aws:states:{REGION}:123456789012:stateMachine:m",
            results_bucket="results",
            results_table="results",
            start_queue_url="start",
            dead_letter_queue_url="dead",
        )
        yield Outcomes(outputs, lambda service: boto3.client(service, region_name=REGION))


def queue_policy(stack: Outcomes, subscription: OutcomeSubscription) -> dict[str, Any]:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=subscription.queue_url, AttributeNames=["Policy", "QueueArn"]
    )["Attributes"]
    policy: dict[str, Any] = json.loads(attributes["Policy"])
    return policy | {"queue": attributes["QueueArn"]}


def test_the_queue_lets_the_rule_alone_deliver(stack: Outcomes) -> None:
    with stack.subscribe_outcomes("outcomes") as subscription:
        rule = stack.client("events").describe_rule(Name="outcomes", EventBusName=BUS)
        policy = queue_policy(stack, subscription)
        targets = stack.client("events").list_targets_by_rule(Rule="outcomes", EventBusName=BUS)

    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == policy["queue"]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule["Arn"]}}
    assert [t["Arn"] for t in targets["Targets"]] == [policy["queue"]]


def test_stopping_deletes_the_target_the_rule_and_the_queue(stack: Outcomes) -> None:
    subscription = stack.subscribe_outcomes("outcomes")
    subscription.stop()
    subscription.stop()  # a second stop finds nothing left to do

    events, sqs = stack.client("events"), stack.client("sqs")
    assert events.list_rules(EventBusName=BUS)["Rules"] == []
    assert sqs.list_queues().get("QueueUrls", []) == []


def test_outcome_events_arrive_and_are_read_by_task(stack: Outcomes) -> None:
    with stack.subscribe_outcomes("outcomes") as subscription:
        stack.client("events").put_events(
            Entries=[
                {
                    "EventBusName": BUS,
                    "Source": OUTCOME_SOURCE,
                    "DetailType": "Region Recognition Completed",
                    "Detail": json.dumps({"taskId": "t-1", "status": "Completed"}),
                }
            ]
        )
        assert [e["detail"]["status"] for e in subscription.events_for("t-1")] == ["Completed"]
        assert subscription.events_for("t-2") == []
