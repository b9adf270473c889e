"""The boto3 clients every handler makes, configured once.

Standard retries (three attempts, jittered backoff capped at 20 s), not boto3's legacy default,
which for DynamoDB makes ten attempts over about 25 s: a call that keeps failing should reach the
state machine's own Retry, which waits longer between tries and records each in the history.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})


def client(service: str) -> Any:
    """A boto3 client for ``service`` with the product's retry configuration."""
    return boto3.client(service, config=_CONFIG)
