"""Function code run by the local cloud's own runtime, not moto's Docker: every invocation moto
serves (``Invoke``, a Step Functions task, an event source mapping's batch) reaches an
:data:`Invoker`, with the deployed configuration copied out of moto's model."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.local.cloud.iam_calls import function_arn
from infra.local.cloud.moto_internals.patching import env_string, install, installed, uninstall


@dataclass(frozen=True)
class FunctionConfig:
    """What running one version of a deployed function needs, copied out of moto's model."""

    name: str
    #: this version's ARN (unqualified for $LATEST, ``...:function:<name>:<n>`` for a version)
    arn: str
    #: the execution role, whose credentials the function's code gets
    role: str
    handler: str
    runtime: str
    region: str
    version: str
    memory_mb: int
    timeout_s: float
    environment: Mapping[str, str]
    reserved_concurrency: int | None
    code_sha256: str
    #: where its logs go: ``LoggingConfig.LogGroup``, else ``/aws/lambda/<name>``
    log_group: str
    architectures: tuple[str, ...]
    code_zip: bytes = field(repr=False, compare=False)

    @property
    def revision(self) -> str:
        """Changes whenever code or configuration does: environments of another revision are
        never reused (a deployment means new execution environments in AWS too)."""
        environment = json.dumps(dict(sorted(self.environment.items())))
        return "|".join(
            (
                self.arn,
                self.role,
                self.log_group,
                self.code_sha256,
                self.handler,
                self.runtime,
                str(self.memory_mb),
                str(self.timeout_s),
                environment,
            )
        )


class LambdaThrottled(Exception):
    """Raised by an invoker to answer ``Invoke`` with HTTP 429 ``TooManyRequestsException``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: ``(version invoked, event_json, ARN the caller invoked) -> (payload_json, errored)``
Invoker = Callable[[FunctionConfig, str, str], tuple[str, bool]]
_PATCH = "lambda invoker"
_invocation = threading.local()  # the ARN the current request invoked, per server thread


def install_lambda_invoker(invoker: Invoker) -> None:
    """Make every invocation moto serves (``Invoke``, Step Functions tasks) call ``invoker``.

    ``LambdaFunction._invoke_lambda(self, event) -> (payload, errored, logs)`` is the single place
    moto runs code, on the version the call resolved to (an alias resolves to its version).
    ``logs`` is what ``LogType: Tail`` returns; the runtime ships logs to CloudWatch Logs itself,
    so it is left empty. ``LambdaBackend.invoke(function_name, qualifier, ...)`` is where the ARN
    the caller named is still known (the handler's ``context.invoked_function_arn`` shows it).
    """
    from moto.awslambda.models import LambdaBackend, LambdaFunction

    backend_invoke = LambdaBackend.__dict__["invoke"]

    def invoke(backend: Any, function_name: str, qualifier: str | None, *rest: Any) -> Any:
        _invocation.arn = function_arn(
            function_name, qualifier, backend.region_name, backend.account_id
        )
        try:
            return backend_invoke(backend, function_name, qualifier, *rest)
        finally:
            _invocation.arn = None

    def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
        body = event if isinstance(event, str) else json.dumps({} if event is None else event)
        config = function_config(fn)
        invoked = getattr(_invocation, "arn", None) or config.arn
        try:
            payload, errored = invoker(config, body, invoked)
        except LambdaThrottled as throttled:
            raise _too_many_requests(throttled.reason) from None
        return payload, errored, ""

    patches = [
        (LambdaBackend, "invoke", invoke),
        (LambdaFunction, "_invoke_lambda", _invoke_lambda),
    ]
    if not install(_PATCH, lambda: patches):
        raise RuntimeError("a Lambda invoker is already installed in this process")


def uninstall_lambda_invoker() -> None:
    """Put moto's own runner back."""
    uninstall(_PATCH)


def lambda_invoker_installed() -> bool:
    return installed(_PATCH)


def function_config(fn: Any) -> FunctionConfig:
    """A :class:`FunctionConfig` from moto's ``LambdaFunction`` (or one of its versions)."""
    reserved = fn.reserved_concurrency
    return FunctionConfig(
        name=fn.function_name,
        arn=fn.function_arn,
        role=str(fn.role),
        handler=fn.handler or "",
        runtime=fn.run_time or "",
        region=fn.region,
        version=str(fn.version),
        memory_mb=int(fn.memory_size or 128),
        timeout_s=float(fn.timeout or 3),
        # AWS keeps every value as a string; moto keeps Number parameters as ints.
        environment={k: env_string(v) for k, v in (fn.environment_vars or {}).items()},
        reserved_concurrency=int(reserved) if reserved not in (None, "") else None,
        code_sha256=str(getattr(fn, "code_sha_256", "") or ""),
        log_group=fn.logs_group_name,
        architectures=tuple(fn.architectures or ("x86_64",)),
        code_zip=bytes(getattr(fn, "code_bytes", b"") or b""),
    )


def _too_many_requests(reason: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError("TooManyRequestsException", "Rate Exceeded.")
    error.code = 429
    # The Reason field AWS adds, e.g. ReservedFunctionConcurrentInvocationLimitExceeded.
    error.description = json.dumps(
        {"__type": "TooManyRequestsException", "message": "Rate Exceeded.", "Reason": reason}
    )
    return error
