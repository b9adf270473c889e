"""template.yaml: cfn-lint is clean and the SAM transform runs offline with what we promise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.build.packaging import (
    load_template,
    resolve_language_extensions,
    translate_for_review,
)
from ocr_fetch.observability import NAMESPACE, SERVICE

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
DEFINITION = ROOT / "statemachine" / "region_results.asl.json"


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translate_for_review(load_template(TEMPLATE), {}, "us-east-1")


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
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
    assert len(resources_of(translated, "AWS::StepFunctions::StateMachine")) == 1
    assert len(resources_of(translated, "AWS::Events::EventBus")) == 1
    assert len(resources_of(translated, "AWS::SQS::Queue")) == 3
    assert len(resources_of(translated, "AWS::Lambda::EventSourceMapping")) == 1
    mapping = next(iter(resources_of(translated, "AWS::Lambda::EventSourceMapping").values()))
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # The mapping delivers to the live alias, never to $LATEST
    assert mapping["Properties"]["FunctionName"] == {"Ref": "StarterFunctionAliaslive"}


def test_executions_invoke_the_live_alias_of_each_function(translated: dict[str, Any]) -> None:
    aliases = resources_of(translated, "AWS::Lambda::Alias")
    assert {a["Properties"]["Name"] for a in aliases.values()} == {"live"}
    assert len(aliases) == len(resources_of(translated, "AWS::Lambda::Function"))
    machine = next(iter(resources_of(translated, "AWS::StepFunctions::StateMachine").values()))
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    assert substitutions["CheckStatusFunctionArn"] == {"Ref": "CheckStatusFunctionAliaslive"}
    assert substitutions["StoreResultsFunctionArn"] == {"Ref": "StoreResultsFunctionAliaslive"}
    assert substitutions["RecordOutcomeFunctionArn"] == {"Ref": "RecordOutcomeFunctionAliaslive"}
    role = translated["Resources"]["StateMachineRole"]["Properties"]
    invoke = [
        statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Action"] == "lambda:InvokeFunction"
    ]
    assert [s["Resource"] for s in invoke] == [
        [
            {"Ref": f"{name}FunctionAliaslive"}
            for name in ("CheckStatus", "StoreResults", "RecordOutcome")
        ]
    ]


def test_each_function_logs_to_its_own_group_with_retention(translated: dict[str, Any]) -> None:
    functions = resources_of(translated, "AWS::Lambda::Function")
    groups = resources_of(translated, "AWS::Logs::LogGroup")
    for logical_id, function in functions.items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, (
            logical_id
        )
    assert translated["Parameters"]["LogRetentionDays"]["Default"] == 30


def test_every_alarm_notifies_the_alarm_topic(translated: dict[str, Any]) -> None:
    alarms = resources_of(translated, "AWS::CloudWatch::Alarm")
    assert {
        "ExecutionsFailedAlarm",
        "ExecutionsTimedOutAlarm",
        "ExecutionsAbortedAlarm",
        "FunctionErrorsAlarm",
        "FunctionThrottlesAlarm",
        "DeadLetterAlarm",
        "StartQueueAgeAlarm",
        "CredentialsNotConfiguredAlarm",
    } <= alarms.keys()
    for logical_id, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
    subscription = translated["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"


def test_the_credentials_alarm_watches_the_metric_the_function_writes(
    translated: dict[str, Any],
) -> None:
    alarm = translated["Resources"]["CredentialsNotConfiguredAlarm"]["Properties"]
    assert alarm["Namespace"] == NAMESPACE
    assert alarm["MetricName"] == "CredentialsNotConfigured"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE}]


def test_undeliverable_submissions_are_kept_not_dropped(translated: dict[str, Any]) -> None:
    target = translated["Resources"]["SubmittedRule"]["Properties"]["Targets"][0]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["UndeliveredQueue", "Arn"]}}
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400


def test_the_bus_name_is_derived_from_the_stack_unless_given(translated: dict[str, Any]) -> None:
    name = translated["Resources"]["Bus"]["Properties"]["Name"]
    assert name == {
        "Fn::If": [
            "DeriveBusName",
            {"Fn::Sub": "${AWS::StackName}-ocr-regions"},
            {"Ref": "EventBusName"},
        ]
    }
    assert translated["Parameters"]["EventBusName"]["Default"] == ""


@pytest.mark.parametrize(
    ("given", "policy"), [({}, "Retain"), ({"DataDeletionPolicy": "Delete"}, "Delete")]
)
def test_data_is_retained_unless_the_parameter_says_delete(
    given: dict[str, str], policy: str
) -> None:
    resolved = resolve_language_extensions(load_template(TEMPLATE), given)
    assert resolved["Transform"] == "AWS::Serverless-2016-10-31"
    for logical_id in ("ResultsBucket", "ResultsTable", "AccessLogsBucket"):
        resource = resolved["Resources"][logical_id]
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == (policy, policy)


def test_language_extensions_beyond_policies_are_refused() -> None:
    template = load_template(TEMPLATE)
    template["Resources"]["Fn::ForEach::Queues"] = ["Name", ["A"], {}]
    with pytest.raises(ValueError, match="Fn::ForEach"):
        resolve_language_extensions(template, {})


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


DATA_SERVICES = ("s3", "dynamodb", "sqs", "secretsmanager", "kms", "states", "lambda", "events")


def statements(translated: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(role logical id, statement)`` for every statement of every role."""
    return [
        (logical_id, statement)
        for logical_id, role in resources_of(translated, "AWS::IAM::Role").items()
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def test_no_role_grants_a_wildcard_action_or_data_on_any_resource(
    translated: dict[str, Any],
) -> None:
    found = statements(translated)
    assert {role for role, _ in found} == {
        "StarterRole",
        "CheckStatusRole",
        "StoreResultsRole",
        "RecordOutcomeRole",
        "StateMachineRole",
    }
    for role, statement in found:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        assert not any(a == "*" or a.endswith(":*") for a in actions), (role, actions)
        if statement["Resource"] == "*":
            assert not any(a.split(":")[0] in DATA_SERVICES for a in actions), (role, actions)
    for function in resources_of(translated, "AWS::Lambda::Function").values():
        assert "ManagedPolicyArns" not in str(function)


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


def test_throttling_is_waited_out_and_never_caught_into_an_outcome() -> None:
    definition = json.loads(DEFINITION.read_text())
    for name, state in definition["States"].items():
        if state["Type"] != "Task" or "lambda:invoke" not in state["Resource"]:
            continue
        caught = {error for catch in state["Catch"] for error in catch["ErrorEquals"]}
        assert "Lambda.TooManyRequestsException" not in caught, name
        (retry,) = [
            r for r in state["Retry"] if "Lambda.TooManyRequestsException" in r["ErrorEquals"]
        ]
        # about an hour of full-jitter backoff capped at a minute: at least the running deadline
        assert retry["MaxAttempts"] * retry["MaxDelaySeconds"] / 2 >= 3600, name


def test_only_the_workflow_may_publish_outcomes_on_the_bus(translated: dict[str, Any]) -> None:
    bus = translated["Resources"]["Bus"]["Properties"]
    role = {"Fn::GetAtt": ["StateMachineRole", "Arn"]}
    denied = [s for s in bus["Policy"]["Statement"] if s["Effect"] == "Deny"]
    conditions = {
        key: value
        for statement in denied
        for key, value in statement["Condition"]["StringEquals"].items()
    }
    assert conditions["events:source"] == "ocr.region-results"
    assert set(conditions["events:detail-type"]) == {
        "Region Recognition Completed",
        "Region Recognition Failed",
        "Region Recognition Not Found",
        "Region Recognition Timed Out",
    }
    for statement in denied:
        assert statement["Principal"] == "*"
        assert statement["Condition"]["ArnNotEquals"] == {"aws:PrincipalArn": role}


def test_each_function_may_touch_only_its_own_kind_of_key(translated: dict[str, Any]) -> None:
    grants: dict[str, set[tuple[str, str]]] = {}
    for logical_id, role in resources_of(translated, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                for action in [actions] if isinstance(actions, str) else actions:
                    if not action.startswith("s3:"):
                        continue
                    resources = statement["Resource"]
                    for resource in resources if isinstance(resources, list) else [resources]:
                        key = resource["Fn::Sub"].split("}/", 1)[1]
                        grants.setdefault(logical_id, set()).add((action, key))
    assert grants["StarterRole"] == {
        ("s3:PutObject", "results/*/submitted.json"),
        ("s3:GetObject", "results/*/submitted.json"),
    }
    assert grants["CheckStatusRole"] == {("s3:PutObject", "results/*/runs/*/answer-*.json")}
    assert grants["StoreResultsRole"] == {
        ("s3:GetObject", "results/*/runs/*/answer-*.json"),
        ("s3:GetObject", "results/*/submitted.json"),
        ("s3:PutObject", "results/*/runs/*/regions/*"),
        ("s3:PutObject", "results/*/runs/*/manifest.json"),
    }
    assert "RecordOutcomeRole" not in grants
