"""The IAM proof can fail: each class of mistake it exists for is reported, naming the policy and
the statement, by the pinned catalogues (``make lint`` installs them in ``.tools/``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from infra.build.iam_catalogue import arn_meets_format
from infra.build.iam_check import (
    SUPPRESSED,
    Finding,
    Policy,
    check,
    run_catalogue,
    with_suppressions,
)
from infra.build.intrinsics import TEMPLATE

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {
    "parliament": ROOT / ".tools" / "parliament" / "bin" / "python",
    "policy_sentry": ROOT / ".tools" / "policy-sentry" / "bin" / "python",
}
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/results"
BUCKET = "arn:aws:s3:::results-bucket"


@pytest.fixture(scope="module")
def tools() -> Mapping[str, Path]:
    missing = [str(python) for python in TOOLS.values() if not python.exists()]
    if missing:
        pytest.fail(f"missing {missing}: make lint (or make tools) installs the IAM catalogues")
    return TOOLS


def statement(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Allow", **fields}


def findings(tools: Mapping[str, Path], *statements: Any, kind: str = "identity") -> set[str]:
    """``tool ISSUE`` for each finding on one policy holding ``statements``."""
    named = [{"Sid": f"UnderTest{n}", **s} for n, s in enumerate(statements)]
    policy = Policy("Role/under-test", kind, {"Version": "2012-10-17", "Statement": named})
    found: list[Finding] = []
    for tool, python in tools.items():
        found += run_catalogue(python, tool, [policy])
    assert all(
        f.policy == "Role/under-test" and f.statement.startswith("UnderTest") for f in found
    ), found
    return {f"{f.tool} {f.issue}" for f in found}


def test_a_correct_policy_has_no_finding(tools: Mapping[str, Path]) -> None:
    assert not findings(
        tools,
        statement(Action=["s3:GetObject", "s3:PutObject"], Resource=f"{BUCKET}/results/*"),
        statement(Action="dynamodb:UpdateItem", Resource=TABLE),
    )


def test_a_misspelled_action_is_reported_by_both_catalogues(tools: Mapping[str, Path]) -> None:
    assert findings(tools, statement(Action="dynamodb:UpdateItems", Resource=TABLE)) == {
        "parliament UNKNOWN_ACTION",
        "policy_sentry UNKNOWN_ACTION",
    }


def test_an_unknown_service_prefix_is_reported(tools: Mapping[str, Path]) -> None:
    assert "parliament UNKNOWN_PREFIX" in findings(
        tools, statement(Action="dynamo:UpdateItem", Resource=TABLE)
    )


def test_an_arn_of_the_wrong_shape_is_reported(tools: Mapping[str, Path]) -> None:
    wrong = "arn:aws:dynamodb:us-east-1:123456789012:tabel/results"
    assert findings(tools, statement(Action="dynamodb:UpdateItem", Resource=wrong)) == {
        "parliament RESOURCE_MISMATCH",
        "policy_sentry RESOURCE_MATCHES_NO_ACTION",
    }


def test_a_bucket_arn_for_an_object_action_is_reported(tools: Mapping[str, Path]) -> None:
    assert findings(tools, statement(Action="s3:GetObject", Resource=BUCKET)) == {
        "parliament RESOURCE_MISMATCH",
        "policy_sentry RESOURCE_MATCHES_NO_ACTION",
    }


def test_an_arn_that_no_action_uses_is_reported_beside_one_that_is(
    tools: Mapping[str, Path],
) -> None:
    """parliament asks whether each action has a resource; the other way round, an ARN no
    action of the statement acts on grants nothing, which only policy_sentry's pass sees."""
    assert findings(
        tools, statement(Action="s3:GetObject", Resource=[f"{BUCKET}/results/*", TABLE])
    ) == {"policy_sentry RESOURCE_MATCHES_NO_ACTION"}


def test_a_deny_on_an_arn_of_the_wrong_shape_is_reported(tools: Mapping[str, Path]) -> None:
    """parliament checks resources of Allow statements only; a Deny naming nothing denies
    nothing."""
    deny = statement(
        Effect="Deny",
        Principal="*",
        Action="sqs:*",
        Resource="arn:aws:sqs:us-east-1:123456789012:queue/start",
        Condition={"Bool": {"aws:SecureTransport": "false"}},
    )
    assert findings(tools, deny, kind="queue policy") == {
        "policy_sentry RESOURCE_MATCHES_NO_ACTION"
    }


def test_a_condition_key_the_action_does_not_support_is_reported(
    tools: Mapping[str, Path],
) -> None:
    condition = {"StringLike": {"s3:prefix": "results/*"}}
    assert findings(
        tools, statement(Action="dynamodb:UpdateItem", Resource=TABLE, Condition=condition)
    ) == {"parliament UNKNOWN_CONDITION_FOR_ACTION", "policy_sentry UNKNOWN_CONDITION_FOR_ACTION"}


def test_a_misspelled_action_in_a_trust_policy_is_reported(tools: Mapping[str, Path]) -> None:
    trust = statement(Principal={"Service": "lambda.amazonaws.com"}, Action="sts:AssumeRol")
    assert findings(tools, trust, kind="trust") == {"policy_sentry UNKNOWN_ACTION"}


def test_a_condition_key_in_a_trust_policy_is_checked(tools: Mapping[str, Path]) -> None:
    """parliament cannot read trust policies (no Resource); policy_sentry checks their keys."""
    lambda_service = {"Service": "lambda.amazonaws.com"}

    def trust(condition: dict[str, Any]) -> set[str]:
        assume = statement(Principal=lambda_service, Action="sts:AssumeRole", Condition=condition)
        return findings(tools, assume, kind="trust")

    assert not trust({"StringEquals": {"sts:ExternalId": "x", "aws:SourceAccount": "1"}})
    assert trust({"StringEquals": {"s3:prefix": "x"}}) == {
        "policy_sentry UNKNOWN_CONDITION_FOR_ACTION"
    }


def test_suppressions_are_narrow() -> None:
    """RESOURCE_STAR is accepted on key policies only, and the alias exception only for an
    InvokeFunction on a qualified function ARN."""
    policies = [Policy("Key", "key policy", {}), Policy("Role/p", "identity", {})]
    star = Finding("parliament", "Key", "Admin", "RESOURCE_STAR", "[]")
    alias = "arn:aws:lambda:us-east-1:123456789012:function:check:live"
    no_action = "is of no resource type that lambda:InvokeFunction acts on"
    found = [
        star,
        Finding("parliament", "Role/p", "Read", "RESOURCE_STAR", "[]"),
        Finding(
            "policy_sentry",
            "Role/p",
            "Invoke",
            "RESOURCE_MATCHES_NO_ACTION",
            f"{alias} {no_action}",
        ),
        Finding(
            "policy_sentry",
            "Role/p",
            "Invoke",
            "RESOURCE_MATCHES_NO_ACTION",
            f"arn:aws:lambda:us-east-1:123456789012:functions:check {no_action}",
        ),
    ]
    marked = with_suppressions(found, policies, SUPPRESSED)
    assert [bool(f.suppressed_because) for f in marked] == [True, False, True, False]


def test_a_mistake_in_the_template_fails_the_check_naming_policy_and_sid(
    tools: Mapping[str, Path], tmp_path: Path
) -> None:
    """End to end: translation, resolution, both catalogues, the report and its count."""
    text = TEMPLATE.read_text(encoding="utf-8")
    assert "Action: dynamodb:UpdateItem" in text
    broken = tmp_path / "template.yaml"
    broken.write_text(
        text.replace("Action: dynamodb:UpdateItem", "Action: dynamodb:UpdateItm", 1),
        encoding="utf-8",
    )
    report, failed = check(tools, broken)
    lines = [line for line in report.splitlines() if line.startswith("  FINDING ")]
    assert failed == len(lines) == 2, report  # one per catalogue
    named = r"^  FINDING \S+/\S+ \w+: (parliament|policy_sentry) UNKNOWN_ACTION: .*UpdateItm"
    assert all(re.match(named, line) for line in lines), lines


def test_todays_template_passes(tools: Mapping[str, Path]) -> None:
    report, failed = check(tools)
    assert failed == 0, report


@pytest.mark.parametrize(
    ("arn", "arn_format", "meets"),
    [
        ("arn:aws:s3:::b/results/*", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True),
        ("arn:aws:s3:::b/results/*", "arn:${Partition}:s3:::${BucketName}", False),
        ("arn:aws:s3:::b", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", False),
        (
            "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/f:*",
            "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}"
            ":log-stream:${LogStreamName}",
            True,
        ),
        (
            "arn:aws:dynamodb:*:*:table/*",
            "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}",
            True,
        ),
        (
            "arn:aws:dynamodb:us-east-1:1:tabel/t",
            "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}",
            False,
        ),
        (
            "arn:aws:sqs:us-east-1:1:q",
            "arn:${Partition}:sns:${Region}:${Account}:${TopicName}",
            False,
        ),
        (
            "arn:aws:s3:::${aws:username}/*",
            "arn:${Partition}:s3:::${BucketName}/${ObjectName}",
            True,
        ),
    ],
)
def test_arn_patterns_meet_formats(arn: str, arn_format: str, meets: bool) -> None:
    assert arn_meets_format(arn, arn_format) is meets
