"""A run that fails, or is interrupted, anywhere still deletes its stack and says so: a fake
deployer makes a real (moto, in process) stack holding a bucket with an object in it, then fails
half-way; the run empties the bucket, deletes the stack, looks for leftovers and reports."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.ops.smoke.cleanup import Resource
from infra.ops.smoke.deployer import DeployError
from infra.ops.smoke.leftovers import look_for_leftovers
from infra.ops.smoke.report import NOT_RUN, Report
from infra.ops.smoke.run import SmokeOptions, run_smoke
from infra.ops.smoke.sample import Sample
from ocr_fetch.credentials import Credentials

REGION = "us-east-1"
SECRET = "aspose-secret-never-shown"
#: A stack with data in it, as CloudFormation would refuse to delete it unless emptied.
TEMPLATE = {"Resources": {"Data": {"Type": "AWS::S3::Bucket"}}}


class FakeDeployer:
    """Creates a small stack, puts an object in its bucket, then raises ``fail`` (if any) at the
    step named ``at``."""

    description = "a fake account (moto, in process)"
    dry_run = True

    def __init__(self, fail: BaseException | None = None, at: str = "deploy") -> None:
        self.fail, self.at = fail, at
        self.deployed: list[str] = []
        self.discarded = False

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    def beside(self, stack_name: str) -> list[str]:
        return ["nothing"]

    def build(self) -> str:
        self._maybe_fail("build")
        return "built nothing"

    def deploy(self, stack_name: str, parameters: Mapping[str, str]) -> None:
        cfn = self.client("cloudformation")
        cfn.create_stack(StackName=stack_name, TemplateBody=json.dumps(TEMPLATE))
        self.deployed.append(stack_name)
        bucket = cfn.describe_stack_resource(StackName=stack_name, LogicalResourceId="Data")
        name = bucket["StackResourceDetail"]["PhysicalResourceId"]
        self.client("s3").put_object(Bucket=name, Key="results/x/answer.json", Body=b"{}")
        self._maybe_fail("deploy")

    def discard(self) -> list[str]:
        self.discarded = True
        return ["nothing made beside the stack"]

    def _maybe_fail(self, step: str) -> None:
        if self.fail is not None and self.at == step:
            raise self.fail


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def run(deployer: FakeDeployer, sample: Sample, said: list[str]) -> Report:
    options = SmokeOptions(sample, Credentials("client", SECRET), yes=True, alarm_watch=0)
    report = run_smoke(deployer, options, said.append, lambda: pytest.fail("asked despite YES"))
    assert report is not None
    return report


def stacks() -> list[str]:
    summaries = boto3.client("cloudformation", region_name=REGION).list_stacks()
    return [s["StackStatus"] for s in summaries["StackSummaries"]]


def buckets() -> list[str]:
    return [b["Name"] for b in boto3.client("s3", region_name=REGION).list_buckets()["Buckets"]]


@pytest.mark.usefixtures("aws")
def test_a_deploy_that_fails_half_way_is_deleted_and_reported(sample: Sample) -> None:
    said: list[str] = []
    deployer = FakeDeployer(DeployError("sam deploy failed (exit 1)"))
    report = run(deployer, sample, said)
    assert deployer.deployed == [report.stack_name]
    assert [(s.name, s.ok) for s in report.steps] == [("build", True), ("deploy", False)]
    assert report.steps[-1].detail == "DeployError: sam deploy failed (exit 1)"
    assert [c.status for c in report.checks] == [NOT_RUN] * 4
    assert stacks() == ["DELETE_COMPLETE"]
    assert buckets() == [], "the bucket was emptied, so its deletion could succeed"
    cleanup = {step.name: step for step in report.cleanup}
    assert cleanup["stack"].ok
    assert "1 objects emptied first" in cleanup["stack"].detail
    assert cleanup["leftovers"].ok
    assert cleanup["leftovers"].detail == "none"
    assert deployer.discarded
    assert report.deleted
    assert not report.passed
    assert report.exit_code() == 1
    assert "FAILED" in report.lines()[0]
    assert SECRET not in "\n".join(said + report.lines())


@pytest.mark.usefixtures("aws")
def test_an_interrupted_deploy_is_deleted_too(sample: Sample) -> None:
    report = run(FakeDeployer(KeyboardInterrupt()), sample, [])
    assert report.interrupted
    assert report.steps[-1].detail == "interrupted"
    assert stacks() == ["DELETE_COMPLETE"]
    assert report.deleted
    assert report.exit_code() == 130
    assert "INTERRUPTED" in report.lines()[0]


@pytest.mark.usefixtures("aws")
def test_a_stack_that_is_not_this_products_stops_the_run_and_is_deleted(sample: Sample) -> None:
    report = run(FakeDeployer(), sample, [])
    assert [(s.name, s.ok) for s in report.steps][-1] == ("stack outputs", False)
    assert "the stack has no output" in report.steps[-1].detail
    assert stacks() == ["DELETE_COMPLETE"]
    assert report.deleted


@pytest.mark.usefixtures("aws")
def test_a_failed_build_makes_nothing_and_deletes_nothing(sample: Sample) -> None:
    deployer = FakeDeployer(DeployError("make build failed (exit 2)"), at="build")
    report = run(deployer, sample, [])
    assert deployer.deployed == []
    assert [step.detail for step in report.cleanup if step.name == "stack"] == [
        "no stack was created"
    ]
    assert report.deleted
    assert report.exit_code() == 1


@pytest.mark.usefixtures("aws")
def test_the_statement_comes_first_and_no_means_nothing_is_made(sample: Sample) -> None:
    said: list[str] = []
    deployer = FakeDeployer()
    options = SmokeOptions(sample, Credentials("client", SECRET))
    assert run_smoke(deployer, options, said.append, lambda: False) is None
    assert deployer.deployed == []
    assert said[-1] == "Nothing deployed."
    text = "\n".join(said)
    assert "make smoke will deploy stack ocr-smoke-" in text
    assert "It creates " in text
    assert "Expected cost of this run on AWS" in text
    assert "nothing" in [line.strip() for line in said]  # made beside the stack, stated


@pytest.mark.usefixtures("aws")
def test_leftovers_are_found_and_what_can_be_finished_is() -> None:
    # What a stack could leave if CloudFormation did not finish: data is a leftover; the key,
    # the secret and the log groups are finished off here, and said so.
    s3, kms = boto3.client("s3", region_name=REGION), boto3.client("kms", region_name=REGION)
    s3.create_bucket(Bucket="left-bucket")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secret = secrets.create_secret(Name="left-secret", SecretString="{}")["ARN"]
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName="/aws/lambda/stack/starter")
    resources = [
        Resource("ResultsBucket", "AWS::S3::Bucket", "left-bucket"),
        Resource("GoneBucket", "AWS::S3::Bucket", "never-made"),
        Resource("ResultsKey", "AWS::KMS::Key", key),
        Resource("AsposeCredentials", "AWS::SecretsManager::Secret", secret),
        Resource("StartQueue", "AWS::SQS::Queue", "https://queue"),
    ]
    found = look_for_leftovers(
        lambda service: boto3.client(service, region_name=REGION), resources, "stack"
    )
    assert found.remaining == ["ResultsBucket: bucket left-bucket still exists"]
    assert found.notes[0].startswith("ResultsKey: the stack left its KMS key Enabled: scheduled")
    assert found.notes[1] == "AsposeCredentials: the stack left its secret: deleted it"
    assert found.notes[2] == "log group /aws/lambda/stack/starter outlived the stack: deleted it"
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert logs.describe_log_groups()["logGroups"] == []
