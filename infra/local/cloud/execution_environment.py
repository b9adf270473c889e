"""One Lambda execution environment: a worker process for one revision of one function, which
runs one invocation at a time and is reused warm (see :mod:`infra.local.cloud.lambda_runtime`
for what runs them, and why they behave as Lambda's do)."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from infra.local.cloud.faults import AwsFault
from infra.local.cloud.iam_calls import CODE, Principals
from infra.local.cloud.lambda_worker import LOG_END
from infra.local.cloud.moto_internals import FunctionConfig

WORKER = Path(__file__).with_name("lambda_worker.py")
#: Lambda's limit on the init phase of an on-demand environment.
INIT_TIMEOUT_S = 10.0
#: How often a busy environment's resident memory is checked against its MemorySize.
_MEMORY_CHECK_S = 0.05
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_LOG_TAIL_WAIT_S = 2.0


@dataclass(frozen=True)
class Invocation:
    """One invocation, kept for tests, benchmarks and the summary."""

    function_name: str
    request_id: str
    cold_start: bool
    errored: bool
    error_type: str | None
    duration_ms: float
    init_ms: float | None
    max_rss_mb: float


@dataclass(frozen=True)
class Interpreter:
    """The Python that runs function code, and the site directories it may import from.

    ``isolated`` hides this interpreter's own site-packages (``-S``): the handler then sees only
    its task root and ``site_dirs``, as a deployed artifact sees only itself and the runtime's
    boto3.
    """

    executable: str = sys.executable
    site_dirs: tuple[str, ...] = ()
    isolated: bool = False

    def command(self) -> list[str]:
        # -I: no PYTHON* variables, no user site, no script dir on sys.path; -u: unbuffered logs,
        # as Lambda's runtime writes every line as it comes (a killed process loses none).
        return [self.executable, "-I", "-u", *(["-S"] if self.isolated else [])]


class Host(Protocol):
    """What an environment needs of the runtime that runs it."""

    endpoint: str
    principals: Principals
    cloud_id: str

    @property
    def interpreter(self) -> Interpreter: ...

    def task_root(self, config: FunctionConfig) -> Path: ...

    def spawn(self, command: list[str], **options: Any) -> subprocess.Popen[bytes]: ...

    def ship_logs(
        self, config: FunctionConfig, stream: str, lines: list[tuple[int, str]]
    ) -> None: ...


@dataclass(frozen=True)
class Answer:
    """What an invocation returns to ``Invoke``: the payload, and the error type if it failed."""

    payload: str
    error_type: str | None = None

    @classmethod
    def error(cls, error: dict[str, Any]) -> Answer:
        return cls(json.dumps(error), str(error.get("errorType") or "Unknown"))


@dataclass(frozen=True)
class Outcome:
    answer: Answer
    invocation: Invocation


class ExecutionEnvironment:
    """One runtime process for one revision of a function; one invocation at a time."""

    def __init__(self, runtime: Host, config: FunctionConfig) -> None:
        self._runtime = runtime
        self.arn = config.arn
        self.revision = config.revision
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._answers_fd: int | None = None
        self._answer_buffer = b""
        self._log: queue.Queue[tuple[int, str] | None] = queue.Queue()
        self._dead = False
        self.log_group = config.log_group
        self.log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[{config.version}]{uuid.uuid4().hex}"
        self._init_ms: float | None = None
        self._max_rss = 0
        self._over_memory = False

    # -- lifecycle -------------------------------------------------------------------------------
    def alive(self) -> bool:
        return not self._dead and self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        self._dead = True
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        if self._answers_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._answers_fd)
            self._answers_fd = None

    # -- one invocation --------------------------------------------------------------------------
    def invoke(
        self, config: FunctionConfig, event: str, fault: AwsFault | None, invoked_arn: str
    ) -> Outcome:
        request_id = str(uuid.uuid4())
        cold = self._process is None
        started = time.perf_counter()
        self._max_rss = 0
        answer = self._init(config, request_id) if cold else None
        if answer is None:
            answer = self._run(config, request_id, event, fault, invoked_arn)
        duration = (time.perf_counter() - started) * 1000 - (self._init_ms or 0 if cold else 0)
        invocation = Invocation(
            function_name=config.name,
            request_id=request_id,
            cold_start=cold,
            errored=answer.error_type is not None,
            error_type=answer.error_type,
            duration_ms=round(duration, 1),
            init_ms=round(self._init_ms, 1) if cold and self._init_ms is not None else None,
            max_rss_mb=round(self._max_rss / 2**20, 1),
        )
        self._ship(config, self._take_log(request_id), invocation)
        return Outcome(answer, invocation)

    def _init(self, config: FunctionConfig, request_id: str) -> Answer | None:
        """The init phase: start the runtime process and import the handler. None when ready;
        else what the invocation answers (the environment is then discarded)."""
        task_root = self._runtime.task_root(config)
        interpreter = self._runtime.interpreter
        read_fd, write_fd = os.pipe()
        command = [
            *interpreter.command(),
            str(WORKER),
            "--handler",
            config.handler,
            "--answers",
            str(write_fd),
            "--parent",
            str(os.getpid()),
            "--cloud",
            self._runtime.cloud_id,
            "--path",
            str(task_root),
            *[part for site in interpreter.site_dirs for part in ("--path", site)],
        ]
        started = time.perf_counter()
        try:
            self._process = self._runtime.spawn(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
                cwd=task_root,
                env=self._environment(config, task_root),
            )
        finally:
            os.close(write_fd)
        self._answers_fd = read_fd
        self.pid = self._process.pid
        threading.Thread(target=self._read_log, name=f"log-{config.name}", daemon=True).start()
        # Lambda gives init 10 s, then retries it within the invocation's own timeout.
        ready = self._read_answer(time.monotonic() + INIT_TIMEOUT_S + config.timeout_s, None)
        self._init_ms = (time.perf_counter() - started) * 1000
        if ready is not None and ready.get("kind") == "ready":
            return None
        self._dead = True
        if ready is not None and ready.get("kind") == "initError":
            self.kill()
            return Answer.error({**ready["payload"], "requestId": request_id})
        return self._failure(config, request_id, timed_out=ready is None and self.alive())

    def _run(
        self,
        config: FunctionConfig,
        request_id: str,
        event: str,
        fault: AwsFault | None,
        invoked_arn: str,
    ) -> Answer:
        deadline = time.monotonic() + config.timeout_s
        request: dict[str, Any] = {
            "requestId": request_id,
            "event": event,
            "deadlineMs": (time.time() + config.timeout_s) * 1000,
            "invokedFunctionArn": invoked_arn,
            "traceId": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
        }
        if fault is not None:
            request["fault"] = {
                "kind": fault.kind.removeprefix("lambda_"),
                "at": fault.params.get("at", "start"),
            }
        process = self._process
        assert process is not None
        assert process.stdin is not None
        try:
            process.stdin.write(json.dumps(request).encode() + b"\n")
            process.stdin.flush()
        except OSError:
            return self._failure(config, request_id, timed_out=False)
        answer = self._read_answer(deadline, config.memory_mb)
        if answer is None:
            return self._failure(config, request_id, timed_out=time.monotonic() >= deadline)
        if answer.get("kind") == "result":
            return Answer(str(answer["payload"]))
        return Answer.error(answer.get("payload") or {"errorType": "Unknown"})

    def _failure(self, config: FunctionConfig, request_id: str, *, timed_out: bool) -> Answer:
        """No answer: the process ran out of memory, timed out or died; it is discarded."""
        process = self._process
        assert process is not None
        over_memory, alive = self._over_memory, process.poll() is None
        self.kill()
        if over_memory:
            kind, reason = "Runtime.OutOfMemory", "Runtime exited with error: signal: killed"
        elif timed_out and alive:
            kind, reason = (
                "Sandbox.Timedout",
                f"Task timed out after {config.timeout_s:.2f} seconds",
            )
            self._log.put((_now_ms(), f"{_stamp()} {request_id} {reason}"))
        else:
            kind, reason = (
                "Runtime.ExitError",
                f"Runtime exited with error: {_exit_reason(process)}",
            )
        message = f"RequestId: {request_id} Error: {reason}"
        return Answer.error({"errorType": kind, "errorMessage": message, "requestId": request_id})

    def _read_answer(self, deadline: float, memory_mb: int | None) -> dict[str, Any] | None:
        """The next answer line; None when the deadline passed, the resident size went over
        ``memory_mb`` or the process died first."""
        process, fd = self._process, self._answers_fd
        assert process is not None
        assert fd is not None
        self._over_memory = False
        limit = memory_mb * 2**20 if memory_mb else None
        while b"\n" not in self._answer_buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], min(remaining, _MEMORY_CHECK_S))
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:  # EOF: the process is gone
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=1)
                    return None
                self._answer_buffer += chunk
                continue
            rss = _resident_bytes(process.pid)
            self._max_rss = max(self._max_rss, rss)
            if limit is not None and rss > limit:
                self._over_memory = True
                return None
        line, _, self._answer_buffer = self._answer_buffer.partition(b"\n")
        self._max_rss = max(self._max_rss, _resident_bytes(process.pid))
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _environment(self, config: FunctionConfig, task_root: Path) -> dict[str, str]:
        """What the Lambda runtime sets, then the function's own variables; nothing inherited
        from this process but the local AWS endpoint. The credentials identify the execution
        role, as the role's temporary credentials do on AWS."""
        runtime_vars = {
            "AWS_REGION": config.region,
            "AWS_DEFAULT_REGION": config.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": config.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": self.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(WORKER.parent),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "_HANDLER": config.handler,
            **self._runtime.principals.credentials(config.role, CODE).environment(),
            "AWS_ENDPOINT_URL": self._runtime.endpoint,
        }
        return {**runtime_vars, **config.environment}

    # -- logs ------------------------------------------------------------------------------------
    def _read_log(self) -> None:
        process = self._process
        assert process is not None
        assert process.stdout is not None
        for raw in process.stdout:
            self._log.put((_now_ms(), raw.decode("utf-8", errors="replace").rstrip("\n")))
        self._log.put(None)

    def _take_log(self, request_id: str) -> list[tuple[int, str]]:
        """The lines written since the last invocation, up to this one's end mark."""
        lines: list[tuple[int, str]] = []
        end = time.monotonic() + (_LOG_TAIL_WAIT_S if not self._dead else 0.2)
        while True:
            try:
                item = self._log.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                return lines
            if item is None:
                return lines
            if item[1].startswith(LOG_END):
                if item[1][len(LOG_END) :] == request_id:
                    return lines
                continue  # the init phase's end mark
            lines.append(item)

    def _ship(
        self, config: FunctionConfig, lines: list[tuple[int, str]], invocation: Invocation
    ) -> None:
        request_id = invocation.request_id
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {invocation.duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, int(invocation.duration_ms + 0.999))} ms\t"
            f"Memory Size: {config.memory_mb} MB\t"
            f"Max Memory Used: {max(1, int(invocation.max_rss_mb))} MB"
        )
        if invocation.init_ms is not None:
            report += f"\tInit Duration: {invocation.init_ms:.2f} ms"
        if invocation.error_type in _RUNTIME_FAILURES:
            report += f"\tStatus: {_RUNTIME_FAILURES[invocation.error_type]}"
        first = lines[0][0] if lines else _now_ms()
        events = [
            (first, f"START RequestId: {request_id} Version: {config.version}"),
            *lines,
            (_now_ms(), f"END RequestId: {request_id}"),
            (_now_ms(), report),
        ]
        self._runtime.ship_logs(config, self.log_stream, events)


_RUNTIME_FAILURES = {
    "Sandbox.Timedout": "timeout",
    "Runtime.OutOfMemory": "error",
    "Runtime.ExitError": "error",
}


def _exit_reason(process: subprocess.Popen[bytes]) -> str:
    code = process.poll()
    if code is None:
        return "Runtime exited without providing a reason"
    if code < 0:
        try:
            return f"signal: {signal.Signals(-code).name.removeprefix('SIG').lower()}"
        except ValueError:
            return f"signal: {-code}"
    return f"exit status {code}"


def _resident_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def _now_ms() -> int:
    return int(time.time() * 1000)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
