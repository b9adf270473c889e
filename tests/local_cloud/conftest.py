"""One local cloud with the fixture stack per module: a deployment takes about two seconds.

The fixture stack (``fixtures/mini``) is not the product: it exercises what the local cloud must
emulate (environments, errors, queues, limits), so these tests drive it with plain AWS clients.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.cloud import LocalCloud, StackInfo
from infra.stack.waiting import wait_until

FIXTURES = Path(__file__).parent / "fixtures"
MINI_TEMPLATE = FIXTURES / "mini" / "template.yaml"
MINI_SECRET = {"clientId": "fixture-client", "clientSecret": "fixture-secret"}


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


def run_execution(cloud: LocalCloud, state_machine_arn: str, payload: str) -> dict[str, Any]:
    """Start an execution of the fixture state machine and return it once it has ended."""
    sfn = cloud.client("stepfunctions")
    # Always name executions: moto 5.2.5 treats every unnamed one as the same name ("None").
    arn = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=str(uuid.uuid4()), input=payload
    )["executionArn"]

    def ended() -> dict[str, Any] | None:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        return described if described["status"] != "RUNNING" else None

    return wait_until(ended, timeout=30, what=f"execution {arn} to end")


def invoke(cloud: LocalCloud, function_name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Invoke a function synchronously; its payload, with ``FunctionError`` when it failed."""
    answer = cloud.client("lambda").invoke(
        FunctionName=function_name, Payload=json.dumps(event).encode()
    )
    payload: dict[str, Any] = json.loads(answer["Payload"].read() or b"null") or {}
    if "FunctionError" in answer:
        payload["FunctionError"] = answer["FunctionError"]
    return payload
