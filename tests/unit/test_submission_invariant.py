"""Nothing accepted is lost: whatever the starter accepts can be carried to a recorded outcome.

For any shape of submitted event, either the starter refuses it with a reason (it then goes to
the dead-letter queue with that reason), or everything the workflow will do with it works: the
execution input fits, DynamoDB stores the outcome with its metadata and region names, and
EventBridge takes the outcome event. The last two run against moto, so a value DynamoDB or
EventBridge would refuse (a 50-digit number, a lone surrogate, too deep a nesting) is caught here.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from ocr_fetch.errors import InvalidEventError
from ocr_fetch.events import SOURCE, build_outcome_detail
from ocr_fetch.outcome import Outcome, OutcomeKind, RegionRecord
from ocr_fetch.submission import SUBMITTED_DETAIL_TYPE, parse_submitted_event
from ocr_fetch.table import ResultTable
from tests.unit.fixtures_aws import (
    BUS,
    REGION,
    TABLE,
    create_results_bucket_and_table,
    offline_aws_env,
)

#: What an SQS message attribute may hold.
SQS_TEXT = re.compile("[\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
#: Any character at all, lone surrogates and emoji included.
ANY_TEXT = st.text(st.characters(codec=None), max_size=80)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**6)
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | ANY_TEXT
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(ANY_TEXT.filter(bool), children, max_size=4)
    ),
    max_leaves=20,
)
TASK_IDS = (
    st.uuids().map(str)
    | st.uuids().map(lambda u: str(u).upper())
    | st.uuids().flatmap(
        lambda u: st.sampled_from([f"urn:uuid:{u}", "{" + str(u) + "}", u.hex, f"urn:{u.hex}"])
    )
    | ANY_TEXT
)
REGIONS = st.lists(st.fixed_dictionaries({"name": st.none() | ANY_TEXT}), max_size=600)


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as patch:
        offline_aws_env(patch)
        with mock_aws():
            create_results_bucket_and_table()
            events = boto3.client("events", region_name=REGION)
            events.create_event_bus(Name=BUS)
            yield {"events": events, "table": ResultTable(TABLE)}


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    task_id=TASK_IDS,
    regions=st.none() | REGIONS,
    correlation_id=st.none() | ANY_TEXT,
    metadata=st.none() | st.dictionaries(ANY_TEXT.filter(bool), JSON_VALUES, max_size=6),
)
def test_every_submission_is_refused_with_a_reason_or_can_be_recorded_and_published(
    aws: dict[str, Any],
    task_id: str,
    regions: list[dict[str, Any]] | None,
    correlation_id: str | None,
    metadata: dict[str, Any] | None,
) -> None:
    detail: dict[str, Any] = {"taskId": task_id}
    for key, value in (("regions", regions), ("correlationId", correlation_id)):
        if value is not None:
            detail[key] = value
    if metadata is not None:
        detail["metadata"] = metadata
    # As EventBridge delivers it: JSON (a lone surrogate travels as an escape).
    body = json.dumps({"detail-type": SUBMITTED_DETAIL_TYPE, "source": "x", "detail": detail})
    try:
        task = parse_submitted_event(body)
    except InvalidEventError as refused:
        reason = str(refused)
    else:
        reason = ""
    if reason:
        # The dead letter carries this reason, as an SQS attribute: only characters SQS takes.
        assert SQS_TEXT.fullmatch(reason), repr(reason)
        return
    # Accepted: the workflow can carry it all the way.
    assert len(task.execution_input_json().encode("utf-8")) <= 256 * 1024
    uuid.UUID(task.task_id)
    assert task.task_id == task.task_id.lower()
    names = task.region_names or ()
    outcome = Outcome(
        task_id=task.task_id,
        kind=OutcomeKind.FAILED,
        execution_arn=f"arn:aws:states:::execution:m:{uuid.uuid4()}",  # a run of its own
        polls=1,
        regions=tuple(RegionRecord(index=i, name=name) for i, name in enumerate(names)),
        expected_region_count=len(names),
        error_name="RecognitionError",
        error_message="the service reported Error",
        correlation_id=task.correlation_id,
        metadata=task.metadata,
    )
    # each example's task afresh: a second run no better than the first is not recorded
    aws["table"].dynamodb.delete_item(TableName=TABLE, Key={"taskId": {"S": task.task_id}})
    assert aws["table"].record(outcome)
    answer = aws["events"].put_events(
        Entries=[
            {
                "EventBusName": BUS,
                "Source": SOURCE,
                "DetailType": outcome.kind.detail_type,
                "Detail": json.dumps(build_outcome_detail(outcome), ensure_ascii=False),
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0, answer
