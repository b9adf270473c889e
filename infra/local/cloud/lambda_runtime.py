"""Lambda execution environments on this machine: a warm worker process per environment.

Every invocation moto serves (``Invoke``, a Step Functions ``lambda:invoke`` task, an SQS event
source mapping's batch) arrives here with the function's deployed configuration and runs in an
:class:`ExecutionEnvironment`: a process started with exactly the function's environment (the
template's variables plus those Lambda sets), the deployed code unpacked as its task root, reused
warm by later invocations, one invocation at a time. So, as on AWS:

- invocations of one function and of different functions run concurrently; this process's
  ``os.environ`` is never touched;
- ``Timeout`` is enforced (the process is killed: ``Sandbox.Timedout``), ``MemorySize`` too (the
  resident size is watched; past it the process is killed: ``Runtime.OutOfMemory``), and a
  process that dies answers ``Runtime.ExitError``; the environment is then discarded;
- ``ReservedConcurrentExecutions`` caps concurrent invocations: one more is throttled (HTTP 429,
  ``Lambda.TooManyRequestsException`` in Step Functions). Without it the only cap is this
  machine's (``max_environments`` per function): excess invocations wait for a free environment
  rather than being throttled, as the account's far larger concurrency would let them run;
- everything the handler writes to stdout/stderr reaches the function's CloudWatch Logs group
  (``LoggingConfig.LogGroup``, else ``/aws/lambda/<name>``), one stream per environment, between
  ``START``/``END``/``REPORT`` lines, delivered as the Lambda service does it for the function's
  execution role;
- the code runs with credentials that identify the function's execution role (what Lambda hands
  the runtime), so the local AWS knows, per call, which role made it;
- each version (``$LATEST``, a published one behind an alias) has environments of its own.

The errors a timed-out, crashed or out-of-memory invocation reports are those of the Python
runtimes since late 2023 (``errorType`` in the payload, which Step Functions takes as the error
name); older runtimes gave Step Functions no ``errorType``, which it reported as ``Lambda.Unknown``.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import tempfile
import threading
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.cloud.execution_environment import ExecutionEnvironment, Interpreter, Invocation
from infra.local.cloud.faults import LAMBDA_FAULTS, Faults
from infra.local.cloud.iam_calls import Principals
from infra.local.cloud.moto_internals import FunctionConfig, LambdaThrottled

#: Environments one function may have at once on this machine (a local resource limit, not an
#: AWS quota: excess invocations wait rather than being throttled).
DEFAULT_MAX_ENVIRONMENTS = 4


#: Ships one environment's log lines, as the function's execution role:
#: ``(role_arn, log_group, log_stream, [(epoch_ms, line), ...])``.
LogSink = Callable[[str, str, str, list[tuple[int, str]]], None]


@dataclass
class RuntimeOptions:
    max_environments: int = DEFAULT_MAX_ENVIRONMENTS
    interpreter: Interpreter = field(default_factory=Interpreter)


class LambdaRuntime:
    """Execution environments for every function of a local cloud."""

    def __init__(
        self,
        *,
        endpoint: str,
        faults: Faults,
        log_sink: LogSink,
        principals: Principals,
        options: RuntimeOptions | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.faults = faults
        self.principals = principals
        self.options = options or RuntimeOptions()
        self._log_sink = log_sink
        self._pools: dict[str, _Pool] = {}
        self._pools_lock = threading.Lock()
        self._code_root = Path(tempfile.mkdtemp(prefix="local-lambda-"))
        self._code_lock = threading.Lock()
        self._invocations: list[Invocation] = []
        self._aliases: dict[str, tuple[str, ...]] = {}
        self._closed = False
        self.cloud_id = uuid.uuid4().hex[:12]
        # Workers ask the kernel to kill them when the thread that started them ends (Linux ties
        # PR_SET_PDEATHSIG to the thread): so every worker is started by this one long-lived
        # thread, never by the short-lived request thread that needed it.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambda-spawner")

    # -- invoking --------------------------------------------------------------------------------
    def invoke(self, config: FunctionConfig, event: str, invoked_arn: str) -> tuple[str, bool]:
        """Run one invocation of the version ``config`` (which ``invoked_arn``, the ARN the caller
        named, resolved to); ``(payload_json, errored)``, or :class:`LambdaThrottled`."""
        if self._closed:
            raise RuntimeError("the local Lambda runtime is stopped")
        targets = (config.name, *self._aliases.get(config.name, ()))
        if self.faults.hit(frozenset({"lambda_throttle"}), targets, lambda: event):
            raise LambdaThrottled("ReservedFunctionConcurrentInvocationLimitExceeded")
        fault = self.faults.hit(LAMBDA_FAULTS - {"lambda_throttle"}, targets, lambda: event)
        pool = self._pool(config)
        environment = pool.acquire(config)
        try:
            outcome = environment.invoke(config, event, fault, invoked_arn)
        finally:
            pool.release(environment)
        self._invocations.append(outcome.invocation)
        return outcome.answer.payload, outcome.answer.error_type is not None

    def name_functions(self, names: dict[str, str]) -> None:
        """Let faults target a function by its logical id: ``{function name: logical id}``."""
        for name, logical_id in names.items():
            self._aliases[name] = (logical_id,)

    @property
    def invocations(self) -> list[Invocation]:
        return list(self._invocations)

    def worker_pids(self) -> list[int]:
        with self._pools_lock:
            pools = list(self._pools.values())
        return [pid for pool in pools for pid in pool.pids()]

    # -- lifecycle -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Kill every environment and forget the unpacked code."""
        self._closed = True
        with self._pools_lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()
        self._spawner.shutdown(wait=True)
        shutil.rmtree(self._code_root, ignore_errors=True)

    def spawn(self, command: list[str], **options: Any) -> subprocess.Popen[bytes]:
        """Start a worker process from the spawner thread."""

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(command, **options)  # noqa: S603 - our own worker

        return self._spawner.submit(start).result()

    # -- internals -------------------------------------------------------------------------------
    def _pool(self, config: FunctionConfig) -> _Pool:
        with self._pools_lock:
            pool = self._pools.get(config.name)
            if pool is None:
                pool = _Pool(self)
                self._pools[config.name] = pool
            return pool

    def task_root(self, config: FunctionConfig) -> Path:
        """The deployed code, unpacked once per code version."""
        digest = config.code_sha256.replace("/", "_").replace("+", "-") or "empty"
        root = self._code_root / digest
        with self._code_lock:
            if not root.exists():
                staging = Path(tempfile.mkdtemp(dir=self._code_root))
                with zipfile.ZipFile(io.BytesIO(config.code_zip)) as archive:
                    archive.extractall(staging)
                staging.rename(root)
        return root

    @property
    def interpreter(self) -> Interpreter:
        return self.options.interpreter

    def ship_logs(self, config: FunctionConfig, stream: str, lines: list[tuple[int, str]]) -> None:
        with contextlib.suppress(Exception):  # logs never decide an invocation's outcome
            self._log_sink(config.role, config.log_group, stream, lines)


class _Pool:
    """The environments of one function: warm ones wait here between invocations."""

    def __init__(self, runtime: LambdaRuntime) -> None:
        self._runtime = runtime
        self._idle: list[ExecutionEnvironment] = []
        self._all: set[ExecutionEnvironment] = set()
        self._busy = 0
        self._condition = threading.Condition()

    def acquire(self, config: FunctionConfig) -> ExecutionEnvironment:
        """A warm environment of this revision, else a new (cold) one. Idle environments of an
        older revision of the same version (a redeployment) are discarded; those of another
        version stay."""
        limit = self._runtime.options.max_environments
        with self._condition:
            reserved = config.reserved_concurrency
            if reserved is not None and self._busy >= reserved:
                raise LambdaThrottled("ReservedFunctionConcurrentInvocationLimitExceeded")
            self._condition.wait_for(lambda: self._busy < limit)
            self._busy += 1
            stale = [e for e in self._idle if e.arn == config.arn and e.revision != config.revision]
            for environment in stale:
                self._idle.remove(environment)
            warm = next(
                (e for e in reversed(self._idle) if e.revision == config.revision and e.alive()),
                None,
            )
            if warm is not None:
                self._idle.remove(warm)
        for environment in stale:
            self._discard(environment)
        if warm is not None:
            return warm
        environment = ExecutionEnvironment(self._runtime, config)
        with self._condition:
            self._all.add(environment)
        return environment

    def release(self, environment: ExecutionEnvironment) -> None:
        with self._condition:
            self._busy -= 1
            if environment.alive() and not self._runtime._closed:
                self._idle.append(environment)
                environment = None  # type: ignore[assignment]
            self._condition.notify()
        if environment is not None:
            self._discard(environment)

    def _discard(self, environment: ExecutionEnvironment) -> None:
        environment.kill()
        with self._condition:
            self._all.discard(environment)

    def pids(self) -> list[int]:
        with self._condition:
            return [e.pid for e in self._all if e.pid is not None]

    def close(self) -> None:
        with self._condition:
            environments = list(self._all)
            self._idle.clear()
            self._all.clear()
        for environment in environments:
            environment.kill()
