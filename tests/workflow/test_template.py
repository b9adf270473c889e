"""template.yaml: cfn-lint is clean and the SAM transform runs offline with what we promise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.local_cloud.packaging import load_template, translate

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
DEFINITION = ROOT / "statemachine" / "region_results.asl.json"


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    template = load_template(TEMPLATE)
    # As `sam package` would: local code and definition become S3 locations.
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::StateMachine":
            props["DefinitionUri"] = {"Bucket": "deploy", "Key": "definition.json"}
    template["Globals"]["Function"]["CodeUri"] = "s3://deploy/code.zip"
    return translate(template, {}, "us-east-1")


def resources_of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_cfn_lint_is_clean() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_transform_yields_the_expected_resources(translated: dict[str, Any]) -> None:
    functions = resources_of(translated, "AWS::Lambda::Function")
    handlers = {f["Properties"]["Handler"] for f in functions.values()}
    assert handlers == {
        "ocr_fetch.handlers.starter.handler",
        "ocr_fetch.handlers.check_status.handler",
        "ocr_fetch.handlers.store_results.handler",
        "ocr_fetch.handlers.record_outcome.handler",
    }
    for fn in functions.values():
        props = fn["Properties"]
        assert props["Timeout"] > 0
        assert props["MemorySize"] >= 128
        assert props["Runtime"] in {"python3.12", "python3.13"}
        assert props["TracingConfig"] == {"Mode": "Active"}
    assert len(resources_of(translated, "AWS::StepFunctions::StateMachine")) == 1
    assert len(resources_of(translated, "AWS::Events::EventBus")) == 1
    assert len(resources_of(translated, "AWS::SQS::Queue")) == 2
    assert len(resources_of(translated, "AWS::Lambda::EventSourceMapping")) == 1
    mapping = next(iter(resources_of(translated, "AWS::Lambda::EventSourceMapping").values()))
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_outputs_are_the_public_contract(translated: dict[str, Any]) -> None:
    assert {
        "EventBusName",
        "StateMachineArn",
        "ResultsBucketName",
        "ResultsTableName",
        "StartQueueUrl",
        "DeadLetterQueueUrl",
    } <= translated["Outputs"].keys()


def test_state_machine_logs_without_execution_data_and_traces(translated: dict[str, Any]) -> None:
    machine = next(iter(resources_of(translated, "AWS::StepFunctions::StateMachine").values()))
    props = machine["Properties"]
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert set(props["DefinitionSubstitutions"]) == {
        "CheckStatusFunctionArn",
        "StoreResultsFunctionArn",
        "RecordOutcomeFunctionArn",
        "EventBusName",
    }


def policy_actions(translated: dict[str, Any], function_logical_id: str) -> set[str]:
    role = translated["Resources"][f"{function_logical_id}Role"]["Properties"]
    actions: set[str] = set()
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            action = statement["Action"]
            actions.update([action] if isinstance(action, str) else action)
    return actions


def test_policies_are_least_privilege(translated: dict[str, Any]) -> None:
    assert policy_actions(translated, "RecordOutcomeFunction") == {"dynamodb:UpdateItem"}
    assert policy_actions(translated, "StoreResultsFunction") == {
        "s3:GetObject",
        "s3:PutObject",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "dynamodb:UpdateItem",
    }
    check = policy_actions(translated, "CheckStatusFunction")
    assert "secretsmanager:GetSecretValue" in check
    assert "s3:PutObject" in check
    assert not any(a.startswith("dynamodb:") for a in check)
    starter = policy_actions(translated, "StarterFunction")
    assert "states:StartExecution" in starter
    for actions in map(
        lambda f: policy_actions(translated, f),
        ["StarterFunction", "CheckStatusFunction", "StoreResultsFunction", "RecordOutcomeFunction"],
    ):
        assert not any(a.endswith(":*") or a == "*" for a in actions)


def test_storage_is_private_encrypted_and_expires(translated: dict[str, Any]) -> None:
    bucket = next(iter(resources_of(translated, "AWS::S3::Bucket").values()))["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == {
        "Ref": "ResultsRetentionDays"
    }
    policy = next(iter(resources_of(translated, "AWS::S3::BucketPolicy").values()))
    statement = policy["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    table = next(iter(resources_of(translated, "AWS::DynamoDB::Table").values()))["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}


def test_definition_follows_the_house_rules() -> None:
    definition = json.loads(DEFINITION.read_text())
    assert definition["TimeoutSeconds"] > 0
    assert "QueryLanguage" not in definition or definition["QueryLanguage"] == "JSONPath"
    for name, state in definition["States"].items():
        if state["Type"] == "Task":
            assert state.get("Retry"), f"{name} has no Retry"
            assert state.get("Catch"), f"{name} has no Catch"
        if state["Type"] == "Choice":
            assert state.get("Default"), f"{name} has no Default"
    wait = definition["States"]["Wait Before Next Poll"]
    assert wait["SecondsPath"] == "$.poll.waitSeconds"
