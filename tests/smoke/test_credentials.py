"""Without AWS or Aspose credentials, ``make smoke`` prints one line naming exactly what is
missing and exits 0, before it reads anything else, and prints no credential it did find.

Each run is a fresh interpreter with a clean environment: no ``AWS_*`` variable and a ``HOME``
without ``~/.aws``, so boto3's own chain finds what a user's machine would offer, here nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY_ID, SECRET_KEY = "AKIAEXAMPLEEXAMPLE12", "example-secret-access-key-never-shown"
ASPOSE_ID, ASPOSE_SECRET = "aspose-client-id-example", "aspose-secret-never-shown"


def clean_environment(home: Path, **extra: str) -> dict[str, str]:
    """The process's environment without any AWS or Aspose variable, ``HOME`` empty."""
    kept = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "ASPOSE_")) and k not in ("YES", "HOME")
    }
    return {**kept, "HOME": str(home), **extra}


def smoke(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "infra.ops.smoke", "--sample", str(home / "absent"), *args],
        cwd=ROOT,
        env=clean_environment(home, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    directory = tmp_path / "home"
    directory.mkdir()
    return directory


def test_with_nothing_it_names_all_four_and_exits_0(home: Path) -> None:
    ran = smoke(home)
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == ""
    lines = ran.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("make smoke: skipped, nothing deployed: missing AWS credentials")
    for missing in ("an AWS region", "ASPOSE_CLIENT_ID", "ASPOSE_CLIENT_SECRET"):
        assert missing in lines[0]


def test_with_aws_only_it_names_the_aspose_variables(home: Path) -> None:
    ran = smoke(
        home,
        AWS_ACCESS_KEY_ID=KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION="eu-west-1",
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == (
        "make smoke: skipped, nothing deployed: missing ASPOSE_CLIENT_ID; ASPOSE_CLIENT_SECRET. "
        "See README.md, Prove it on your account.\n"
    )
    assert KEY_ID not in ran.stdout + ran.stderr
    assert SECRET_KEY not in ran.stdout + ran.stderr


def test_with_aspose_only_it_names_aws(home: Path) -> None:
    ran = smoke(home, ASPOSE_CLIENT_ID=ASPOSE_ID, ASPOSE_CLIENT_SECRET=ASPOSE_SECRET)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.count("\n") == 1
    assert "missing AWS credentials" in ran.stdout
    assert "an AWS region" in ran.stdout
    assert "ASPOSE" not in ran.stdout
    assert ASPOSE_SECRET not in ran.stdout + ran.stderr


def test_a_region_alone_is_named(home: Path) -> None:
    ran = smoke(
        home,
        AWS_ACCESS_KEY_ID=KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        ASPOSE_CLIENT_ID=ASPOSE_ID,
        ASPOSE_CLIENT_SECRET=ASPOSE_SECRET,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == (
        "make smoke: skipped, nothing deployed: missing an AWS region (AWS_DEFAULT_REGION, or the "
        "profile's region). See README.md, Prove it on your account.\n"
    )


def test_a_profile_that_does_not_exist_is_named(home: Path) -> None:
    ran = smoke(home, AWS_PROFILE="no-such-profile", AWS_DEFAULT_REGION="eu-west-1")
    assert ran.returncode == 0, ran.stderr
    assert "the AWS profile 'no-such-profile' (not found)" in ran.stdout


def test_make_smoke_says_the_same_one_line(home: Path) -> None:
    environment = clean_environment(home)
    ran = subprocess.run(
        ["make", "--no-print-directory", "smoke"],  # noqa: S607 - make on PATH, as a user runs it
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("make smoke: skipped, nothing deployed: missing AWS credentials")
    assert ran.stdout.count("\n") == 1


def test_credentials_sts_cannot_confirm_stop_it_before_anything_is_made(
    home: Path, sample_stem: Path
) -> None:
    # Found, but not confirmed by STS (here: nothing listens where AWS is said to be)
    ran = subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "infra.ops.smoke", "--sample", str(sample_stem)],
        cwd=ROOT,
        env=clean_environment(
            home,
            AWS_ACCESS_KEY_ID=KEY_ID,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION="eu-west-1",
            AWS_ENDPOINT_URL="http://127.0.0.1:9",
            AWS_MAX_ATTEMPTS="1",
            ASPOSE_CLIENT_ID=ASPOSE_ID,
            ASPOSE_CLIENT_SECRET=ASPOSE_SECRET,
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 1, ran.stderr
    assert ran.stdout.startswith(
        "make smoke: nothing deployed: the AWS credentials could not be confirmed with STS"
    )
    assert ran.stdout.count("\n") == 1
    for secret in (SECRET_KEY, ASPOSE_SECRET):
        assert secret not in ran.stdout + ran.stderr
