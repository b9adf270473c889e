"""What the AWS deployer asks ``sam deploy`` for: the built template under the run's own stack
name, an upload bucket of its own (never SAM's managed one, which would stay behind), no
``samconfig.toml`` (the project's asks to confirm each change set), the parameters that make the
stack delete its data, and nothing secret. ``tests/e2e/test_smoke.py`` runs this command line
with the pinned SAM CLI against the local cloud."""

from __future__ import annotations

from pathlib import Path

from infra.build.artifacts import BUILT_TEMPLATE
from infra.ops.smoke.aws import SAM, artifact_bucket, sam_deploy_command
from infra.ops.smoke.plan import PARAMETERS, stack_name


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_sam_deploy_gets_the_built_template_its_bucket_and_no_config() -> None:
    name = stack_name()
    config = Path("/tmp/empty/samconfig.toml")
    command = sam_deploy_command(SAM, name, "eu-west-1", PARAMETERS, config)
    assert command[:2] == [str(SAM), "deploy"]
    assert option(command, "--template-file") == str(BUILT_TEMPLATE)
    assert option(command, "--stack-name") == name
    assert option(command, "--region") == "eu-west-1"
    assert option(command, "--s3-bucket") == artifact_bucket(name)
    assert option(command, "--config-file") == str(config)
    assert "--resolve-s3" not in command
    assert "--no-confirm-changeset" in command
    capabilities = command[
        command.index("--capabilities") + 1 : command.index("--capabilities") + 3
    ]
    assert capabilities == ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    overrides = command[command.index("--parameter-overrides") + 1 :]
    assert "DataDeletionPolicy=Delete" in overrides
    assert len(overrides) == len(PARAMETERS)
    assert not any("secret" in part.lower() or "ASPOSE" in part for part in command)
