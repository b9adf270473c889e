"""Cold start: each handler's import against the floor, a bare ``import boto3`` (every handler
needs boto3), side by side in the same kind of fresh interpreter.

Each figure is the median of :data:`SAMPLES` fresh interpreters run with ``-X importtime``, the
handler's and boto3's interleaved, with the function's environment from template.yaml (Globals and
the function's own variables; a parameter's default for its ``Ref``, a placeholder for any other
reference). Absolute times depend on the machine; the ratio is the figure (issue target 1.3x).
Beside the wall time ``-X importtime`` gives, the CPU time of the same processes: the same work,
but hardly moved by whatever else the machine runs.

Two interpreters: the sources with the project's Python (always current), and, when ``make build``
has run, each built artifact with the runtime's Python and the runtime's boto3, as Lambda runs it.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.build.artifacts import BUILD_DIR, BuildError, built_artifacts, runtime_python
from infra.build.packaging import load_template
from tests.support.runtime import RUNTIME_SITE, runtime_interpreter
from tests.support.template import TEMPLATE, function_environment

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".local" / "bench" / "coldstart.json"
SAMPLES = 5
TARGET_RATIO = 1.3
#: What Lambda itself sets in every function's environment (values are placeholders).
LAMBDA_ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "coldstart",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "LANG": "en_US.UTF-8",
}


@dataclass(frozen=True)
class Function:
    logical_id: str
    module: str
    environment: dict[str, str]


@dataclass(frozen=True)
class Interpreter:
    """How to start a fresh interpreter and what to put on its path first."""

    label: str
    command: tuple[str, ...]
    path: tuple[str, ...] = ()

    def import_ms(self, module: str, environment: dict[str, str]) -> tuple[float, float]:
        """Milliseconds importing ``module`` (and all it imports) in a fresh process: wall time as
        ``-X importtime`` gives it, and the process's CPU time (the same work, but unmoved by
        whatever else the machine runs) above that of a process importing nothing."""
        prefix = f"import sys; sys.path[:0] = {list(self.path)!r}; " if self.path else ""
        startup, startup_cpu = self._run(prefix + "pass", environment)
        lines, cpu = self._run(prefix + f"import {module}", environment)
        seen = _imported(startup)
        total_us = sum(
            cumulative
            for name, depth, cumulative in _entries(lines)
            if depth == 0 and name not in seen
        )
        return total_us / 1000, (cpu - startup_cpu) * 1000

    def _run(self, code: str, environment: dict[str, str]) -> tuple[list[str], float]:
        """The ``-X importtime`` lines of running ``code``, and its CPU seconds."""
        cpu = "; import resource as _r; _u = _r.getrusage(_r.RUSAGE_SELF); "
        cpu += "print(_u.ru_utime + _u.ru_stime)"
        result = subprocess.run(  # noqa: S603 - our interpreter on our own code
            [*self.command, "-X", "importtime", "-c", code + cpu],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            cwd=self.path[0] if self.path else ROOT,
        )
        return result.stderr.splitlines(), float(result.stdout.split()[-1])


def functions() -> list[Function]:
    """Every function of template.yaml with its handler's module and its environment."""
    template = load_template(TEMPLATE)
    found = []
    for logical_id, resource in sorted(template["Resources"].items()):
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        module = resource["Properties"]["Handler"].rsplit(".", 1)[0]
        environment = function_environment(logical_id)
        found.append(Function(logical_id, module, {**LAMBDA_ENVIRONMENT, **environment}))
    return found


def interpreters() -> list[tuple[Interpreter, dict[str, Path]]]:
    """The sources with this Python; each built artifact with the runtime's, when built."""
    source = Interpreter("sources, project Python", (sys.executable, "-I"))
    found: list[tuple[Interpreter, dict[str, Path]]] = [(source, {})]
    try:
        runtime, artifacts = built_artifacts(BUILD_DIR)
        runtime_python(runtime)
    except BuildError:
        return found
    built = Interpreter(
        f"built artifacts, {runtime.name} with the runtime's boto3",
        tuple(runtime_interpreter(runtime).command()),
    )
    return [*found, (built, {a.logical_id: a.directory for a in artifacts})]


def measure(interpreter: Interpreter, function: Function) -> dict[str, float]:
    """Median boto3 and handler import times over fresh interpreters, interleaved."""
    boto3: list[tuple[float, float]] = []
    handler: list[tuple[float, float]] = []
    for _ in range(SAMPLES):
        boto3.append(interpreter.import_ms("boto3", function.environment))
        handler.append(interpreter.import_ms(function.module, function.environment))
    row: dict[str, float] = {}
    for kind, index in (("", 0), ("cpu_", 1)):
        floor = statistics.median(sample[index] for sample in boto3)
        ms = statistics.median(sample[index] for sample in handler)
        row |= {f"{kind}boto3_ms": round(floor, 1), f"{kind}handler_ms": round(ms, 1)}
        row[f"{kind}ratio"] = round(ms / floor, 2)
    return row


def coldstart() -> None:
    print(
        f"\n## Cold start: each handler's import against a bare `import boto3` (median of "
        f"{SAMPLES} fresh interpreters, target <= {TARGET_RATIO}x)"
    )
    results: dict[str, Any] = {"samples": SAMPLES, "target_ratio": TARGET_RATIO}
    for interpreter, directories in interpreters():
        print(f"{interpreter.label}:")
        print(f"  {'':<24} {'wall (-X importtime)':^27} | {'CPU time':^27}")
        heading = f"{'boto3':>8} {'handler':>8} {'ratio':>9}"
        print(f"  {'function':<24} {heading} | {heading}")
        rows: dict[str, Any] = {}
        for function in functions():
            subject = interpreter
            if directories:
                path = (str(directories[function.logical_id]), str(RUNTIME_SITE))
                subject = Interpreter(interpreter.label, interpreter.command, path)
            row = measure(subject, function)
            rows[function.logical_id] = {"module": function.module, **row}
            cells = [
                f"{row[f'{k}boto3_ms']:>6.0f}ms {row[f'{k}handler_ms']:>6.0f}ms "
                f"{row[f'{k}ratio']:>8.2f}x"
                for k in ("", "cpu_")
            ]
            print(f"  {function.logical_id:<24} " + " | ".join(cells))
        results[interpreter.label] = rows
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written to {OUT.relative_to(ROOT)}")


def _entries(lines: list[str]) -> list[tuple[str, int, int]]:
    """``(module, depth, cumulative µs)`` of each ``-X importtime`` line."""
    found = []
    for line in lines:
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        stripped = name.lstrip()
        depth = (len(name) - len(stripped) - 1) // 2
        found.append((stripped.rstrip(), depth, int(cumulative)))
    return found


def _imported(lines: list[str]) -> set[str]:
    return {name for name, _, _ in _entries(lines)}


if __name__ == "__main__":
    coldstart()
