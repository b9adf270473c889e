"""The fixture template deployed into the local cloud behaves as the same stack would in AWS."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from infra.local_cloud import LocalCloud, StackInfo
from infra.waiting import wait_until
from tests.local_cloud.conftest import MINI_SECRET, run_execution


def test_stack_deploys_with_its_outputs(cloud: LocalCloud, mini_stack: StackInfo) -> None:
    # Given the deployed fixture stack / Then every output is there, with the parameter applied
    assert set(mini_stack.outputs) == {
        "EventBusName",
        "StateMachineArn",
        "BucketName",
        "TableName",
        "StartQueueUrl",
        "DeadLetterQueueUrl",
        "CredentialsArn",
    }
    assert all(mini_stack.outputs.values())
    assert mini_stack.outputs["EventBusName"] == "mini-bus"
    status = cloud.client("cloudformation").describe_stacks(StackName="mini")["Stacks"][0]
    assert status["StackStatus"] == "CREATE_COMPLETE"
    cloud.client("s3").head_bucket(Bucket=mini_stack.outputs["BucketName"])
    table = cloud.client("dynamodb").describe_table(TableName=mini_stack.outputs["TableName"])
    assert table["Table"]["TableStatus"] == "ACTIVE"


def test_skipped_resources_are_listed_as_not_emulated(mini_stack: StackInfo) -> None:
    assert mini_stack.not_emulated == {
        "QueueDepthAlarm": "AWS::CloudWatch::Alarm",
        "StartQueuePolicy": "AWS::SQS::QueuePolicy",
    }
    assert "Not emulated" in mini_stack.summary()
    assert mini_stack.warnings == []


def test_state_machine_is_executing_with_substitutions_resolved(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    arn = mini_stack.outputs["StateMachineArn"]
    assert mini_stack.state_machines == {"MiniStateMachine": arn}
    definition = cloud.client("stepfunctions").describe_state_machine(stateMachineArn=arn)[
        "definition"
    ]
    assert "${" not in definition
    states = json.loads(definition)["States"]
    echo_arn = states["Echo"]["Parameters"]["FunctionName"]
    assert echo_arn.endswith(":function:" + mini_stack.functions["EchoFunction"])
    assert states["Publish"]["Parameters"]["Entries"][0]["EventBusName"] == "mini-bus"


def test_lambda_task_runs_the_real_handler_in_its_own_environment(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    # When an execution takes the happy path (echo, 1 s wait, publish)
    result = run_execution(
        cloud, mini_stack.outputs["StateMachineArn"], json.dumps({"waitSeconds": 1, "fail": False})
    )
    # Then the fixture handler ran with the function's environment and a Lambda context
    assert result["status"] == "SUCCEEDED"
    echo = json.loads(result["output"])["result"]["echo"]
    assert echo["greeting"] == "bonjour"
    assert echo["bucket"] == mini_stack.outputs["BucketName"]
    assert echo["functionName"] == mini_stack.functions["EchoFunction"]
    assert 0 < echo["remainingMs"] <= 10_000
    # And the function's variables did not leak into this process
    assert "GREETING" not in os.environ


def test_exception_is_retried_and_caught_by_its_class_name(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    # When the flaky task raises FlakyError on every attempt
    result = run_execution(
        cloud,
        mini_stack.outputs["StateMachineArn"],
        json.dumps({"waitSeconds": 0, "fail": True, "name": "ada"}),
    )
    # Then Retry ran it twice and Catch routed the error, matched by name, to "Caught"
    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output["outcome"] == "caught"
    assert output["error"]["Error"] == "FlakyError"
    cause = json.loads(output["error"]["Cause"])  # the runtime's error payload, as on AWS
    assert (cause["errorType"], cause["errorMessage"]) == ("FlakyError", "always fails for ada")
    assert cause["stackTrace"][-1].startswith('  File "')
    assert "in flaky" in cause["stackTrace"][-1]
    history = cloud.client("stepfunctions").get_execution_history(
        executionArn=result["executionArn"]
    )["events"]
    assert sum(e["type"] == "TaskFailed" for e in history) == 2


def test_direct_invoke_reports_a_function_error(cloud: LocalCloud, mini_stack: StackInfo) -> None:
    answer = cloud.client("lambda").invoke(
        FunctionName=mini_stack.functions["FlakyFunction"], Payload=b'{"name": "bob"}'
    )
    assert "FunctionError" in answer
    assert json.loads(answer["Payload"].read())["errorType"] == "FlakyError"


def test_secret_exists_and_the_reference_to_it_is_resolved(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    secret_arn = mini_stack.outputs["CredentialsArn"]
    assert secret_arn == mini_stack.secrets["Credentials"]
    value = cloud.client("secretsmanager").get_secret_value(SecretId=secret_arn)
    assert json.loads(value["SecretString"]) == MINI_SECRET
    for function_name in mini_stack.functions.values():
        config = cloud.client("lambda").get_function_configuration(FunctionName=function_name)
        assert config["Environment"]["Variables"]["SECRET_NAME"] == secret_arn


def _items_named(cloud: LocalCloud, stack: StackInfo, name: str) -> list[dict[str, Any]]:
    items = cloud.client("dynamodb").scan(TableName=stack.outputs["TableName"])["Items"]
    return [item for item in items if item["name"]["S"] == name]


def test_sqs_message_invokes_the_function_through_its_mapping(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    # When a message lands on the queue the consumer is mapped to
    name = f"direct-{uuid.uuid4()}"
    cloud.client("sqs").send_message(
        QueueUrl=mini_stack.outputs["StartQueueUrl"], MessageBody=json.dumps({"name": name})
    )
    # Then the real consumer handler ran (through the bridge) and read the secret
    items = wait_until(
        lambda: _items_named(cloud, mini_stack, name), timeout=15, what="the consumer to run"
    )
    assert items[0]["secretKeys"]["L"] == [{"S": "clientId"}, {"S": "clientSecret"}]
    consumer = mini_stack.functions["ConsumerFunction"]
    assert any(i.function_name == consumer for i in cloud.runtime.invocations)


def test_event_rule_delivers_to_the_queue(cloud: LocalCloud, mini_stack: StackInfo) -> None:
    # When a matching event is put on the bus
    name = f"event-{uuid.uuid4()}"
    answer = cloud.client("events").put_events(
        Entries=[
            {
                "EventBusName": mini_stack.outputs["EventBusName"],
                "Source": "mini.app",
                "DetailType": "Thing Submitted",
                "Detail": json.dumps({"name": name}),
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0
    # Then the rule sent it to the queue, whose mapping handed the whole event to the consumer
    items = wait_until(
        lambda: _items_named(cloud, mini_stack, name), timeout=15, what="the consumer to run"
    )
    assert json.loads(items[0]["body"]["S"])["detail-type"] == "Thing Submitted"


def test_events_that_do_not_match_stay_off_the_queue(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    # Given events the rule does not match, then one it matches (a fence)
    tag = uuid.uuid4().hex
    entries = [
        ("Thing Done", f"done-{tag}"),
        ("Something Else", f"else-{tag}"),
        ("Thing Submitted", f"fence-{tag}"),
    ]
    for detail_type, name in entries:
        cloud.client("events").put_events(
            Entries=[
                {
                    "EventBusName": mini_stack.outputs["EventBusName"],
                    "Source": "mini.app",
                    "DetailType": detail_type,
                    "Detail": json.dumps({"name": name}),
                }
            ]
        )
    # When the fence has been consumed
    wait_until(
        lambda: _items_named(cloud, mini_stack, f"fence-{tag}"), timeout=15, what="the fence"
    )
    # Then the events before it never reached the consumer
    assert _items_named(cloud, mini_stack, f"done-{tag}") == []
    assert _items_named(cloud, mini_stack, f"else-{tag}") == []
