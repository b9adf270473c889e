"""Fixtures shared by every test folder."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from infra.local.cloud.lambda_worker import LambdaContext


@pytest.fixture
def lambda_context() -> LambdaContext:
    """The context object Lambda's Python runtime passes, as the local runtime builds it."""
    return LambdaContext()


@pytest.fixture
def product_logs(caplog: pytest.LogCaptureFixture) -> Callable[[], list[dict[str, Any]]]:
    """The product logger's lines so far, each as Lambda receives it (its own JSON formatter).

    The logger writes to the stdout it found when first imported (pytest's, at collection), which
    ``capsys`` does not see; its records reach ``caplog`` and are formatted here as they would be.
    """
    from ocr_fetch.observability import logger

    caplog.set_level(logging.DEBUG, logger=logger.name)

    def lines() -> list[dict[str, Any]]:
        formatter = logger.registered_formatter
        return [
            json.loads(formatter.format(record))
            for record in caplog.records
            if record.name == logger.name
        ]

    return lines
