"""The bridge alone: the handler's environment, errors by class name, and the settings cache."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from infra.local_cloud import LambdaBridge

HANDLER_MODULE = """
import functools
import itertools

from ocr_fetch.settings import get_settings


class ProbeFailed(Exception):
    pass


def bucket(event, context):
    return {"bucket": get_settings().results_bucket, "name": context.function_name}


def fail(event, context):
    raise ProbeFailed("as asked")


_built = itertools.count()


@functools.cache
def _client():
    return {"serial": next(_built)}


def client_id(event, context):
    return _client()["serial"]
"""


def fake_function(name: str, handler: str, **variables: str) -> Any:
    """The attributes of moto's LambdaFunction that the bridge reads."""
    return SimpleNamespace(
        function_name=name,
        handler=handler,
        environment_vars={
            "RESULTS_TABLE": "table",
            "EVENT_BUS_NAME": "bus",
            "ASPOSE_SECRET_NAME": "secret",
            **variables,
        },
        memory_size=256,
        timeout=5,
        version="$LATEST",
        region="eu-west-1",
        run_time="python3.12",
        function_arn=f"arn:aws:lambda:eu-west-1:123456789012:function:{name}",
        save_logs=lambda output: None,
    )


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One directory for the module: once imported, bridge_probe stays in sys.modules.
    directory = tmp_path_factory.mktemp("code")
    (directory / "bridge_probe.py").write_text(HANDLER_MODULE, encoding="utf-8")
    return directory


@pytest.fixture
def bridge(code_dir: Path) -> LambdaBridge:
    bridge = LambdaBridge()
    for name in ("first", "second", "failing"):
        bridge.register(name, code_dir)
    return bridge


def test_each_function_sees_its_own_settings(bridge: LambdaBridge) -> None:
    # Given two functions whose RESULTS_BUCKET differ, read through the lru_cached settings
    first = fake_function("first", "bridge_probe.bucket", RESULTS_BUCKET="bucket-one")
    second = fake_function("second", "bridge_probe.bucket", RESULTS_BUCKET="bucket-two")
    # When they are invoked in turn
    answers = [json.loads(bridge.invoke(fn, {})[0]) for fn in (first, second, first)]
    # Then each saw its own variables: the cache was cleared when the environment changed
    assert [a["bucket"] for a in answers] == ["bucket-one", "bucket-two", "bucket-one"]
    assert answers[1]["name"] == "second"
    assert "RESULTS_BUCKET" not in os.environ


def test_an_exception_becomes_a_function_error_named_by_its_class(bridge: LambdaBridge) -> None:
    payload, errored, logs = bridge.invoke(fake_function("failing", "bridge_probe.fail"), "{}")
    assert errored
    assert json.loads(payload) == {"errorType": "ProbeFailed", "errorMessage": "as asked"}
    assert "Traceback" in logs
    assert bridge.invocations[-1].error_type == "ProbeFailed"


def test_a_function_without_local_code_fails_with_import_error() -> None:
    payload, errored, _ = LambdaBridge().invoke(fake_function("nowhere", "x.handler"), {})
    assert errored
    assert json.loads(payload)["errorType"] == "ImportError"


def test_cold_start_forgets_cached_clients_of_handler_modules(bridge: LambdaBridge) -> None:
    # Given a handler that caches a client, as the project's handlers do with functools.cache
    warm = fake_function("first", "bridge_probe.client_id", RESULTS_BUCKET="bucket-one")
    first = json.loads(bridge.invoke(warm, {})[0])
    assert json.loads(bridge.invoke(warm, {})[0]) == first
    # When a new deployment simulates a cold start
    bridge.cold_start()
    # Then the handler builds a new client
    assert json.loads(bridge.invoke(warm, {})[0]) != first
