"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest

from infra.local_cloud.lambda_worker import LambdaContext


@pytest.fixture
def lambda_context() -> LambdaContext:
    """The context object Lambda's Python runtime passes, as the local runtime builds it."""
    return LambdaContext()
