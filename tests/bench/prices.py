"""AWS list prices (us-east-1, 2026) the benchmarks and the capacity plan use, stated once so the
arithmetic can be checked and redone."""

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
