"""The fixture template deployed into the local cloud behaves as the same stack would in AWS."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from infra.local.cloud import LocalCloud, StackInfo
from infra.stack.waiting import wait_until
from tests.local_cloud.conftest import MINI_SECRET, invoke, run_execution


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
        "GeneratedSecretArn",
        "SideQueueUrl",
        "EchoAliasArn",
        "EchoVersionArn",
        "EchoLogGroupName",
        "EchoLogGroupArn",
    }
    assert all(mini_stack.outputs.values())
    assert mini_stack.outputs["EventBusName"] == "mini-bus"
    status = cloud.client("cloudformation").describe_stacks(StackName="mini")["Stacks"][0]
    assert status["StackStatus"] == "CREATE_COMPLETE"
    cloud.client("s3").head_bucket(Bucket=mini_stack.outputs["BucketName"])
    table = cloud.client("dynamodb").describe_table(TableName=mini_stack.outputs["TableName"])
    assert table["Table"]["TableStatus"] == "ACTIVE"


def test_skipped_resources_are_listed_as_not_emulated(mini_stack: StackInfo) -> None:
    assert mini_stack.not_emulated == {"StartQueuePolicy": "AWS::SQS::QueuePolicy"}
    assert "Not emulated" in mini_stack.summary()
    # A variable referring to one is left out, with a warning
    assert mini_stack.warnings == [
        "BrokenFunction: QUEUE_POLICY refers to a resource that is not emulated"
    ]


def test_alarms_of_the_template_are_put_in_cloudwatch(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    alarms = cloud.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert [a["AlarmArn"].rsplit(":", 1)[-1] for a in alarms if "QueueDepth" in a["AlarmName"]]


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
    assert echo_arn == mini_stack.aliases["EchoFunction"]  # !Ref EchoFunction.Alias
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
    # And the task invoked the alias, which ran the version published with the stack
    assert echo["invokedFunctionArn"] == mini_stack.outputs["EchoAliasArn"]
    assert echo["version"] == "1"
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
    secrets = cloud.client("secretsmanager")
    value = secrets.get_secret_value(SecretId=secret_arn)
    assert json.loads(value["SecretString"]) == MINI_SECRET
    # The stack created it with the template's value; the deployer put the given one after
    versions = secrets.list_secret_version_ids(SecretId=secret_arn)["Versions"]
    assert len(versions) == 2
    described = secrets.describe_secret(SecretId=secret_arn)
    assert described["Description"] == "Credentials the functions read at run time."
    # Every function, and every published version, was created with the secret's ARN
    lambda_client = cloud.client("lambda")
    for name in [*mini_stack.functions.values(), *mini_stack.aliases.values()]:
        config = lambda_client.get_function_configuration(FunctionName=name)
        assert config["Environment"]["Variables"]["SECRET_NAME"] == secret_arn


def test_a_secret_the_stack_generates(cloud: LocalCloud, mini_stack: StackInfo) -> None:
    # Given GenerateSecretString with a template, a key, a length and no punctuation
    arn = mini_stack.outputs["GeneratedSecretArn"]
    secrets = cloud.client("secretsmanager")
    value = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    # Then the template's document holds a generated password of that length, letters and digits
    assert value["user"] == "mini"
    assert len(value["password"]) == 24
    assert value["password"].isalnum()
    # And the secret has the template's name, description and KMS key
    described = secrets.describe_secret(SecretId=arn)
    assert described["Name"] == "mini-generated"
    assert described["KmsKeyId"] == mini_stack.resources["DataKey"]
    assert mini_stack.secrets["GeneratedSecret"] == arn


def test_auto_publish_alias_publishes_a_version_and_an_alias(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    name = mini_stack.functions["EchoFunction"]
    function_arn = f"arn:aws:lambda:{cloud.region}:123456789012:function:{name}"
    # Ref of the version is its ARN, Ref of the alias the alias ARN
    assert mini_stack.outputs["EchoVersionArn"] == f"{function_arn}:1"
    assert mini_stack.outputs["EchoAliasArn"] == f"{function_arn}:live"
    assert mini_stack.aliases == {
        "EchoFunction": f"{function_arn}:live",
        "ConsumerFunction": mini_stack.aliases["ConsumerFunction"],
    }
    assert mini_stack.aliases["ConsumerFunction"].endswith(":live")
    # The alias points at the version (GetAtt .Version gave it its number)
    alias = cloud.client("lambda").get_alias(FunctionName=name, Name="live")
    assert (alias["AliasArn"], alias["FunctionVersion"]) == (f"{function_arn}:live", "1")
    assert mini_stack.to_json()["aliases"] == mini_stack.aliases
    assert f"{function_arn}:live" in mini_stack.summary()


def test_an_alias_runs_its_version_not_latest(cloud: LocalCloud, mini_stack: StackInfo) -> None:
    # Given $LATEST changed after the version was published
    lambda_client = cloud.client("lambda")
    name = mini_stack.functions["EchoFunction"]
    variables = lambda_client.get_function_configuration(FunctionName=name)["Environment"]
    lambda_client.update_function_configuration(
        FunctionName=name,
        Environment={"Variables": {**variables["Variables"], "GREETING": "changed"}},
    )
    try:
        # When the state machine's task invokes the alias, and a caller invokes $LATEST
        result = run_execution(
            cloud,
            mini_stack.outputs["StateMachineArn"],
            json.dumps({"waitSeconds": 0, "fail": False}),
        )
        latest = invoke(cloud, name, {})
    finally:
        lambda_client.update_function_configuration(FunctionName=name, Environment=variables)
    # Then the alias ran version 1's configuration, and $LATEST its own
    echo = json.loads(result["output"])["result"]["echo"]
    assert (echo["greeting"], echo["version"]) == ("bonjour", "1")
    assert (latest["greeting"], latest["version"]) == ("changed", "$LATEST")
    assert latest["invokedFunctionArn"].endswith(f":function:{name}")


def test_a_function_logs_to_the_log_group_its_logging_config_names(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    # When the alias of the function with LoggingConfig.LogGroup runs
    name = f"logged-{uuid.uuid4().hex}"
    answer = invoke(cloud, mini_stack.outputs["EchoAliasArn"], {"name": name})
    cloud.flush_logs()
    # Then its logs are in that group (the template's, with its retention), not /aws/lambda/...
    group = mini_stack.outputs["EchoLogGroupName"]
    assert answer["logGroup"] == group
    logs = cloud.client("logs")
    messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    assert any(name in m for m in messages)
    assert any(m.startswith("START RequestId: ") and m.endswith("Version: 1") for m in messages)
    (described,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["retentionInDays"] == 7
    # GetAtt .Arn is CloudFormation's, which a policy on the group's streams uses
    log_group_arn = f"arn:aws:logs:{cloud.region}:123456789012:log-group:{group}:*"
    assert mini_stack.outputs["EchoLogGroupArn"] == log_group_arn
    default = f"/aws/lambda/{mini_stack.functions['EchoFunction']}"
    assert logs.describe_log_groups(logGroupNamePrefix=default)["logGroups"] == []


def test_a_roles_inline_policies_read_back_as_documents(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    # Given the state machine's role, whose policies SAM wrote inline (LambdaInvokePolicy...)
    sfn = cloud.client("stepfunctions")
    role_arn = sfn.describe_state_machine(stateMachineArn=mini_stack.outputs["StateMachineArn"])[
        "roleArn"
    ]
    role = role_arn.rsplit("/", 1)[-1]
    iam = cloud.client("iam")
    # Then each reads back as the policy document it is, as from IAM
    actions: set[str] = set()
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for statement in document["Statement"]:
            action = statement["Action"]
            actions.update([action] if isinstance(action, str) else action)
    assert {"lambda:InvokeFunction", "events:PutEvents"} <= actions


def test_no_value_leaves_a_property_out(cloud: LocalCloud, mini_stack: StackInfo) -> None:
    # Given !If [Condition, N, !Ref AWS::NoValue] for ReservedConcurrentExecutions and a variable
    lambda_client = cloud.client("lambda")
    hold = mini_stack.functions["HoldFunction"]
    solo = mini_stack.functions["SoloFunction"]
    # Then the false branch leaves the property out, the true one sets it
    assert "ReservedConcurrentExecutions" not in lambda_client.get_function_concurrency(
        FunctionName=hold
    )
    concurrency = lambda_client.get_function_concurrency(FunctionName=solo)
    assert concurrency["ReservedConcurrentExecutions"] == 1
    variables = lambda_client.get_function_configuration(FunctionName=hold)["Environment"]
    assert "OPTIONAL_SETTING" not in variables["Variables"]


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


def test_a_mapping_on_an_alias_delivers_to_the_alias(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    # Given the explicit mapping whose FunctionName is !Ref ConsumerFunction.Alias
    side_queue = mini_stack.outputs["SideQueueUrl"]
    mappings = cloud.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    side = [m for m in mappings if m["EventSourceArn"].endswith(side_queue.rsplit("/", 1)[-1])]
    assert [m["FunctionArn"] for m in side] == [mini_stack.aliases["ConsumerFunction"]]
    # When a message lands on its queue
    name = f"side-{uuid.uuid4()}"
    cloud.client("sqs").send_message(QueueUrl=side_queue, MessageBody=json.dumps({"name": name}))
    # Then the pollers delivered it through the alias
    items = wait_until(
        lambda: _items_named(cloud, mini_stack, name), timeout=15, what="the consumer to run"
    )
    assert items[0]["batch"]["N"] == "1"


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
