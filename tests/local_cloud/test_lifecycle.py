"""Starting and stopping the local cloud leaves this process as it found it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from moto.awslambda.models import LambdaFunction

from infra.local_cloud import LocalCloud


def test_stop_restores_environment_and_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone-real")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    original = LambdaFunction.__dict__["_invoke_lambda"]

    with LocalCloud() as cloud:
        assert os.environ["AWS_ENDPOINT_URL"] == cloud.endpoint
        assert os.environ["MOTO_PORT"] == str(cloud.port)
        assert "AWS_PROFILE" not in os.environ  # a real account can never be reached
        assert LambdaFunction.__dict__["_invoke_lambda"] is not original
        assert cloud.client("sts").get_caller_identity()["Account"] == "123456789012"

    assert "AWS_ENDPOINT_URL" not in os.environ
    assert os.environ["AWS_PROFILE"] == "someone-real"
    assert LambdaFunction.__dict__["_invoke_lambda"] is original


def test_deploy_needs_a_started_cloud(tmp_path: object) -> None:
    with pytest.raises(RuntimeError, match="not started"):
        LocalCloud().deploy(__file__)  # type: ignore[arg-type]


def test_only_one_cloud_runs_at_a_time() -> None:
    with LocalCloud(), pytest.raises(RuntimeError, match="another LocalCloud"):
        LocalCloud().start()


def test_redeploying_replaces_the_stack_and_its_local_additions() -> None:
    template = Path(__file__).parent / "fixtures" / "mini" / "template.yaml"
    with LocalCloud() as cloud:
        first = cloud.deploy(template, stack_name="mini")
        second = cloud.deploy(template, parameters={"Greeting": "again"}, stack_name="mini")

        sfn = cloud.client("stepfunctions")
        names = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]
        assert names == [second.outputs["StateMachineArn"]]
        secrets = cloud.client("secretsmanager").list_secrets()["SecretList"]
        assert [s["ARN"] for s in secrets] == [second.secrets["Credentials"]]
        assert first.outputs["StateMachineArn"] != second.outputs["StateMachineArn"]
