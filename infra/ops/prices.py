"""AWS list prices (us-east-1, 2026), stated once for every figure that costs something: the
smoke run's plan (:mod:`infra.ops.smoke.cost`), the benchmarks and the capacity plan; and the one
price Aspose does not list, as an assumption."""

from __future__ import annotations

TRANSITION = 0.025 / 1000  # Step Functions Standard, per state transition
LAMBDA_REQUEST = 0.20 / 1_000_000
LAMBDA_GB_SECOND = 0.0000133334  # arm64
S3_PUT = 0.005 / 1000
S3_GET = 0.0004 / 1000
DDB_WRITE = 0.625 / 1_000_000  # on-demand write request unit
DDB_READ = 0.125 / 1_000_000  # on-demand read request unit
EVENTS = 1.00 / 1_000_000  # EventBridge custom events
SQS_REQUEST = 0.40 / 1_000_000
LOGS_INGESTED_GB = 0.50

#: Aspose.OCR Cloud, per API call: an ASSUMPTION, not a list price. Aspose publishes plans, not
#: a per-call rate for this volume; public material puts a paid call near $0.02-0.03 (the
#: pay-as-you-go tiers at purchase.aspose.cloud/pricing; one customer's invoice of 7,002 calls
#: for $171.30 on forum.aspose.cloud). The capacity plan takes it as a parameter.
ASPOSE_CALL = 0.025
