"""Starting and stopping the local cloud leaves this process, and the machine, as it found them:
the environment restored, moto unpatched, and no Lambda worker process left behind, whether the
cloud stops normally, on Ctrl-C, or because its process was killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local.cloud import LocalCloud, moto_internals, parameter_overrides
from infra.local.cloud.deployer import UnknownParameters
from infra.stack.state_file import LocalState
from infra.stack.waiting import wait_until
from tests.local_cloud.conftest import MINI_TEMPLATE, invoke

ROOT = Path(__file__).resolve().parents[2]


def workers_of(parent: int) -> set[int]:
    """Lambda worker processes started by process ``parent`` that are still alive."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        if state == "Z":
            continue  # reaped soon; it runs nothing
        if any(a.endswith(b"lambda_worker.py") for a in argv) and (
            b"--parent" in argv and argv[argv.index(b"--parent") + 1] == str(parent).encode()
        ):
            found.add(int(entry.name))
    return found


def test_stop_restores_environment_and_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone-real")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with LocalCloud() as cloud:
        assert os.environ["AWS_ENDPOINT_URL"] == cloud.endpoint
        assert os.environ["MOTO_PORT"] == str(cloud.port)
        assert "AWS_PROFILE" not in os.environ  # a real account can never be reached
        assert moto_internals.lambda_invoker_installed()
        assert cloud.client("sts").get_caller_identity()["Account"] == "123456789012"

    assert "AWS_ENDPOINT_URL" not in os.environ
    assert os.environ["AWS_PROFILE"] == "someone-real"
    assert not moto_internals.lambda_invoker_installed()


def test_deploy_needs_a_started_cloud() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        LocalCloud().deploy(MINI_TEMPLATE)


def test_only_one_cloud_runs_at_a_time() -> None:
    with LocalCloud(), pytest.raises(RuntimeError, match="another LocalCloud"):
        LocalCloud().start()


def test_redeploying_replaces_the_stack_its_local_additions_and_its_environments() -> None:
    with LocalCloud() as cloud:
        first = cloud.deploy(MINI_TEMPLATE, stack_name="mini")
        warm = invoke(cloud, first.functions["ProbeFunction"], {})["pid"]
        second = cloud.deploy(MINI_TEMPLATE, parameters={"Greeting": "again"}, stack_name="mini")

        sfn = cloud.client("stepfunctions")
        names = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]
        assert names == [second.outputs["StateMachineArn"]]
        secrets = cloud.client("secretsmanager").list_secrets(IncludePlannedDeletion=True)
        assert sorted(s["ARN"] for s in secrets["SecretList"]) == sorted(second.secrets.values())
        assert first.outputs["StateMachineArn"] != second.outputs["StateMachineArn"]
        # A new deployment means new execution environments, with the new configuration.
        answer = invoke(cloud, second.functions["ProbeFunction"], {})
        assert answer["pid"] != warm
        assert answer["environ"]["GREETING"] == "again"


def test_deleting_the_stack_deletes_its_versions_aliases_and_secrets() -> None:
    with LocalCloud() as cloud:
        stack = cloud.deploy(MINI_TEMPLATE, stack_name="mini")
        echo = stack.functions["EchoFunction"]
        lambda_client = cloud.client("lambda")
        assert lambda_client.get_alias(FunctionName=echo, Name="live")["FunctionVersion"] == "1"
        # When the stack is deleted
        cfn = cloud.client("cloudformation")
        cfn.delete_stack(StackName="mini")
        wait_until(
            lambda: (
                cfn.describe_stacks(StackName=stack.stack_id)["Stacks"][0]["StackStatus"]
                == "DELETE_COMPLETE"
            ),
            timeout=30,
            what="the stack's deletion",
        )
        # Then its functions, their versions and aliases, and its secrets are gone for good
        with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
            lambda_client.get_alias(FunctionName=echo, Name="live")
        assert lambda_client.list_versions_by_function(FunctionName=echo)["Versions"] == []
        secrets = cloud.client("secretsmanager").list_secrets(IncludePlannedDeletion=True)
        assert secrets["SecretList"] == []
        assert lambda_client.list_event_source_mappings()["EventSourceMappings"] == []


def test_stop_leaves_no_worker_behind() -> None:
    with LocalCloud() as cloud:
        stack = cloud.deploy(MINI_TEMPLATE, stack_name="mini")
        invoke(cloud, stack.functions["ProbeFunction"], {})
        invoke(cloud, stack.functions["EchoFunction"], {})
        assert len(workers_of(os.getpid())) >= 2
    assert workers_of(os.getpid()) == set()


def start_make_local(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """``make local`` with the fixture stack (and ``extra`` arguments), as a user runs it; its
    state once deployed."""
    state_file = tmp_path / "stack.json"
    process = subprocess.Popen(  # noqa: S603 - this repository's own module
        [
            sys.executable,
            "-m",
            "infra.local.cloud",
            "--template",
            str(MINI_TEMPLATE),
            "--stack-name",
            "mini",
            "--no-emulator",
            "--port",
            "0",
            "--state-file",
            str(state_file),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(state_file.exists, timeout=60, what="make local to write its state")
    state: dict[str, Any] = json.loads(state_file.read_text())
    return process, state


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "killed"])
def test_a_stopped_or_killed_local_cloud_leaves_no_worker_behind(
    tmp_path: Path, stop: signal.Signals
) -> None:
    # Given `make local` running, with warm execution environments
    process, state = start_make_local(tmp_path)
    try:
        lambda_client = boto3.client(
            "lambda",
            endpoint_url=str(state["awsEndpoint"]),
            region_name=str(state["region"]),
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        functions = state["stack"]["functions"]
        lambda_client.invoke(FunctionName=functions["ProbeFunction"], Payload=b"{}")
        assert workers_of(process.pid)
        # When it gets Ctrl-C, or is killed outright
        process.send_signal(stop)
        process.wait(timeout=30)
        # Then none of its workers outlives it
        wait_until(lambda: not workers_of(process.pid), timeout=10, what="the workers to be gone")
    finally:
        if process.poll() is None:
            process.kill()


def test_make_local_passes_each_override_through() -> None:
    # A dry run of this repository's Makefile: the command `make local PARAMS=...` would run.
    ran = subprocess.run(
        # --no-print-directory: under `make test` (MAKELEVEL set) make would print where it is.
        [  # noqa: S607
            "make",
            "--no-print-directory",
            "-n",
            "local",
            "PARAMS=AsposeCallsPerSecond=4 BreakerProbeSeconds=2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    command = ran.stdout.strip().splitlines()[-1]
    assert command.endswith(
        "-m infra.local.cloud --parameter AsposeCallsPerSecond=4 --parameter BreakerProbeSeconds=2"
    )


def test_overrides_are_name_value_items() -> None:
    assert parameter_overrides(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    for bad in ("A", "=1", " =1"):
        with pytest.raises(ValueError, match="Name=Value"):
            parameter_overrides([bad])


def test_a_parameter_the_template_does_not_declare_is_refused() -> None:
    # CloudFormation refuses it; moto would ignore it, and a misspelt override would deploy as
    # if it had not been given.
    with LocalCloud() as cloud, pytest.raises(UnknownParameters, match="Greting"):
        cloud.deploy(MINI_TEMPLATE, parameters={"Greting": "hi"}, stack_name="mini")


def test_make_local_records_the_parameters_in_force(tmp_path: Path) -> None:
    # Given `make local` with one override
    process, state = start_make_local(tmp_path, "--parameter", "Greeting=bonjour")
    try:
        # Then the state file records every parameter in force: the override, and the
        # template's defaults for the rest
        assert state["parameters"]["Greeting"] == "bonjour"
        assert state["parameters"]["EventBusName"] == "mini-bus"
        # And the stack client knows them, as it knows a deployed stack's
        assert LocalState.from_json(state).parameters == state["parameters"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
