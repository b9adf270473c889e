"""``.local/stack.json``: what a local cloud writes is what the stack client reads back, its
parameters included, so a local stack is known as a deployed one is (``breaker status`` shows
its budget)."""

from __future__ import annotations

from pathlib import Path

from infra.stack.aspose import AsposeAccess
from infra.stack.session import StackSession
from infra.stack.state_file import LocalState

OUTPUTS = {
    "EventBusName": "bus",
    "StateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:sm",
    "ResultsBucketName": "bucket",
    "ResultsTableName": "table",
    "StartQueueUrl": "http://127.0.0.1:1/queue/start",
    "DeadLetterQueueUrl": "http://127.0.0.1:1/queue/dlq",
    "FleetTableName": "fleet",
}


def test_the_parameters_in_force_round_trip_to_the_stack_client(tmp_path: Path) -> None:
    state = LocalState(
        aws_endpoint="http://127.0.0.1:4566",
        region="eu-west-1",
        outputs=OUTPUTS,
        stack={"stackName": "local"},
        aspose=AsposeAccess("http://a", "http://a/connect/token", "id", "secret"),
        parameters={"AsposeCallsPerSecond": "4", "BreakerProbeSeconds": "2"},
    )
    path = tmp_path / "stack.json"
    state.write(path)

    read = LocalState.read(path)

    assert read == state
    session = StackSession.from_state_file(path)
    assert session.parameters == {"AsposeCallsPerSecond": "4", "BreakerProbeSeconds": "2"}


def test_a_state_file_from_before_parameters_reads_as_none_known(tmp_path: Path) -> None:
    written = LocalState("http://127.0.0.1:4566", "eu-west-1", OUTPUTS).to_json()
    del written["parameters"]

    assert LocalState.from_json(written).parameters == {}
