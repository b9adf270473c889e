"""A cold start imports only what every invocation of that function uses: which modules each
handler's import loads, in a fresh interpreter. Structural, never timed (``make bench`` prints the
times: tests/bench/coldstart.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.runtime import handler_modules

#: Loaded by no handler's import: what no invocation needs, or what only some need (loaded then).
NEVER = {
    "asyncio",  # Powertools' batch processor brings it; the starter has its own loop
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.event_handler",
    "aws_xray_sdk",
    "pydantic",
    "jsonschema",
    "defusedxml",  # only XML results need it: loaded when one is checked
}
#: Loaded only by the one function that uses them on every invocation.
ONLY = {
    "ocr_fetch.handlers.check_status": {"requests", "charset_normalizer", "ocr_fetch.client"},
    "ocr_fetch.handlers.store_results": {"ocr_fetch.decoding"},
}


def loaded_by(module: str) -> set[str]:
    """Every module in ``sys.modules`` after importing ``module`` in a fresh interpreter."""
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(  # noqa: S603 - this interpreter on our own module
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(result.stdout))


@pytest.fixture(scope="module")
def loaded() -> dict[str, set[str]]:
    return {module: loaded_by(module) for module in handler_modules()}


def test_the_probe_sees_what_a_handler_imports(loaded: dict[str, set[str]]) -> None:
    assert set(loaded) >= set(ONLY)
    for module, modules in loaded.items():
        assert {module, "boto3", "aws_lambda_powertools"} <= modules
    assert "requests" in loaded["ocr_fetch.handlers.check_status"]


@pytest.mark.parametrize("module", handler_modules())
def test_a_handler_loads_nothing_it_does_not_always_use(
    module: str, loaded: dict[str, set[str]]
) -> None:
    others_only = set().union(*(names for owner, names in ONLY.items() if owner != module))
    unwanted = (NEVER | others_only) - ONLY.get(module, set())
    assert sorted(unwanted & loaded[module]) == []
