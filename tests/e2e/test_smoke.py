"""``make smoke`` proven here, where there is no account: its dry run goes through every step,
check and the cleanup on the local cloud and reports it; interrupted half-way it still deletes
its stack; and ``sam deploy`` takes the AWS deployer's command line, uploading to the run's own
bucket, which the deployer then deletes.

What is not proven here, for want of an AWS and an Aspose account: CloudFormation creating and
deleting the stack, IAM, the alarms' evaluation, Aspose's real answers (see the README)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.build.artifacts import BUILT_TEMPLATE
from infra.local.cloud import LocalCloud
from infra.local.emulator.config import DEFAULT_CLIENT_SECRET
from infra.local.samples import write_samples
from infra.ops.smoke.aws import SAM, AwsDeployer, artifact_bucket
from infra.ops.smoke.cleanup import delete_stack
from infra.ops.smoke.deployer import DeployError
from infra.ops.smoke.plan import PARAMETERS, stack_name

ROOT = Path(__file__).resolve().parents[2]
STEPS = [
    "build",
    "deploy",
    "stack outputs",
    "secret",
    "consumer",
    "submit",
    "outcome",
    "alarm watch",
]


def read_report(path: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report


@pytest.mark.slow
def test_the_dry_run_passes_every_step_check_and_cleanup(tmp_path: Path) -> None:
    # Given no account at all, when `make smoke DRY_RUN=1` runs
    report_file = tmp_path / "report.json"
    ran = subprocess.run(  # noqa: S603 - make on PATH, as a user runs it
        ["make", "--no-print-directory", "smoke", "DRY_RUN=1", f"REPORT={report_file}"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    # Then it passes, says it was a dry run, and every step, check and cleanup is in its report
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    report = read_report(report_file)
    assert report["passed"] is True
    assert report["dryRun"] is True
    assert report["deleted"] is True
    assert [(s["name"], s["ok"]) for s in report["steps"]] == [(s, True) for s in STEPS]
    assert [(c["name"], c["status"]) for c in report["checks"]] == [
        ("regions", "passed"),
        ("item", "passed"),
        ("outcome event", "passed"),
        ("alarms", "passed"),
    ]
    assert report["checks"][0]["lines"][0] == "5 of 5 named regions decoded"
    cleanup = {step["name"]: step for step in report["cleanup"]}
    assert list(cleanup) == ["consumer", "stack", "leftovers", "deployer"]
    assert all(step["ok"] for step in cleanup.values())
    assert cleanup["stack"]["detail"].startswith("DELETE_COMPLETE")
    # And the statement and the cost came before anything was deployed
    out = ran.stdout
    assert out.index("It creates ") < out.index("Expected cost") < out.index("-- deploy")
    assert "DataDeletionPolicy=Delete" in out
    assert "\nDRY RUN in the local cloud" in out
    assert out.rstrip().endswith("s")  # the total time closes the report
    # And the (local) Aspose secret was never shown
    assert DEFAULT_CLIENT_SECRET not in out + ran.stderr


@pytest.mark.slow
def test_an_interrupted_dry_run_still_deletes_its_stack(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    write_samples(samples)
    report_file = tmp_path / "report.json"
    command = [sys.executable, "-m", "infra.local.smoke", "--sample", str(samples / "id_card")]
    process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
        [*command, "--json-report", str(report_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    try:
        for line in process.stdout:  # Ctrl-C while it waits for the outcome
            seen.append(line)
            if line.startswith("-- outcome"):
                time.sleep(0.5)
                process.send_signal(signal.SIGINT)
                break
        rest, _ = process.communicate(timeout=200)
    finally:
        if process.poll() is None:
            process.kill()
    output = "".join(seen) + rest
    assert process.returncode == 130, output[-3000:]
    report = read_report(report_file)
    assert report["interrupted"] is True
    assert report["deleted"] is True
    assert report["passed"] is False
    stack = next(step for step in report["cleanup"] if step["name"] == "stack")
    assert stack["detail"].startswith("DELETE_COMPLETE")
    assert "Interrupted: deleting the stack before stopping." in output


@pytest.mark.slow
@pytest.mark.skipif(
    not (SAM.exists() and BUILT_TEMPLATE.exists()), reason="needs make tools and make build"
)
def test_sam_deploy_takes_the_aws_deployers_command_line() -> None:
    # The pinned SAM CLI, pointed at the local cloud by AWS_ENDPOINT_URL, with the smoke's own
    # arguments: it reads them, uploads the artifacts to the run's bucket and asks CloudFormation
    # for a change set, which moto cannot build from an uploaded template; the deployer then
    # empties and deletes its bucket.
    name = stack_name()
    with LocalCloud() as cloud:
        assert os.environ["AWS_ENDPOINT_URL"] == cloud.endpoint
        deployer = AwsDeployer(boto3.session.Session(region_name=cloud.region), "123456789012")
        s3 = cloud.client("s3")
        uploaded: list[str] = []
        failure = None
        try:
            deployer.deploy(name, PARAMETERS)
        except DeployError as error:
            failure = str(error)
        finally:
            listing = s3.list_objects_v2(Bucket=artifact_bucket(name))
            uploaded = [obj["Key"] for obj in listing.get("Contents", [])]
            delete_stack(cloud.client, name)
            said = deployer.discard()
        buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert failure is None or failure.startswith("sam deploy failed")
    assert any(key.endswith(".template") for key in uploaded), uploaded
    assert all(key.startswith(f"{name}/") for key in uploaded)
    assert len(uploaded) >= 3  # the functions' package, the definition, the template
    assert said == [
        f"artifact bucket {artifact_bucket(name)}: {len(uploaded)} objects deleted, then the bucket"
    ]
    assert artifact_bucket(name) not in buckets
