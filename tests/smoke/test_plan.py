"""The statement a run makes before it deploys: a unique stack name that every name the template
derives from stays within AWS's limits, the stack's resources by type from the template, and the
cost of a run, from the same prices the benchmarks use."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from infra.ops import prices
from infra.ops.smoke import cost, plan
from infra.ops.smoke.aws import artifact_bucket

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
#: CloudFormation names a bucket ``<stack>-<logical id, lower case>-<12 characters>``.
GENERATED_SUFFIX = len("-accesslogsbucket-") + 12


def test_the_name_says_when_and_is_unique() -> None:
    now = datetime(2026, 11, 30, 10, 15, 0, tzinfo=UTC)
    name = plan.stack_name(now, "a1b2c3")
    assert name == "ocr-smoke-20261130-101500-a1b2c3"
    assert plan.STACK_NAME.match(name)
    names = {plan.stack_name(now) for _ in range(20)}
    assert len(names) == 20, "the random part tells runs of the same second apart"
    assert plan.stack_name(now, "a1b2c3") != plan.stack_name(now.replace(second=1), "a1b2c3")


def test_every_derived_name_fits_aws_limits() -> None:
    name = plan.stack_name()
    assert plan.STACK_NAME.match(name)
    assert len(name) + GENERATED_SUFFIX <= 63, "generated bucket names"
    assert BUCKET_NAME.match(artifact_bucket(name))
    assert len(f"{name}-ocr-regions") <= 256, "the derived bus name"
    assert len(f"{name}-outcomes") <= 64, "the consumer's rule (64) and queue (80)"
    assert len(f"/aws/lambda/{name}/check-status") <= 512


def test_the_run_deletes_its_data_and_waits_longer_than_a_task_can_take() -> None:
    assert plan.PARAMETERS["DataDeletionPolicy"] == "Delete"
    assert int(plan.PARAMETERS["ResultsLifetimeSeconds"]) < plan.TASK_TIMEOUT_S
    assert int(plan.PARAMETERS["PollDeadlineSeconds"]) < int(
        plan.PARAMETERS["ResultsLifetimeSeconds"]
    )


def test_the_resources_come_from_the_template_under_the_parameters() -> None:
    counts = plan.resource_types(plan.PARAMETERS)
    assert counts["AWS::S3::Bucket"] == 2  # results and their access logs
    assert counts["AWS::CloudWatch::Alarm"] == 10
    assert counts["AWS::KMS::Key"] == 1
    assert counts["AWS::SecretsManager::Secret"] == 1
    assert counts["AWS::StepFunctions::StateMachine"] == 1
    assert counts["AWS::Lambda::Function"] == 4
    assert "AWS::SNS::Subscription" not in counts  # no AlarmEmail
    without_logs = plan.resource_types({**plan.PARAMETERS, "ResultsAccessLogging": "false"})
    assert without_logs["AWS::S3::Bucket"] == 1


def test_the_statement_lists_each_type_and_what_is_made_beside() -> None:
    counts = plan.resource_types(plan.PARAMETERS)
    stated = plan.Plan("AWS account 123456789012 (eu-west-1)", "ocr-smoke-x", {}, counts, ("q",))
    text = "\n".join(stated.statement())
    assert f"It creates {sum(counts.values())} resources" in text
    for kind, count in counts.items():
        assert re.search(rf"^\s+{count}\s+{re.escape(kind)}$", text, re.MULTILINE), kind
    assert "in AWS account 123456789012 (eu-west-1)" in text
    assert text.endswith("q")


def test_the_cost_is_a_few_cents_and_every_figure_has_a_source() -> None:
    total = cost.aws_total()
    assert 0.01 <= total < 0.10
    assert all(charge.source for charge in cost.CHARGES)
    text = "\n".join(cost.statement())
    for charge in cost.CHARGES:
        assert charge.what in text
    assert "KMS key" in text
    assert "Secret" in text
    assert "Aspose bills its own API calls" in text
    assert f"${total:.5f}" in text


def test_the_prorated_lines_are_an_hour_of_the_monthly_price() -> None:
    key = next(c for c in cost.CHARGES if c.what.startswith("KMS key"))
    secret = next(c for c in cost.CHARGES if c.what.startswith("Secret"))
    assert abs(key.dollars - 1.00 / 730) < 1e-9
    assert abs(secret.dollars - 0.40 / 730) < 1e-9


def test_the_prices_are_the_benchmarks() -> None:
    shared = [name for name in dir(prices) if name.isupper()]
    assert len(shared) >= 10
    for name in shared:
        assert getattr(cost, name) == getattr(prices, name), name
