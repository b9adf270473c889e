"""Lambda execution environments as AWS runs them: own environment, concurrency, warm reuse,
Timeout, MemorySize, crashes, reserved concurrency, init errors, logs, and injected faults."""

from __future__ import annotations

import json
import os
import threading
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from infra.local.cloud import LocalCloud, StackInfo
from infra.stack.waiting import wait_until
from tests.local_cloud.conftest import invoke, run_execution


def function(stack: StackInfo, logical_id: str) -> str:
    return stack.functions[logical_id]


def test_a_handler_sees_exactly_its_functions_environment(
    cloud: LocalCloud, mini_stack: StackInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a variable of this process that no function declares
    monkeypatch.setenv("ONLY_IN_THE_TEST_PROCESS", "must not leak")
    # When a function reports its environment
    name = function(mini_stack, "ProbeFunction")
    answer = invoke(cloud, name, {"tag": "env"})
    environ = answer["environ"]
    # Then it has the template's variables and Lambda's, and nothing else of this process
    assert environ["GREETING"] == "bonjour"
    assert environ["RESULTS_BUCKET"] == mini_stack.outputs["BucketName"]
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert environ["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert environ["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert environ["AWS_ENDPOINT_URL"] == cloud.endpoint
    assert "ONLY_IN_THE_TEST_PROCESS" not in environ
    assert "MOTO_PORT" not in environ
    assert answer["cwd"] == environ["LAMBDA_TASK_ROOT"]
    assert answer["pid"] != os.getpid()
    assert 0 < answer["remainingMs"] <= 2000  # its Timeout is 2 s


#: pytest itself names the running test phase in the environment.
_PYTEST_OWN = {"PYTEST_CURRENT_TEST", b"PYTEST_CURRENT_TEST"}


class EnvironmentGuard:
    """Records every change to this process's environment, from any thread, while active."""

    def __init__(self) -> None:
        self.changes: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        environ_type = type(os.environ)
        for method in ("__setitem__", "__delitem__"):
            original = getattr(environ_type, method)
            monkeypatch.setattr(environ_type, method, self._recording(method, original))

    def _recording(self, method: str, original: Callable[..., Any]) -> Callable[..., Any]:
        guard = self

        def recorded(environ: Any, key: Any, *value: Any) -> Any:
            if key not in _PYTEST_OWN:
                stack = "".join(traceback.format_stack(limit=6))
                thread = threading.current_thread().name
                guard.changes.append(f"{method}({key!r}) on {thread}\n{stack}")
            return original(environ, key, *value)

        return recorded


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> EnvironmentGuard:
    environment_guard = EnvironmentGuard()
    environment_guard.install(monkeypatch)  # undone by monkeypatch after the test
    return environment_guard


def test_the_guard_sees_a_change_from_any_thread(guard: EnvironmentGuard) -> None:
    # The guard below is only worth something if it catches a change made elsewhere.
    thread = threading.Thread(target=lambda: os.environ.update({"GUARD_SELF_TEST": "1"}))
    thread.start()
    thread.join()
    del os.environ["GUARD_SELF_TEST"]
    assert len(guard.changes) == 2


def test_invocations_never_change_this_processs_environment(
    cloud: LocalCloud, mini_stack: StackInfo, guard: EnvironmentGuard
) -> None:
    # When executions (Lambda tasks, a retried failure, putEvents) and direct invocations of
    # several functions run at the same time
    state_machine = mini_stack.outputs["StateMachineArn"]
    payloads = [{"waitSeconds": 0, "fail": i % 2 == 0, "name": f"n{i}"} for i in range(6)]
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(
            target=lambda p=p: results.append(run_execution(cloud, state_machine, json.dumps(p)))
        )
        for p in payloads
    ] + [
        threading.Thread(target=invoke, args=(cloud, function(mini_stack, name), {}))
        for name in ("ProbeFunction", "HoldFunction", "EchoFunction")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Then every execution succeeded and nothing, on any thread, touched os.environ
    assert [r["status"] for r in results] == ["SUCCEEDED"] * len(payloads)
    assert guard.changes == []


def test_invocations_of_one_function_and_of_different_functions_run_at_once(
    cloud: LocalCloud, mini_stack: StackInfo, tmp_path: Path
) -> None:
    # Given three invocations that each hold until a file exists: two of one function, one of
    # another
    release = tmp_path / "release"
    started = Path(str(release) + ".started")
    calls = [("HoldFunction", "a"), ("HoldFunction", "b"), ("SoloFunction", "c")]
    answers: list[dict[str, Any]] = []
    threads = [
        threading.Thread(
            target=lambda n=name, t=tag: answers.append(
                invoke(cloud, function(mini_stack, n), {"holdUntil": str(release), "tag": t})
            )
        )
        for name, tag in calls
    ]
    for thread in threads:
        thread.start()
    # Then all three are running before any is released (serialised invocations never would)
    running = wait_until(
        lambda: (started.exists() and len(started.read_text().splitlines()) == 3) or None,
        timeout=20,
        what="three invocations holding at once",
    )
    assert running
    release.touch()
    for thread in threads:
        thread.join(timeout=30)
    assert len({a["pid"] for a in answers}) == 3  # three execution environments


def test_a_warm_environment_is_reused(cloud: LocalCloud, mini_stack: StackInfo) -> None:
    name = function(mini_stack, "EchoFunction")
    first = invoke(cloud, function(mini_stack, "ProbeFunction"), {})
    second = invoke(cloud, function(mini_stack, "ProbeFunction"), {})
    assert (first["pid"], first["started"]) == (second["pid"], second["started"])
    assert first["requestId"] != second["requestId"]
    assert name  # the echo function is another function, with environments of its own


def test_reserved_concurrency_throttles_the_excess(
    cloud: LocalCloud, mini_stack: StackInfo, tmp_path: Path
) -> None:
    # Given the function with ReservedConcurrentExecutions 1, busy with one invocation
    solo = function(mini_stack, "SoloFunction")
    release = tmp_path / "release"
    holder = threading.Thread(target=invoke, args=(cloud, solo, {"holdUntil": str(release)}))
    holder.start()
    wait_until(lambda: Path(str(release) + ".started").exists(), timeout=20, what="the holder")
    # When a second invocation arrives (no SDK retries, to see the answer itself)
    client = cloud.client("lambda", config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(client.exceptions.TooManyRequestsException) as raised:
        client.invoke(FunctionName=solo, Payload=b"{}")
    release.touch()
    holder.join(timeout=30)
    # Then it is throttled as AWS does: HTTP 429, with the reason
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert "ReservedFunctionConcurrentInvocationLimitExceeded" in str(raised.value.response)


@pytest.mark.parametrize(
    "case",
    [
        ({"holdUntil": "never"}, "Sandbox.Timedout", "Task timed out after 2.00"),
        ({"exit": 3}, "Runtime.ExitError", "Runtime exited with error: exit status 3"),
        ({"allocateMb": 400}, "Runtime.OutOfMemory", "signal: killed"),
    ],
    ids=["timeout", "crash", "out-of-memory"],
)
def test_a_function_that_runs_too_long_dies_or_grows_too_big_fails_as_on_aws(
    cloud: LocalCloud,
    mini_stack: StackInfo,
    tmp_path: Path,
    case: tuple[dict[str, Any], str, str],
) -> None:
    event, error_type, message = case
    # Given the probe function: Timeout 2 s, MemorySize 128 MB
    name = function(mini_stack, "ProbeFunction")
    if "holdUntil" in event:
        event = {"holdUntil": str(tmp_path / event["holdUntil"])}  # a file nobody creates
    before = invoke(cloud, name, {})["pid"]
    # When an invocation outlives its Timeout, exits, or grows past its memory
    answer = invoke(cloud, name, event)
    # Then it fails with the error type Lambda reports, and its environment is discarded
    assert answer["FunctionError"]
    assert answer["errorType"] == error_type
    assert message in answer["errorMessage"]
    assert before not in cloud.runtime.worker_pids()
    assert invoke(cloud, name, {})["pid"] != before  # the next invocation starts cold


def test_a_handler_that_cannot_be_imported_fails_at_init(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    answer = invoke(cloud, function(mini_stack, "BrokenFunction"), {})
    assert answer["errorType"] == "Runtime.ImportModuleError"
    assert "mini_app.missing_module" in answer["errorMessage"]


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        ("lambda_timeout", "Sandbox.Timedout"),
        ("lambda_crash", "Runtime.ExitError"),
        ("lambda_oom", "Runtime.OutOfMemory"),
    ],
)
def test_injected_faults_hit_the_next_n_invocations_only(
    cloud: LocalCloud, mini_stack: StackInfo, fault: str, error_type: str
) -> None:
    # Given a fault armed for the next two invocations of the probe, by its logical id
    cloud.faults.inject(fault, target="ProbeFunction", times=2)
    name = function(mini_stack, "ProbeFunction")
    answers = [invoke(cloud, name, {}) for _ in range(3)]
    # Then exactly those two fail as AWS reports it, and the third runs normally
    assert [a.get("errorType") for a in answers] == [error_type, error_type, None]
    assert cloud.faults.armed() == []


def test_a_fault_with_match_hits_only_the_invocations_it_names(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    tag = uuid.uuid4().hex
    cloud.faults.inject("lambda_crash", target="ProbeFunction", match=tag)
    name = function(mini_stack, "ProbeFunction")
    assert "errorType" not in invoke(cloud, name, {"tag": "another"})
    assert invoke(cloud, name, {"tag": tag})["errorType"] == "Runtime.ExitError"


def test_what_a_handler_prints_reaches_its_log_group(
    cloud: LocalCloud, mini_stack: StackInfo
) -> None:
    # When a function prints during an invocation
    name = function(mini_stack, "ProbeFunction")
    tag = uuid.uuid4().hex
    request_id = invoke(cloud, name, {"tag": tag})["requestId"]
    cloud.flush_logs()
    # Then the line is in the function's log group, between START and END, followed by REPORT
    logs = cloud.client("logs")
    messages = [
        event["message"]
        for event in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    ]
    own = [m for m in messages if request_id in m or tag in m]
    assert own[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert json.loads(own[1]) == {"message": "probe invoked", "tag": tag}
    assert own[2] == f"END RequestId: {request_id}"
    assert own[3].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert "Memory Size: 128 MB" in own[3]
