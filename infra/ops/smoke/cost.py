"""What one smoke run costs on AWS, line by line, each figure with where it comes from.

The usage figures are upper bounds for one run (one task, the stack alive under an hour); the
prices are AWS's list prices in us-east-1, from :mod:`infra.ops.prices`, the ones the
benchmarks use, plus the fixed-price resources that the benchmark's
per-task arithmetic leaves out: the KMS key, the secret, the alarms, the dashboard and the custom
metrics, each billed prorated by the hour. Aspose bills its own API calls, apart from AWS.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.ops.prices import (
    ASPOSE_CALL,
    DDB_READ,
    DDB_WRITE,
    EVENTS,
    LAMBDA_GB_SECOND,
    LAMBDA_REQUEST,
    LOGS_INGESTED_GB,
    S3_GET,
    S3_PUT,
    SQS_REQUEST,
    TRANSITION,
)

#: Hours in the month AWS prorates monthly prices over (730 = 8,760 / 12).
HOURS_PER_MONTH = 730
#: The stack lives under this many hours; prorated prices are counted for them.
STACK_HOURS = 1

# Monthly prices, prorated by the hour.
KMS_KEY_MONTH = 1.00  # aws.amazon.com/kms/pricing: $1/month, prorated hourly
SECRET_MONTH = 0.40  # aws.amazon.com/secrets-manager/pricing: $0.40 a secret-month, prorated
ALARMS_MONTH = 1.50  # the README's figure for this stack's alarms (metric-math bills per metric)
DASHBOARD_MONTH = 3.00  # aws.amazon.com/cloudwatch/pricing: $3 a dashboard-month
CUSTOM_METRIC_MONTH = 0.30  # aws.amazon.com/cloudwatch/pricing: per metric-month, prorated
CUSTOM_METRICS = 18  # the functions' Powertools metrics (the README's count)

#: Calls one run makes to Aspose at most: a token, the submission, the polls (15 s apart at
#: most, while the task runs under a minute) and a token for the check function.
ASPOSE_CALLS = 8

AWS_PRICES = "AWS list prices, us-east-1"


@dataclass(frozen=True)
class Charge:
    """One line of the bill: how much of what, at which price, and where the figures come from
    (AWS's list prices unless a line says otherwise)."""

    what: str
    quantity: float
    unit_price: float
    source: str = AWS_PRICES

    @property
    def dollars(self) -> float:
        return self.quantity * self.unit_price


def _prorated(what: str, monthly: float, source: str, *, count: int = 1) -> Charge:
    """``count`` of a resource billed by the month, prorated by the hour, for the hours the stack
    lives."""
    return Charge(what, count * STACK_HOURS, monthly / HOURS_PER_MONTH, source)


#: One run's AWS charges, upper bounds.
CHARGES: tuple[Charge, ...] = (
    Charge("Step Functions: up to 60 state transitions (12 a task, 3 more a poll)", 60, TRANSITION),
    Charge("Lambda: up to 25 invocations", 25, LAMBDA_REQUEST),
    Charge("Lambda: up to 20 GB-s (arm64, 256 MB)", 20, LAMBDA_GB_SECOND),
    Charge(
        "S3: up to 60 PUT/LIST requests (sam deploy's upload, the task's objects, emptying)",
        60,
        S3_PUT,
    ),
    Charge("S3: up to 100 GET/HEAD requests (the checks)", 100, S3_GET),
    Charge("DynamoDB: up to 30 write request units", 30, DDB_WRITE),
    Charge("DynamoDB: up to 50 read request units", 50, DDB_READ),
    Charge("EventBridge: 2 custom events (submitted, outcome)", 2, EVENTS),
    Charge(
        "SQS: up to 5,000 requests (the start queue's pollers, the smoke's consumer)",
        5000,
        SQS_REQUEST,
    ),
    Charge("CloudWatch Logs: up to 5 MB ingested", 0.005, LOGS_INGESTED_GB),
    _prorated(
        f"KMS key: {STACK_HOURS} hour of $1/month (nothing while pending deletion)",
        KMS_KEY_MONTH,
        "aws.amazon.com/kms/pricing",
    ),
    _prorated(
        f"Secret: {STACK_HOURS} hour of $0.40/month (nothing once marked for deletion)",
        SECRET_MONTH,
        "aws.amazon.com/secrets-manager/pricing",
    ),
    _prorated(
        f"CloudWatch alarms: {STACK_HOURS} hour of about $1.50/month",
        ALARMS_MONTH,
        "the README's cost section",
    ),
    _prorated(
        f"CloudWatch dashboard: {STACK_HOURS} hour of $3/month (3 a month are free)",
        DASHBOARD_MONTH,
        "aws.amazon.com/cloudwatch/pricing",
    ),
    _prorated(
        f"CloudWatch custom metrics: {CUSTOM_METRICS} for {STACK_HOURS} hour at $0.30/month",
        CUSTOM_METRIC_MONTH,
        "aws.amazon.com/cloudwatch/pricing",
        count=CUSTOM_METRICS,
    ),
)


def aws_total(charges: tuple[Charge, ...] = CHARGES) -> float:
    return sum(charge.dollars for charge in charges)


def aspose_estimate() -> float:
    return ASPOSE_CALLS * ASPOSE_CALL


def statement() -> list[str]:
    """The cost, as the smoke states it before asking: each line, the total, and Aspose apart."""
    lines = ["Expected cost of this run on AWS (upper bounds):"]
    for charge in CHARGES:
        source = "" if charge.source == AWS_PRICES else f" [{charge.source}]"
        lines.append(f"  ${charge.dollars:.5f}  {charge.what}{source}")
    lines += [
        f"  ${aws_total():.5f}  in all: about {max(1, round(aws_total() * 100))} cents, less where "
        "the free tier applies",
        f"  Prices: {AWS_PRICES} (infra/ops/prices.py); monthly prices prorated by the hour, "
        "for a stack that lives under an hour.",
        f"  Aspose bills its own API calls: up to {ASPOSE_CALLS} on your Aspose plan (about "
        f"${aspose_estimate():.2f} at the benchmark's assumed ${ASPOSE_CALL} a call).",
    ]
    return lines
