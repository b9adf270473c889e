"""The AWS deployer: ``make build``, then ``sam deploy`` with the pinned SAM CLI into the account
and region boto3 resolves (profile or environment, as every AWS tool does).

``sam deploy`` uploads the artifacts to a bucket made for this run and deleted after it (its
``--resolve-s3`` would leave a managed stack and bucket behind), reads no ``samconfig.toml`` (the
project's asks to confirm each change set and resolves that bucket), and is given the stack's
parameters on its command line: none of them is a secret. The Aspose credentials go into the
stack's secret through the API afterwards, never through ``sam``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.build.artifacts import BUILT_TEMPLATE, ROOT
from infra.ops.smoke.cleanup import empty_bucket, error_code
from infra.ops.smoke.deployer import DeployError

#: The pinned SAM CLI ``make tools`` installs.
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND")
#: A tag on the stack (and so on every resource that takes tags): what to look for, should a run
#: ever be cut short before its cleanup.
TAG = "ocr-smoke"


def artifact_bucket(stack_name: str) -> str:
    """The bucket ``sam deploy`` uploads to for this run (a stack name is lower case here)."""
    return f"{stack_name.lower()}-artifacts"


def sam_deploy_command(
    sam: Path, stack_name: str, region: str, parameters: Mapping[str, str], config: Path
) -> list[str]:
    """``sam deploy`` of the built template, as a list of arguments (no shell in between)."""
    return [
        str(sam),
        "deploy",
        "--template-file",
        str(BUILT_TEMPLATE),
        "--stack-name",
        stack_name,
        "--region",
        region,
        "--s3-bucket",
        artifact_bucket(stack_name),
        "--s3-prefix",
        stack_name,
        "--capabilities",
        *CAPABILITIES,
        "--no-confirm-changeset",
        "--config-file",
        str(config),
        "--tags",
        f"{TAG}={stack_name}",
        "--parameter-overrides",
        *[f"{key}={value}" for key, value in parameters.items()],
    ]


class AwsDeployer:
    """Deploys into the account and region of ``session`` (a boto3 session)."""

    dry_run = False

    def __init__(self, session: Any, account: str, sam: Path = SAM) -> None:
        self._session = session
        self._account = account
        self._sam = sam
        self._bucket: str | None = None

    @property
    def description(self) -> str:
        return f"AWS account {self._account} ({self.region})"

    @property
    def region(self) -> str:
        return str(self._session.region_name)

    def client(self, service: str) -> Any:
        return self._session.client(service)

    def beside(self, stack_name: str) -> list[str]:
        return [
            f"an S3 bucket ({artifact_bucket(stack_name)}): what sam deploy uploads (the "
            "functions' code, the state machine)"
        ]

    def build(self) -> str:
        """``make build``: the pinned SAM CLI (installed if missing) and the runtime's Python."""
        completed = subprocess.run(["make", "build"], cwd=ROOT, check=False)  # noqa: S607
        if completed.returncode != 0:
            raise DeployError(f"make build failed (exit {completed.returncode}); see above")
        return f"make build: {BUILT_TEMPLATE.relative_to(ROOT)} and the functions' packages"

    def deploy(self, stack_name: str, parameters: Mapping[str, str]) -> None:
        self._make_bucket(artifact_bucket(stack_name))
        environment = {
            **os.environ,
            "SAM_CLI_TELEMETRY": "0",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }
        with tempfile.TemporaryDirectory(prefix="ocr-smoke-") as directory:
            config = Path(directory) / "samconfig.toml"
            config.write_text("version = 0.1\n", encoding="utf-8")
            command = sam_deploy_command(self._sam, stack_name, self.region, parameters, config)
            completed = subprocess.run(  # noqa: S603 - the pinned SAM CLI, no shell
                command, cwd=ROOT, env=environment, check=False
            )
        if completed.returncode != 0:
            raise DeployError(f"sam deploy failed (exit {completed.returncode}); see above")

    def discard(self) -> list[str]:
        """Empty and delete the artifact bucket, if this run made it."""
        if self._bucket is None:
            return []
        s3, bucket = self.client("s3"), self._bucket
        emptied = empty_bucket(s3, bucket)
        try:
            s3.delete_bucket(Bucket=bucket)
        except Exception as error:
            if error_code(error) not in ("NoSuchBucket", "404"):
                raise
        self._bucket = None
        return [f"artifact bucket {bucket}: {emptied} objects deleted, then the bucket"]

    def _make_bucket(self, bucket: str) -> None:
        s3 = self.client("s3")
        where = {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
        s3.create_bucket(Bucket=bucket, **({} if self.region == "us-east-1" else where))
        self._bucket = bucket
