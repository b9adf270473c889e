"""Announcing on the bus: an announcement may say when the task was submitted (PutEvents'
``Time``), as a submitter announcing late, or with a clock ahead, does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from infra.stack.bus import Bus
from infra.stack.client import StackOutputs

REGION = "eu-west-1"
BUS = "ocr-regions"
TASK = "2ce30237-86da-41ef-88e9-84f0b7acffc0"


@pytest.fixture
def bus_and_queue() -> Iterator[tuple[Bus, str]]:
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        events.create_event_bus(Name=BUS)
        url = sqs.create_queue(QueueName="seen")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        events.put_rule(Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": ["t"]}))
        events.put_targets(
            Rule="all", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn["QueueArn"]}]
        )
        outputs = StackOutputs(BUS, "sm", "bucket", "table", "start", "dead")
        yield Bus(outputs, lambda service: boto3.client(service, region_name=REGION)), url


def delivered(url: str) -> list[dict[str, object]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    return [json.loads(m["Body"]) for m in messages]


def test_an_announcement_carries_the_time_it_says(bus_and_queue: tuple[Bus, str]) -> None:
    bus, url = bus_and_queue
    then = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    bus.at(then).announce(TASK, ["surname"], source="t")
    bus.at(then).announce_refetch(TASK, "again", {"regions": None}, source="t")
    bus.announce(TASK, source="t")  # the session itself is unchanged: now
    times = sorted(str(event["time"]) for event in delivered(url))
    assert times[:2] == ["2025-03-01T12:30:00Z"] * 2
    assert times[2] > "2025-03-01T12:30:00Z"


def test_names_not_given_are_unknown_not_zero_regions(bus_and_queue: tuple[Bus, str]) -> None:
    bus, url = bus_and_queue
    bus.announce(TASK, source="t")
    bus.announce(TASK, [], source="t")
    details = [event["detail"] for event in delivered(url)]
    assert sorted("regions" in d for d in details) == [False, True]  # type: ignore[operator]
