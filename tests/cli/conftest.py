"""One local stack for every ``ocr-results`` test, and a way to run the command in-process.

The stack is the product's (template.yaml, the emulator, fast polling), deployed once for the
package; ``.local/stack.json`` is written for it as ``make local`` writes it, and every command
runs as ``ocr-results --local --state-file <that file> ...`` through the console script's own
``main``, with its stdout and stderr captured and its exit code returned.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.local.cloud.__main__ import local_state
from infra.local.emulator import Timing
from infra.local.samples import write_samples
from infra.ops.cli.app import main
from tests.support.local_stack import LocalStack, local_stack


@dataclass(frozen=True)
class Ran:
    """What one run of ``ocr-results`` did."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def error_line(self) -> str:
        """The error: one line, the last on stderr (progress may come before it)."""
        lines = self.err.strip().splitlines()
        errors = [line for line in lines if line.startswith("ocr-results: error: ")]
        assert errors == lines[-1:], self.err
        assert "Traceback" not in self.err
        return lines[-1]


def ocr_results(*args: str) -> Ran:
    """Run ``ocr-results ARGS`` in this process."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return Ran(code, out.getvalue(), err.getvalue())


@dataclass(frozen=True)
class CliStack:
    """The local stack, its state file, and the sample documents written as files."""

    stack: LocalStack
    state_file: Path
    files: Path

    def run(self, *args: str) -> Ran:
        """``ocr-results --local ARGS`` against this stack."""
        return ocr_results("--local", "--state-file", str(self.state_file), *args)

    def image(self, name: str) -> str:
        return str(self.files / f"{name}.png")

    def regions(self, name: str) -> str:
        return str(self.files / f"{name}.regions.json")


@pytest.fixture(scope="package")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliStack]:
    files = tmp_path_factory.mktemp("samples")
    write_samples(files)
    with local_stack(timing=Timing(queue_delay_s=0.3, per_region_s=0.05)) as running:
        state_file = tmp_path_factory.mktemp("local") / "stack.json"
        local_state(running.cloud, running.stack).write(state_file)
        yield CliStack(running, state_file, files)
