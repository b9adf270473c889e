"""The static proofs see plausible ARNs of each resource type's shape, under the defaults, and
refuse what they cannot resolve rather than guess."""

from __future__ import annotations

import re
from typing import Any

import pytest

from infra.build.intrinsics import Resolver, UnresolvableError

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Bus": {"Type": "String", "Default": ""},
        "Sources": {"Type": "CommaDelimitedList", "Default": "a,b"},
        "Reserved": {"Type": "Number", "Default": 0},
    },
    "Mappings": {"Limits": {"Queue": {"Receives": 5}}},
    "Conditions": {
        "DeriveBus": {"Fn::Equals": [{"Ref": "Bus"}, ""]},
        "Reserve": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Reserved"}, 0]}]},
    },
    "Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "results"}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/x"}},
        "EventBus": {
            "Type": "AWS::Events::EventBus",
            "Properties": {
                "Name": {
                    "Fn::If": ["DeriveBus", {"Fn::Sub": "${AWS::StackName}-bus"}, {"Ref": "Bus"}]
                }
            },
        },
        "Function": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "check"}},
        "Alias": {
            "Type": "AWS::Lambda::Alias",
            "Properties": {"Name": "live", "FunctionName": {"Ref": "Function"}},
        },
        "Key": {"Type": "AWS::KMS::Key"},
        "Secret": {"Type": "AWS::SecretsManager::Secret"},
        "Machine": {"Type": "AWS::StepFunctions::StateMachine"},
        "Odd": {"Type": "AWS::Example::Thing"},
    },
}


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ({"Fn::GetAtt": ["Bucket", "Arn"]}, r"arn:aws:s3:::ocr-proof-bucket-[0-9a-z]+"),
        ({"Fn::Sub": "${Bucket.Arn}/results/*"}, r"arn:aws:s3:::[0-9a-z-]+/results/\*"),
        ({"Fn::GetAtt": "Queue.Arn"}, r"arn:aws:sqs:us-east-1:123456789012:ocr-proof-Queue-\w+"),
        ({"Ref": "Queue"}, r"https://sqs\.us-east-1\.amazonaws\.com/123456789012/ocr-proof-\S+"),
        (
            {"Fn::GetAtt": ["Table", "Arn"]},
            r"arn:aws:dynamodb:us-east-1:123456789012:table/results",
        ),
        (
            {"Fn::GetAtt": ["Logs", "Arn"]},
            r"arn:aws:logs:us-east-1:123456789012:log-group:/aws/x:\*",
        ),
        (
            {"Fn::GetAtt": ["EventBus", "Arn"]},
            r"arn:aws:events:us-east-1:123456789012:event-bus/ocr-proof-bus",
        ),
        ({"Ref": "Alias"}, r"arn:aws:lambda:us-east-1:123456789012:function:check:live"),
        ({"Fn::GetAtt": ["Key", "Arn"]}, r"arn:aws:kms:us-east-1:123456789012:key/[0-9a-f-]{36}"),
        ({"Ref": "Secret"}, r"arn:aws:secretsmanager:us-east-1:123456789012:secret:\S+-\w{6}"),
        ({"Ref": "Machine"}, r"arn:aws:states:us-east-1:123456789012:stateMachine:\S+"),
        (
            {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"},
            r"arn:aws:iam::123456789012:root",
        ),
        ({"Fn::Sub": "${!Literal}-${Bus}"}, r"\$\{Literal\}-"),
        ({"Fn::Join": ["|", {"Ref": "Sources"}]}, r"a\|b"),
        ({"Fn::FindInMap": ["Limits", "Queue", "Receives"]}, r"5"),
        ({"Fn::If": ["Reserve", "yes", "no"]}, r"no"),
    ],
)
def test_each_intrinsic_resolves_to_the_types_shape(value: Any, pattern: str) -> None:
    assert re.fullmatch(pattern, str(Resolver(TEMPLATE).resolve(value)))


def test_no_value_leaves_the_entry_out() -> None:
    resolved = Resolver(TEMPLATE).resolve(
        {"A": {"Ref": "AWS::NoValue"}, "B": [1, {"Ref": "AWS::NoValue"}]}
    )
    assert resolved == {"B": [1]}


@pytest.mark.parametrize(
    "value",
    [
        {"Fn::GetAtt": ["Odd", "Arn"]},
        {"Fn::GetAtt": ["Bucket", "Nonsense"]},
        {"Ref": "Missing"},
        {"Fn::ImportValue": "elsewhere"},
    ],
)
def test_what_cannot_be_resolved_is_refused_by_name(value: Any) -> None:
    with pytest.raises(UnresolvableError):
        Resolver(TEMPLATE).resolve(value)
