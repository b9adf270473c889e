"""One Lambda execution environment: the runtime process that imports a handler and runs it.

Started by :mod:`infra.local.cloud.lambda_runtime` as ``python -I lambda_worker.py ...`` with
exactly the function's environment (nothing inherited from the process that started it) and the
deployed code as its working directory, as the Python runtime of AWS Lambda does. It imports
nothing from this repository: the handler sees only its own code and the site-packages it was
given, so a missing dependency fails here as it would on AWS.

Protocol: one JSON request per line on stdin, one JSON answer per line on the file descriptor
given by ``--answers``. stdout and stderr are the function's log (the parent ships every line to
CloudWatch Logs); after each invocation a record-separator line marks where its log ends.

This file is also imported by tests for :class:`LambdaContext`, the one context object handed to
handlers, in Lambda and in unit tests alike.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, TextIO

#: Written on stdout after an invocation's last log line: ``\x1e<requestId>``.
LOG_END = "\x1e"
#: Lambda's cap on a synchronous response (6 MB).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
_PR_SET_PDEATHSIG = 1


@dataclass
class LambdaContext:
    """The context object of the Python runtime (the attributes handlers and Powertools read)."""

    function_name: str = "test-function"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:test-function"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/01/01/[$LATEST]00000000000000000000000000000000"
    deadline_ms: float = field(default=0.0, repr=False)
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        if not self.deadline_ms:
            return 30_000  # not invoked by a runtime (a unit test): a function's usual timeout
        return max(0, int(self.deadline_ms - time.time() * 1000))


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    _die_with_parent(args.parent)
    # Ctrl-C in a terminal reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(args.answers, "w", encoding="utf-8", buffering=1)
    for entry in reversed(args.path):
        sys.path.insert(0, entry)
    started = time.perf_counter()
    try:
        handler = _load_handler(args.handler)
    except _InitError as error:
        _answer(answers, {"kind": "initError", "payload": error.payload})
        _end_of_log("init")
        return 1
    _answer(answers, {"kind": "ready", "initMs": (time.perf_counter() - started) * 1000})
    _end_of_log("init")
    for line in sys.stdin:
        request = json.loads(line)
        _answer(answers, _invoke(handler, request))
        _end_of_log(request["requestId"])
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="one Lambda execution environment")
    parser.add_argument("--handler", required=True, help="module.function")
    parser.add_argument("--answers", type=int, required=True, help="file descriptor for answers")
    parser.add_argument("--path", action="append", default=[], help="prepended to sys.path")
    parser.add_argument("--parent", type=int, required=True, help="pid to die with")
    parser.add_argument("--cloud", default="", help="the local cloud's id (finds strays)")
    return parser.parse_args(argv)


class _InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.payload = {"errorType": error_type, "errorMessage": message}


def _load_handler(spec: str) -> Any:
    module_name, _, attribute = spec.rpartition(".")
    if not module_name:
        raise _InitError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise _InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}"
        ) from None
    except Exception as error:  # the module's own code failed at import time
        traceback.print_exc()
        raise _InitError(type(error).__name__, str(error)) from None
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise _InitError(
            "Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'"
        )
    return handler


def _invoke(handler: Any, request: dict[str, Any]) -> dict[str, Any]:
    request_id = request["requestId"]
    os.environ["_X_AMZN_TRACE_ID"] = request.get("traceId", "")
    context = LambdaContext(
        function_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
        function_version=os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        invoked_function_arn=request.get("invokedFunctionArn", ""),
        memory_limit_in_mb=int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")),
        aws_request_id=request_id,
        log_group_name=os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
        log_stream_name=os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", ""),
        deadline_ms=float(request["deadlineMs"]),
    )
    fault = request.get("fault") or {}
    if fault.get("at") == "start":
        _misbehave(fault["kind"])
    try:
        result = handler(json.loads(request["event"]), context)
    except Exception as error:
        # What the runtime logs and reports: the handler's frames, not this loop's.
        frames = error.__traceback__.tb_next if error.__traceback__ else None
        print(f"[ERROR] {type(error).__name__}: {error}", file=sys.stderr)
        traceback.print_exception(type(error), error, frames, file=sys.stderr, chain=False)
        outcome = {"kind": "error", "payload": _error_payload(error, frames, request_id)}
    else:
        outcome = _result(result, request_id)
    if fault.get("at") == "end":
        _misbehave(fault["kind"])
    return outcome


def _result(result: Any, request_id: str) -> dict[str, Any]:
    try:
        payload = json.dumps(result)
    except (TypeError, ValueError) as error:
        message = f"Unable to marshal response: {error}"
        return {"kind": "error", "payload": _payload("Runtime.MarshalError", message, request_id)}
    size = len(payload.encode("utf-8"))
    if size > MAX_RESPONSE_BYTES:
        message = (
            f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
            f"({MAX_RESPONSE_BYTES} bytes)."
        )
        return {
            "kind": "error",
            "payload": _payload("Function.ResponseSizeTooLarge", message, request_id),
        }
    return {"kind": "result", "payload": payload}


def _error_payload(error: BaseException, frames: Any, request_id: str) -> dict[str, Any]:
    """What the Python runtime reports for an unhandled exception (Step Functions matches
    ``errorType``; the whole object is the ``Cause``)."""
    payload = _payload(type(error).__name__, str(error), request_id)
    payload["stackTrace"] = traceback.format_list(traceback.extract_tb(frames))
    return payload


def _payload(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id}


def _misbehave(kind: str) -> None:
    """An injected fault: what a stuck, crashing or memory-hungry function does."""
    if kind == "crash":
        sys.stdout.flush()
        os._exit(1)
    hog: list[bytearray] = []
    while kind == "oom" and len(hog) < 1024:  # stops at 16 GiB; the parent kills long before
        hog.append(bytearray(16 * 1024 * 1024))
    while True:  # timeout (or an OOM nobody stopped): run until the parent kills us
        time.sleep(3600)


def _answer(stream: TextIO, answer: dict[str, Any]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    stream.write(json.dumps(answer) + "\n")


def _end_of_log(request_id: str) -> None:
    sys.stderr.flush()
    sys.stdout.write(f"{LOG_END}{request_id}\n")
    sys.stdout.flush()


def _die_with_parent(parent: int) -> None:
    """Never outlive the process that started us (a killed test run, a closed terminal)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the watchdog below still works
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
