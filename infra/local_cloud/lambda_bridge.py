"""Run Lambda functions in-process: moto's single "run the code" hook calls the real handler.

moto runs function code only in Docker. Every invocation, whether from ``lambda:Invoke``, a
Step Functions ``lambda:invoke`` task or an SQS event-source mapping, goes through
``LambdaFunction._invoke_lambda(self, event) -> (payload_json, errored, logs)``. The bridge
replaces that method: it imports the function's ``Handler`` from the local source directory its
``CodeUri`` pointed at (put on ``sys.path``, never copied) and calls it with the event and a fake
Lambda context, inside the function's own environment variables.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Invocations are serialised: os.environ is process-wide, so two handlers with different
# variables cannot run at the same time. A handler that synchronously waits on another local
# invocation (lambda.invoke, or a put_events routed to a queue with a mapping) would wait here;
# the timeout turns that deadlock into an error that names the cause.
_LOCK_TIMEOUT_SECONDS = 120.0

# The settings module whose lru_cache must not survive a change of environment.
_SETTINGS_MODULES = ("ocr_fetch.settings",)


@dataclass
class FakeLambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: float
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Invocation:
    """One call the bridge made, kept for tests and for the summary."""

    function_name: str
    handler: str
    errored: bool
    error_type: str | None
    duration_ms: float


class LambdaBridge:
    """Installs itself over moto's Lambda runner and maps function names to local source dirs."""

    def __init__(self) -> None:
        self._code_dirs: dict[str, Path] = {}
        self._lock = threading.RLock()
        self._original: Callable[..., Any] | None = None
        self._invocations: list[Invocation] = []

    # -- lifecycle -------------------------------------------------------------------------------
    def install(self) -> None:
        """Replace ``LambdaFunction._invoke_lambda``; idempotent."""
        from moto.awslambda.models import LambdaFunction

        if self._original is not None:
            return
        self._original = LambdaFunction.__dict__["_invoke_lambda"]
        bridge = self

        def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
            return bridge.invoke(fn, event)

        setattr(LambdaFunction, "_invoke_lambda", _invoke_lambda)  # noqa: B010 - patching moto

    def uninstall(self) -> None:
        """Put moto's own runner back."""
        from moto.awslambda.models import LambdaFunction

        if self._original is not None:
            setattr(LambdaFunction, "_invoke_lambda", self._original)  # noqa: B010
            self._original = None

    # -- registry --------------------------------------------------------------------------------
    def register(self, function_name: str, code_dir: Path) -> None:
        """Tell the bridge which local directory holds ``function_name``'s code."""
        self._code_dirs[function_name] = code_dir.resolve()

    def cold_start(self) -> None:
        """Forget warm state (functools caches) in modules loaded from the registered code dirs.

        Handler modules stay imported across deployments in this process, as a warm Lambda
        container would; but a new deployment means new containers in AWS, and a cached client
        or ARN from an earlier local cloud (another port, another stack) must not survive it.
        """
        roots = [str(path) + os.sep for path in self._code_dirs.values()]
        with self._lock:
            for module in list(sys.modules.values()):
                module_file = getattr(module, "__file__", None) or ""
                if not any(module_file.startswith(root) for root in roots):
                    continue
                for value in list(vars(module).values()):
                    cache_clear = getattr(value, "cache_clear", None)
                    if callable(cache_clear) and callable(value):
                        cache_clear()

    @property
    def invocations(self) -> list[Invocation]:
        return list(self._invocations)

    # -- the replacement for moto's runner ------------------------------------------------------
    def invoke(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        """Run ``fn``'s handler with ``event``; returns moto's ``(payload, errored, logs)``."""
        if isinstance(event, str | bytes):
            event = json.loads(event) if event else {}
        if event is None:
            event = {}
        name: str = fn.function_name
        handler_path: str = fn.handler or ""
        if not self._lock.acquire(timeout=_LOCK_TIMEOUT_SECONDS):
            return _error_result(
                "LocalInvocationDeadlock",
                f"{name} waited {_LOCK_TIMEOUT_SECONDS:.0f}s for another local invocation; "
                "a handler is probably waiting synchronously on this one",
            )
        started = time.perf_counter()
        try:
            with self._function_environment(fn):
                result = self._call(fn, handler_path, event)
        finally:
            self._lock.release()
        payload, errored, logs = result
        error_type = json.loads(payload).get("errorType") if errored else None
        self._invocations.append(
            Invocation(name, handler_path, errored, error_type, _ms_since(started))
        )
        if errored:
            _save_logs(fn, logs)
        return result

    def _call(self, fn: Any, handler_path: str, event: Any) -> tuple[str, bool, str]:
        context = FakeLambdaContext(
            function_name=fn.function_name,
            memory_limit_in_mb=int(fn.memory_size or 128),
            invoked_function_arn=fn.function_arn,
            timeout_seconds=float(fn.timeout or 3),
            function_version=str(fn.version),
        )
        try:
            handler = self._load_handler(fn.function_name, handler_path)
            result = handler(event, context)
            return json.dumps(result), False, ""
        except Exception as exc:  # every handler failure becomes a Lambda function error
            return (
                _error_result(type(exc).__name__, str(exc))[0],
                True,
                traceback.format_exc(),
            )

    def _load_handler(self, function_name: str, handler_path: str) -> Callable[[Any, Any], Any]:
        module_name, _, attribute = handler_path.rpartition(".")
        if not module_name:
            raise ImportError(f"Handler {handler_path!r} of {function_name} is not module.function")
        code_dir = self._code_dirs.get(function_name)
        if code_dir is None:
            raise ImportError(f"no local code registered for Lambda function {function_name}")
        if str(code_dir) not in sys.path:
            sys.path.insert(0, str(code_dir))
        module = importlib.import_module(module_name)
        handler: Callable[[Any, Any], Any] = getattr(module, attribute)
        return handler

    # -- environment -----------------------------------------------------------------------------
    @contextmanager
    def _function_environment(self, fn: Any) -> Iterator[None]:
        wanted = _lambda_environment(fn)
        applied = {key: os.environ.get(key) for key in wanted}
        changed = any(applied[key] != value for key, value in wanted.items())
        os.environ.update(wanted)
        if changed:
            _clear_settings_caches()
        try:
            yield
        finally:
            for key, previous in applied.items():
                if previous is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = previous
            if changed:
                _clear_settings_caches()


def _lambda_environment(fn: Any) -> dict[str, str]:
    """What the Lambda runtime would put in the environment, plus the function's variables."""
    region: str = fn.region
    runtime_vars = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
        "_HANDLER": fn.handler or "",
    }
    variables: Mapping[str, Any] = fn.environment_vars or {}
    runtime_vars.update({key: str(value) for key, value in variables.items()})
    return runtime_vars


def _clear_settings_caches() -> None:
    for module_name in _SETTINGS_MODULES:
        module = sys.modules.get(module_name)
        get_settings = getattr(module, "get_settings", None)
        cache_clear = getattr(get_settings, "cache_clear", None)
        if callable(cache_clear):
            cache_clear()


def _error_result(error_type: str, message: str) -> tuple[str, bool, str]:
    return json.dumps({"errorType": error_type, "errorMessage": message}), True, ""


def _save_logs(fn: Any, logs: str) -> None:
    # Failures land in the function's CloudWatch log group, as in AWS; best effort only.
    with contextlib.suppress(Exception):  # logs never decide an invocation's outcome
        fn.save_logs(logs)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
