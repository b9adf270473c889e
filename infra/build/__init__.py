"""``make build``: ``sam build`` with the runtime's Python, then what each artifact weighs.

The template names the runtime (``Globals.Function.Runtime``, e.g. ``python3.13``) and the
architecture; SAM builds with the interpreter of that version it finds on ``PATH``. This finds one
the way a developer's machine offers it (on ``PATH``, or installed through pyenv) and puts its
directory first on ``PATH`` for SAM; where there is none it stops with one line saying what to
install. After the build every function's artifact is zipped as ``sam deploy`` would upload it and
checked: no larger than :data:`MAX_ARTIFACT_BYTES`, and no compiled extension built for another
architecture or Python.

    python -m infra.build --sam .tools/sam/bin/sam      # build and report
    python -m infra.build --report                      # report on the last build
    python -m infra.build --python                      # print the runtime's interpreter
    python -m infra.build --runtime-site DIR            # install the runtime's boto3 into DIR
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local_cloud.packaging import load_template, zip_directory

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
BUILD_DIR = ROOT / ".aws-sam" / "build"
BUILT_TEMPLATE = BUILD_DIR / "template.yaml"
#: What the Lambda runtime provides (boto3 at the version tests pin), installed beside the
#: runtime's interpreter to run a built artifact locally as Lambda would.
RUNTIME_REQUIREMENTS = ROOT / "infra" / "tools" / "lambda-runtime.txt"
RUNTIME_SITE = ROOT / ".tools" / "lambda-runtime"  # the Makefile's $(RUNTIME_SITE)
#: Largest deployment package a function may have, zipped (the issue's budget; Lambda's own
#: limit is 50 MB zipped). Small packages deploy fast and start cold fast.
MAX_ARTIFACT_BYTES = 5 * 1024 * 1024
#: ELF ``e_machine`` of each Lambda architecture.
_ELF_MACHINES = {"arm64": 183, "x86_64": 62}
_ELF_MAGIC = b"\x7fELF"
_EXTENSION_TAG = re.compile(r"\.(cpython-(\d+)-([a-z0-9_]+)-linux-gnu|abi3)\.so$")
_TAG_ARCHITECTURES = {"arm64": "aarch64", "x86_64": "x86_64"}
_MB = 1024 * 1024


class BuildError(Exception):
    """A build that cannot go on, with the one line that says why."""


@dataclass(frozen=True)
class Runtime:
    """The functions' runtime as the template declares it."""

    name: str  # python3.13
    architecture: str  # arm64

    @property
    def version(self) -> str:
        """``3.13`` for ``python3.13``."""
        return self.name.removeprefix("python")


def template_runtime(template: dict[str, Any]) -> Runtime:
    """The runtime and architecture every function of ``template`` uses (from its Globals)."""
    function = (template.get("Globals") or {}).get("Function") or {}
    name = function.get("Runtime")
    architectures = function.get("Architectures") or ["x86_64"]
    if not isinstance(name, str) or not name.startswith("python"):
        raise BuildError("template.yaml: Globals.Function.Runtime must name a Python runtime")
    return Runtime(name, str(architectures[0]))


# -- the runtime's interpreter ---------------------------------------------------------------------
def find_python(version: str) -> Path | None:
    """An interpreter of ``version`` (``3.13``): ``python3.13`` on ``PATH`` if it runs (a pyenv
    shim for a version not selected does not), else the newest pyenv install of it."""
    on_path = shutil.which(f"python{version}")
    candidates = [Path(on_path)] if on_path else []
    candidates += _pyenv_pythons(version)
    for candidate in candidates:
        if _reports_version(candidate, version):
            return candidate
    return None


def _pyenv_pythons(version: str) -> list[Path]:
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    installs = sorted(
        (root / "versions").glob(f"{version}.*"),
        key=lambda p: [int(part) if part.isdigit() else -1 for part in p.name.split(".")],
        reverse=True,
    )
    return [install / "bin" / f"python{version}" for install in installs]


def _reports_version(executable: Path, version: str) -> bool:
    try:
        answer = subprocess.run(  # noqa: S603 - an interpreter we looked up
            [str(executable), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return answer.returncode == 0 and answer.stdout.strip() == version


def runtime_python(runtime: Runtime) -> Path:
    """The runtime's interpreter, or :class:`BuildError` saying what to install."""
    found = find_python(runtime.version)
    if found is None:
        raise BuildError(
            f"The template's runtime is {runtime.name} and no Python {runtime.version} was found "
            f"(python{runtime.version} on PATH, or pyenv): install it (e.g. `pyenv install "
            f"{runtime.version}`) and run make build again."
        )
    return found


# -- building ----------------------------------------------------------------------------------
def sam_build(sam: Path, python: Path) -> float:
    """Run ``sam build`` with ``python``'s directory first on ``PATH``; the seconds it took."""
    environment = {**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ['PATH']}"}
    environment.pop("PYENV_VERSION", None)
    started = time.monotonic()
    completed = subprocess.run(  # noqa: S603 - the pinned SAM CLI
        [str(sam), "build", "--template-file", str(TEMPLATE), "--build-dir", str(BUILD_DIR)],
        cwd=ROOT,
        env={**environment, "SAM_CLI_TELEMETRY": "0"},
        check=False,
    )
    if completed.returncode != 0:
        raise BuildError(f"sam build failed (exit {completed.returncode}); its output is above")
    return time.monotonic() - started


def install_runtime_site(python: Path, target: Path) -> None:
    """Install what the Lambda runtime provides (its boto3) into ``target`` for ``python``."""
    shutil.rmtree(target, ignore_errors=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(  # noqa: S603 - pip of the runtime's interpreter
        [*pip, "--target", str(target), "-r", str(RUNTIME_REQUIREMENTS)], check=True
    )


# -- what was built ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Artifact:
    """One function's built deployment package."""

    logical_id: str
    directory: Path
    zipped_bytes: int
    unzipped_bytes: int
    foreign_binaries: tuple[str, ...] = field(default=())

    @property
    def problems(self) -> list[str]:
        found = [f"{self.logical_id}: {binary}" for binary in self.foreign_binaries]
        if self.zipped_bytes > MAX_ARTIFACT_BYTES:
            found.append(
                f"{self.logical_id}: {self.zipped_bytes / _MB:.2f} MB zipped, over the "
                f"{MAX_ARTIFACT_BYTES / _MB:.0f} MB budget"
            )
        return found


def built_artifacts(build_dir: Path = BUILD_DIR) -> tuple[Runtime, list[Artifact]]:
    """Every function's artifact in a ``sam build`` output, measured and checked."""
    template_path = build_dir / "template.yaml"
    if not template_path.exists():
        raise BuildError(f"No build in {build_dir}: run make build")
    template = load_template(template_path)
    runtime = template_runtime(template)
    artifacts = []
    for logical_id, resource in sorted((template.get("Resources") or {}).items()):
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        directory = build_dir / str(resource["Properties"]["CodeUri"])
        files = [p for p in directory.rglob("*") if p.is_file()]
        artifacts.append(
            Artifact(
                logical_id=logical_id,
                directory=directory,
                zipped_bytes=len(zip_directory(directory)),
                unzipped_bytes=sum(p.stat().st_size for p in files),
                foreign_binaries=tuple(foreign_binaries(directory, runtime)),
            )
        )
    return runtime, artifacts


def foreign_binaries(directory: Path, runtime: Runtime) -> list[str]:
    """Compiled files under ``directory`` that the runtime could not load: an ELF for another
    machine, or an extension module tagged for another Python or architecture."""
    expected_machine = _ELF_MACHINES[runtime.architecture]
    found = []
    for path in sorted(directory.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(directory).as_posix()
        with path.open("rb") as handle:
            head = handle.read(20)
        if head[:4] == _ELF_MAGIC:
            machine = int.from_bytes(head[18:20], "little")
            if machine != expected_machine:
                found.append(
                    f"{relative} is built for ELF machine {machine}, not {runtime.architecture}"
                )
                continue
        reason = _extension_tag_problem(path.name, runtime)
        if reason:
            found.append(f"{relative} {reason}")
    return found


def _extension_tag_problem(name: str, runtime: Runtime) -> str | None:
    match = _EXTENSION_TAG.search(name)
    if match is None or match.group(1) == "abi3":
        return None
    python_tag, platform = match.group(2), match.group(3)
    if python_tag != runtime.version.replace(".", ""):
        return f"is built for CPython {python_tag}, not {runtime.name}"
    if platform != _TAG_ARCHITECTURES[runtime.architecture]:
        return f"is built for {platform}, not {runtime.architecture}"
    return None


def report(runtime: Runtime, artifacts: list[Artifact], build_seconds: float | None) -> str:
    """The table ``make build`` prints."""
    took = f" in {build_seconds:.1f} s" if build_seconds is not None else ""
    lines = [
        f"Built{took}: {len(artifacts)} functions, {runtime.name} on {runtime.architecture}, "
        f"zipped as sam deploy uploads them (budget {MAX_ARTIFACT_BYTES / _MB:.0f} MB each):"
    ]
    for artifact in artifacts:
        verdict = "ok" if not artifact.problems else "PROBLEM"
        lines.append(
            f"  {artifact.logical_id:<24} {artifact.zipped_bytes / _MB:6.2f} MB zipped "
            f"{artifact.unzipped_bytes / _MB:6.2f} MB unzipped  {verdict}"
        )
    lines += [f"  {problem}" for artifact in artifacts for problem in artifact.problems]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.build", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sam", type=Path, help="the SAM CLI to build with")
    parser.add_argument("--report", action="store_true", help="report on the last build only")
    parser.add_argument("--python", action="store_true", help="print the runtime's interpreter")
    parser.add_argument("--runtime-site", type=Path, help="install the runtime's boto3 here")
    args = parser.parse_args(argv)
    try:
        runtime = template_runtime(load_template(TEMPLATE))
        if args.python:
            print(runtime_python(runtime))
            return 0
        if args.runtime_site:
            install_runtime_site(runtime_python(runtime), args.runtime_site)
            return 0
        seconds = None
        if not args.report:
            if args.sam is None:
                parser.error("--sam is required to build")
            seconds = sam_build(args.sam, runtime_python(runtime))
        built_runtime, artifacts = built_artifacts()
    except BuildError as error:
        print(error, file=sys.stderr)
        return 2
    print(report(built_runtime, artifacts, seconds))
    return 1 if any(artifact.problems for artifact in artifacts) else 0
