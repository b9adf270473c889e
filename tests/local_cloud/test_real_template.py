"""The project's own template.yaml deploys locally, with an executing, fully wired state machine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.cloud import LocalCloud, StackInfo
from infra.stack.aspose import AsposeAccess

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

pytestmark = pytest.mark.skipif(not TEMPLATE.exists(), reason="template.yaml not written yet")

EXPECTED_OUTPUTS = {
    "EventBusName",
    "StateMachineArn",
    "ResultsBucketName",
    "ResultsTableName",
    "StartQueueUrl",
    "DeadLetterQueueUrl",
}


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[LocalCloud, StackInfo]]:
    cloud = LocalCloud(
        aspose=AsposeAccess(
            base_url="http://127.0.0.1:9",
            token_url="http://127.0.0.1:9/connect/token",
            client_id="local-client",
            client_secret="local-secret",
        )
    )
    with cloud:
        stack = cloud.deploy(
            TEMPLATE,
            parameters={
                "PollInitialSeconds": "1",
                "PollMaxIntervalSeconds": "2",
                "PollDeadlineSeconds": "120",
            },
        )
        yield cloud, stack


def test_outputs_are_present(deployed: tuple[LocalCloud, StackInfo]) -> None:
    _, stack = deployed
    assert set(stack.outputs) >= EXPECTED_OUTPUTS
    assert all(stack.outputs[key] for key in EXPECTED_OUTPUTS)
    assert stack.warnings == []


def test_state_machine_executes_with_every_substitution_resolved(
    deployed: tuple[LocalCloud, StackInfo],
) -> None:
    cloud, stack = deployed
    sfn = cloud.client("stepfunctions")
    arn = stack.outputs["StateMachineArn"]
    assert arn in stack.state_machines.values()
    definition = sfn.describe_state_machine(stateMachineArn=arn)["definition"]
    assert "${" not in definition
    function_arns = {
        state["Parameters"]["FunctionName"]
        for state in json.loads(definition)["States"].values()
        if state.get("Resource") == "arn:aws:states:::lambda:invoke"
    }
    deployed_arns = {
        f"arn:aws:lambda:{cloud.region}:123456789012:function:{name}"
        for name in stack.functions.values()
    }
    # A task invokes a function, or its alias (AutoPublishAlias) where it has one
    assert function_arns
    assert function_arns <= deployed_arns | set(stack.aliases.values())


def test_functions_get_the_secret_and_the_aspose_urls(
    deployed: tuple[LocalCloud, StackInfo],
) -> None:
    cloud, stack = deployed
    (secret_arn,) = stack.secrets.values()
    secret = cloud.client("secretsmanager").get_secret_value(SecretId=secret_arn)
    assert json.loads(secret["SecretString"]) == {
        "clientId": "local-client",
        "clientSecret": "local-secret",
    }
    # only the function that calls Aspose gets its secret and its URLs
    check = stack.functions["CheckStatusFunction"]
    env = cloud.client("lambda").get_function_configuration(FunctionName=check)["Environment"]
    assert env["Variables"]["ASPOSE_SECRET_NAME"] == secret_arn
    assert env["Variables"]["ASPOSE_BASE_URL"] == "http://127.0.0.1:9"
    assert env["Variables"]["POLL_INITIAL_SECONDS"] == "1"
    for logical_id, name in stack.functions.items():
        env = cloud.client("lambda").get_function_configuration(FunctionName=name)["Environment"]
        if logical_id != "CheckStatusFunction":
            assert "ASPOSE_SECRET_NAME" not in env["Variables"]
    starter = stack.functions["StarterFunction"]
    env = cloud.client("lambda").get_function_configuration(FunctionName=starter)["Environment"]
    assert env["Variables"]["STATE_MACHINE_ARN"] == stack.outputs["StateMachineArn"]


def test_resources_moto_skips_are_reported(deployed: tuple[LocalCloud, StackInfo]) -> None:
    _, stack = deployed
    assert "AWS::S3::BucketPolicy" in stack.not_emulated.values()
    assert "AWS::SecretsManager::Secret" not in stack.not_emulated.values()
    assert "AWS::CloudWatch::Alarm" not in stack.not_emulated.values()  # the dashboard needs them
