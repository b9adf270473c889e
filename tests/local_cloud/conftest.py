"""One local cloud with the fixture stack per module: a deployment takes about two seconds."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from infra.local_cloud import LocalCloud, StackInfo

FIXTURES = Path(__file__).parent / "fixtures"
MINI_TEMPLATE = FIXTURES / "mini" / "template.yaml"
MINI_SECRET = {"clientId": "fixture-client", "clientSecret": "fixture-secret"}

T = TypeVar("T")


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud() as local_cloud:
        yield local_cloud


@pytest.fixture(scope="module")
def mini_stack(cloud: LocalCloud) -> StackInfo:
    return cloud.deploy(
        MINI_TEMPLATE,
        parameters={"Greeting": "bonjour"},
        secrets={"Credentials": MINI_SECRET},
        stack_name="mini",
    )


def wait_until(probe: Callable[[], T | None], timeout: float = 15.0) -> T:
    """The probe's first truthy answer; fails the test when the deadline passes first."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(0.1)


def run_execution(cloud: LocalCloud, state_machine_arn: str, payload: str) -> dict[str, Any]:
    sfn = cloud.client("stepfunctions")
    # Always name executions: moto 5.2.5 treats every unnamed one as the same name ("None").
    started = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=str(uuid.uuid4()), input=payload
    )
    return cloud.wait_for_execution(started["executionArn"], timeout=30)
