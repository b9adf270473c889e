"""What ``make build`` produced is what AWS should receive: small, for the right machine, complete,
and current. ``make test`` builds first (``.aws-sam/build`` is a prerequisite of the tests)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from infra.build.artifacts import (
    MAX_ARTIFACT_BYTES,
    TEMPLATE,
    Artifact,
    BuildError,
    Runtime,
    built_artifacts,
    find_python,
    foreign_binaries,
    runtime_python,
    template_runtime,
)
from infra.build.packaging import load_template
from tests.support.runtime import RUNTIME_SITE, handler_modules, runtime_interpreter

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "functions" / "ocr_fetch"


@pytest.fixture(scope="module")
def build() -> tuple[Runtime, list[Artifact]]:
    try:
        return built_artifacts()
    except BuildError as error:
        pytest.fail(f"{error} (make test builds first; pytest alone does not)")


def test_every_function_is_built_for_the_templates_runtime(
    build: tuple[Runtime, list[Artifact]],
) -> None:
    runtime, artifacts = build
    assert runtime == template_runtime(load_template(TEMPLATE))
    declared = {
        logical_id
        for logical_id, resource in load_template(TEMPLATE)["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert {artifact.logical_id for artifact in artifacts} == declared


def test_each_artifact_fits_the_size_budget(build: tuple[Runtime, list[Artifact]]) -> None:
    _, artifacts = build
    sizes = {artifact.logical_id: artifact.zipped_bytes for artifact in artifacts}
    assert all(0 < size <= MAX_ARTIFACT_BYTES for size in sizes.values()), sizes


def test_no_artifact_ships_what_the_runtime_provides(
    build: tuple[Runtime, list[Artifact]],
) -> None:
    _, artifacts = build
    for artifact in artifacts:
        shipped = {path.name for path in artifact.directory.iterdir()}
        assert not {"boto3", "botocore", "s3transfer", "aws_xray_sdk"} & shipped, artifact


def test_no_artifact_holds_a_binary_for_another_machine(
    build: tuple[Runtime, list[Artifact]],
) -> None:
    _, artifacts = build
    assert [artifact.foreign_binaries for artifact in artifacts] == [()] * len(artifacts)


def test_the_build_is_of_the_current_sources(build: tuple[Runtime, list[Artifact]]) -> None:
    # A stale build would test yesterday's code: every artifact holds exactly today's package.
    _, artifacts = build
    expected = _package_files(PACKAGE)
    for artifact in artifacts:
        assert _package_files(artifact.directory / "ocr_fetch") == expected, (
            f"{artifact.logical_id} is stale: run make build"
        )


def test_every_handler_imports_from_the_artifact_alone(
    build: tuple[Runtime, list[Artifact]],
) -> None:
    # The runtime's Python with only the artifact and the runtime's boto3 on its path, as Lambda
    # runs it: a dependency missing from functions/requirements.txt fails here, not in AWS.
    runtime, artifacts = build
    for artifact in artifacts:
        result = _import_handlers(runtime, artifact.directory)
        assert result.returncode == 0, result.stderr


def test_an_artifact_missing_a_dependency_fails_to_import(
    build: tuple[Runtime, list[Artifact]], tmp_path: Path
) -> None:
    # Given a copy of an artifact without requests (as if requirements.txt had lost it)
    runtime, artifacts = build
    broken = tmp_path / "artifact"
    shutil.copytree(artifacts[0].directory, broken)
    shutil.rmtree(broken / "requests")
    # Then the same check fails, naming the missing module
    result = _import_handlers(runtime, broken)
    assert result.returncode != 0
    assert "No module named 'requests'" in result.stderr


def _import_handlers(runtime: Runtime, directory: Path) -> subprocess.CompletedProcess[str]:
    interpreter = runtime_interpreter(runtime)
    code = (
        "import sys\n"
        f"sys.path[:0] = [{str(directory)!r}, {str(RUNTIME_SITE)!r}]\n"
        + "".join(f"import {module}\n" for module in handler_modules())
        + "import boto3, botocore\n"
        f"assert boto3.__file__.startswith({str(RUNTIME_SITE)!r}), boto3.__file__\n"
    )
    return subprocess.run(  # noqa: S603 - the runtime's interpreter on our own code
        [*interpreter.command(), "-c", code],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _package_files(directory: Path) -> dict[str, bytes]:
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in directory.rglob("*.py")
        if "__pycache__" not in path.parts
    }


# -- the checks themselves -----------------------------------------------------------------------
ARM = Runtime("python3.13", "arm64")


def _elf(machine: int) -> bytes:
    return b"\x7fELF" + bytes(14) + machine.to_bytes(2, "little") + bytes(40)


def test_foreign_binaries_names_each_wrong_machine_or_python(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "fast.cpython-313-aarch64-linux-gnu.so").write_bytes(_elf(183))
    (tmp_path / "pkg" / "stable.abi3.so").write_bytes(_elf(183))
    (tmp_path / "pkg" / "x86.cpython-313-x86_64-linux-gnu.so").write_bytes(_elf(62))
    (tmp_path / "pkg" / "old.cpython-312-aarch64-linux-gnu.so").write_bytes(_elf(183))
    (tmp_path / "pkg" / "helper").write_bytes(_elf(62))
    (tmp_path / "pkg" / "module.py").write_text("x = 1\n")
    assert foreign_binaries(tmp_path, ARM) == [
        "pkg/helper is built for ELF machine 62, not arm64",
        "pkg/old.cpython-312-aarch64-linux-gnu.so is built for CPython 312, not python3.13",
        "pkg/x86.cpython-313-x86_64-linux-gnu.so is built for ELF machine 62, not arm64",
    ]


def test_an_artifact_over_budget_is_a_problem(tmp_path: Path) -> None:
    artifact = Artifact("BigFunction", tmp_path, MAX_ARTIFACT_BYTES + 1, MAX_ARTIFACT_BYTES * 3)
    assert artifact.problems == ["BigFunction: 5.00 MB zipped, over the 5 MB budget"]


def _fake_python(path: Path, version: str, *, works: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = f"echo {version}" if works else "echo 'pyenv: command not found' >&2; exit 127"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_find_python_skips_a_shim_that_does_not_run_and_finds_pyenvs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given python3.13 on PATH is a pyenv shim for a version not selected
    shims = tmp_path / "shims"
    _fake_python(shims / "python3.13", "", works=False)
    # And pyenv holds 3.13.0 and 3.13.2
    root = tmp_path / "pyenv"
    _fake_python(root / "versions" / "3.13.0" / "bin" / "python3.13", "3.13")
    newest = _fake_python(root / "versions" / "3.13.2" / "bin" / "python3.13", "3.13")
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("PYENV_ROOT", str(root))
    # Then the newest pyenv install is the one
    assert find_python("3.13") == newest


def test_without_the_runtimes_python_the_build_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    with pytest.raises(BuildError) as raised:
        runtime_python(Runtime("python3.99", "arm64"))
    message = str(raised.value)
    assert "\n" not in message
    assert "python3.99" in message
    assert "pyenv install 3.99" in message
