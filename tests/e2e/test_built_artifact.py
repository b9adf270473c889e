"""The built artifact runs: ``.aws-sam/build`` (what AWS would receive) deployed into the local
cloud, every function in the runtime's Python with only its artifact and the runtime's boto3 on
its path. A dependency missing from functions/requirements.txt, a module that needs the dev
environment, or code the runtime's Python or boto3 cannot run fails here, not in a deployment."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.build.artifacts import BUILT_TEMPLATE, BuildError, built_artifacts
from infra.local.cloud import RuntimeOptions
from infra.local.emulator import Timing
from infra.local.samples import registration_form
from infra.stack.waiting import wait_until
from tests.support.local_stack import LocalStack, local_stack
from tests.support.runtime import RUNTIME_SITE, runtime_interpreter

pytestmark = pytest.mark.slow

FORM = registration_form()


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    try:
        runtime, _ = built_artifacts()
    except BuildError as error:
        pytest.fail(f"{error} (make test builds first; pytest alone does not)")
    options = RuntimeOptions(interpreter=runtime_interpreter(runtime))
    timing = Timing(queue_delay_s=1.0, per_region_s=0.05)
    with local_stack(template=BUILT_TEMPLATE, runtime=options, timing=timing) as running:
        yield running


def test_a_task_completes_with_every_region_stored(stack: LocalStack) -> None:
    task = stack.submit(FORM)
    stack.session.announce(task, list(FORM.region_names))
    outcome = stack.outcome(task)
    assert outcome.status == "Completed", outcome.item
    manifest = stack.session.manifest(task)
    assert manifest is not None
    stored = {region["name"]: region for region in manifest["regions"]}
    assert set(stored) == set(FORM.region_names)
    for name, region in stored.items():
        body, content_type = stack.session.read_object(region["s3Key"])
        assert body.decode("utf-8").strip(), name
        assert content_type.startswith("text/plain")


def test_a_malformed_submission_is_dead_lettered_with_its_reason(stack: LocalStack) -> None:
    stack.session.announce_detail({"taskId": "not-a-task-id"})
    letters = wait_until(stack.session.dead_letters, timeout=60, what="the dead letter")
    assert [letter.reason for letter in letters] == [letters[0].reason]
    assert "taskId" in str(letters[0].reason)


def test_a_task_aspose_does_not_know_is_recorded_not_found(stack: LocalStack) -> None:
    task = str(uuid.uuid4())
    stack.session.announce(task)
    assert stack.outcome(task).status == "NotFound"


def test_every_function_ran_in_the_runtimes_python_alone(stack: LocalStack) -> None:
    ran = {invocation.function_name for invocation in stack.cloud.runtime.invocations}
    assert set(stack.stack.functions.values()) <= ran
    runtime, _ = built_artifacts()
    executable = runtime_interpreter(runtime).executable
    for pid in stack.cloud.runtime.worker_pids():
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert command[0].decode() == executable
        assert b"-S" in command  # no site-packages but the runtime's boto3
        assert str(RUNTIME_SITE).encode() in command
