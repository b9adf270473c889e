"""The state machine on a second, independent interpreter: ``aws-local-stepfunctions`` (npm).

Why: every path of the workflow ran on one interpreter only, moto's, which is a copy of
LocalStack's. This runs **the same definition** on an interpreter written by someone else, against
the same local cloud, so that the two can be compared state by state
(``tests/workflow/test_second_interpreter.py``); where they differ, one of them, or the ASL, is
wrong.

- The definition is the one the local cloud runs, read back with ``DescribeStateMachine``: every
  ``${...}`` already resolved by the deployer (:mod:`infra.local.cloud.deployer`), not by a
  second copy of its code.
- One Node process per execution (``infra/build/interpreter/run.mjs``, the package pinned by
  ``package-lock.json`` beside it and installed by ``make`` into ``.tools/interpreter``) runs the
  library; each of its Task states calls back here over JSON lines.
- Here each Task is made as Step Functions makes it, on the same local cloud and signed as the
  state machine's role: ``lambda:invoke`` through the Lambda API (the same handlers, in the same
  worker processes with their environment; a fault armed with ``match`` fires for them too) and
  ``events:putEvents`` through EventBridge. Errors get the names Step Functions gives them, so
  the definition's Retry and Catch see what they would see on AWS.

The context object the library lacks (``$$.Execution.Id``/``Name``, ``$$.StateMachine``) is
given to it; the execution's ARN is the one Step Functions would give an execution of that name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from infra.local.cloud import LocalCloud
from infra.local.cloud.iam_calls import STATES

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "infra" / "build" / "interpreter" / "run.mjs"
#: Where ``make`` runs ``npm ci`` (the folder holding ``node_modules``).
MODULES = ROOT / ".tools" / "interpreter"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
PUT_EVENTS = "arn:aws:states:::events:putEvents"
#: The Invoke parameters a ``lambda:invoke`` Task may pass on (the service integration's own).
_INVOKE_PARAMETERS = ("FunctionName", "Qualifier", "ClientContext", "InvocationType", "LogType")
#: One call per attempt, as Step Functions makes it (its Retry, not the SDK's, retries), and long
#: enough for any function's Timeout.
_CLIENT_CONFIG = Config(retries={"total_max_attempts": 1}, read_timeout=900, connect_timeout=10)


class InterpreterMissing(RuntimeError):
    """Node or the pinned package is not installed."""


class TaskFailed(Exception):
    """A Task's failure as Step Functions names it: ``name`` is what Retry and Catch match,
    ``cause`` what a Catch puts beside it."""

    def __init__(self, name: str, cause: str) -> None:
        super().__init__(f"{name}: {cause}")
        self.name = name
        self.cause = cause


@dataclass(frozen=True)
class InterpreterRun:
    """One finished execution on the second interpreter: its event log, as the library wrote it
    (``ExecutionStarted``, ``StateEntered``/``Exited``/``Failed``/``Retried``/``Caught``,
    ``ExecutionSucceeded``/``Failed``; times in epoch milliseconds)."""

    name: str
    arn: str
    events: tuple[dict[str, Any], ...]
    #: What the Node process wrote to stderr (warnings, or why it crashed).
    stderr: str = ""

    @property
    def last(self) -> dict[str, Any]:
        return self.events[-1] if self.events else {}

    @property
    def status(self) -> str:
        """Step Functions' name for how it ended."""
        return {
            "ExecutionSucceeded": "SUCCEEDED",
            "ExecutionFailed": "FAILED",
            "ExecutionTimeout": "TIMED_OUT",
            "ExecutionAborted": "ABORTED",
        }.get(str(self.last.get("type")), "RUNNING")

    @property
    def error(self) -> str | None:
        value = self.last.get("Error")
        return value if isinstance(value, str) else None

    @property
    def cause(self) -> str | None:
        value = self.last.get("Cause")
        return value if isinstance(value, str) or value is None else json.dumps(value)


class TaskCalls(Protocol):
    """What answers an execution's Task states: a result, or :class:`TaskFailed`."""

    def call(self, resource: str, parameters: Any, execution_arn: str) -> Any: ...


@dataclass
class Integrations:
    """The service integrations the product's Task states use, made as Step Functions makes
    them, with the clients of the state machine's role."""

    lambda_client: Any
    events_client: Any
    state_machine_arn: str

    def call(self, resource: str, parameters: Any, execution_arn: str) -> Any:
        """The Task's result (what ``ResultSelector`` reads), or :class:`TaskFailed`."""
        if not isinstance(parameters, dict):
            raise TaskFailed("States.Runtime", "the Task's Parameters must be an object")
        if resource == LAMBDA_INVOKE:
            return self.invoke(parameters)
        if resource == PUT_EVENTS:
            return self.put_events(parameters, execution_arn)
        raise TaskFailed("States.Runtime", f"no integration for resource {resource!r} here")

    def invoke(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """``lambda:invoke``: the response with its ``Payload`` parsed; a function error fails
        the Task under the payload's ``errorType``, the payload's text being the ``Cause``; an
        error of the Lambda service under ``Lambda.<code>``."""
        request = {k: parameters[k] for k in _INVOKE_PARAMETERS if k in parameters}
        payload = parameters.get("Payload")
        request["Payload"] = payload if isinstance(payload, str) else json.dumps(payload)
        try:
            answer = self.lambda_client.invoke(**request)
        except ClientError as error:
            raise TaskFailed(f"Lambda.{_code(error)}", _message(error)) from None
        except BotoCoreError as error:
            raise TaskFailed("Lambda.SdkClientException", str(error)) from None
        text = answer["Payload"].read().decode("utf-8")
        if answer.get("FunctionError"):
            raise TaskFailed(_error_type(text), text)
        return {
            "ExecutedVersion": answer.get("ExecutedVersion", "$LATEST"),
            "Payload": _json_or_text(text),
            "SdkHttpMetadata": {"HttpStatusCode": answer["StatusCode"]},
            "SdkResponseMetadata": {
                "RequestId": answer.get("ResponseMetadata", {}).get("RequestId")
            },
            "StatusCode": answer["StatusCode"],
        }

    def put_events(self, parameters: dict[str, Any], execution_arn: str) -> dict[str, Any]:
        """``events:putEvents``: an object ``Detail`` sent as its JSON text and the state
        machine's and the execution's ARNs added to each entry's ``Resources``, as the
        integration does; any failed entry fails the Task (``EventBridge.FailedEntry``, the
        response as ``Cause``)."""
        entries = []
        for entry in parameters.get("Entries") or []:
            sent = dict(entry)
            if isinstance(sent.get("Detail"), dict | list):
                sent["Detail"] = json.dumps(sent["Detail"], separators=(",", ":"))
            sent["Resources"] = [*sent.get("Resources", []), self.state_machine_arn, execution_arn]
            entries.append(sent)
        try:
            answer = self.events_client.put_events(Entries=entries)
        except ClientError as error:
            raise TaskFailed(f"EventBridge.{_code(error)}", _message(error)) from None
        answer.pop("ResponseMetadata", None)
        if answer.get("FailedEntryCount"):
            raise TaskFailed("EventBridge.FailedEntry", json.dumps(answer))
        return dict(answer)


@dataclass
class RunningExecution:
    """One execution under way: its Node process and the thread answering its Tasks."""

    name: str
    arn: str
    process: subprocess.Popen[str]
    tasks: TaskCalls
    stderr: IO[bytes]
    events: list[dict[str, Any]] = field(default_factory=list)
    crash: str | None = None
    _thread: threading.Thread | None = None

    def serve(self) -> None:
        """Answer the Task requests and keep the events until the execution ends."""
        self._thread = threading.Thread(target=self._serve, name=f"sfn-{self.name}", daemon=True)
        self._thread.start()

    def wait(self, timeout: float) -> InterpreterRun:
        """The finished run; the process is killed if it has not ended within ``timeout``."""
        assert self._thread is not None
        self._thread.join(timeout)
        ended = not self._thread.is_alive()
        self._stop()
        self.stderr.seek(0)
        stderr = self.stderr.read().decode("utf-8", "replace")
        self.stderr.close()
        if not ended:
            raise TimeoutError(f"{self.name} did not end within {timeout} s: {stderr[-2000:]}")
        if self.crash is not None:
            raise RuntimeError(f"the interpreter crashed running {self.name}: {self.crash}")
        return InterpreterRun(self.name, self.arn, tuple(self.events), stderr)

    def _serve(self) -> None:
        """Until the runner says the execution ended; anything else (the runner dying, a bridge
        error) is a crash :meth:`wait` reports, never a run cut short passed off as finished."""
        assert self.process.stdout is not None
        try:
            for line in self.process.stdout:
                message = json.loads(line)
                kind = message.get("type")
                if kind == "event":
                    self.events.append(message["event"])
                elif kind == "task":
                    self._answer(message)
                elif kind == "crash":
                    self.crash = str(message.get("message"))
                if kind in ("end", "crash"):
                    return
            self.crash = f"node exited ({self.process.wait()}) before the execution ended"
        except Exception as error:  # reported by wait(), with the run's name
            self.crash = f"the bridge failed: {type(error).__name__}: {error}"

    def _answer(self, request: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"id": request["id"]}
        try:
            reply["result"] = self.tasks.call(
                str(request.get("resource")), request.get("input"), self.arn
            )
        except TaskFailed as failed:
            reply["error"] = {"name": failed.name, "cause": failed.cause}
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(reply) + "\n")
        self.process.stdin.flush()

    def _stop(self) -> None:
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@dataclass(frozen=True)
class NodeRunner:
    """How an execution is started: ``run.mjs`` under ``node``, the library from ``modules``."""

    node: str
    modules: Path = MODULES

    @classmethod
    def installed(cls, modules: Path = MODULES) -> NodeRunner:
        """The machine's node and the pinned package, or :class:`InterpreterMissing` saying how
        to install them."""
        node = shutil.which("node") or shutil.which("nodejs")
        package = modules / "node_modules" / "aws-local-stepfunctions" / "package.json"
        if node is None or not package.exists():
            raise InterpreterMissing(
                f"node and {package} are needed: make interpreter (part of make unit) installs them"
            )
        return cls(node, modules)

    def start(self, execution: ExecutionRequest, tasks: TaskCalls) -> RunningExecution:
        """Start ``execution``, its Task states answered by ``tasks``."""
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by RunningExecution.wait
        process = subprocess.Popen(  # noqa: S603 - the machine's node, our own script
            [self.node, str(RUNNER), str(self.modules)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(execution.message()) + "\n")
        process.stdin.flush()
        running = RunningExecution(execution.name, execution.arn, process, tasks, stderr)
        running.serve()
        return running


@dataclass(frozen=True)
class ExecutionRequest:
    """What one execution runs: a definition, its input, and who it is (the context object's
    ``Execution`` and ``StateMachine``, which the library does not make up itself)."""

    definition: dict[str, Any]
    input: Any
    arn: str
    state_machine_arn: str
    role_arn: str = ""

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1]

    def message(self) -> dict[str, Any]:
        machine = self.state_machine_arn.rsplit(":", 1)[-1]
        execution = {"Id": self.arn, "Name": self.name, "RoleArn": self.role_arn}
        return {
            "definition": self.definition,
            "input": self.input,
            "context": {
                "Execution": {**execution, "RedriveCount": 0},
                "StateMachine": {"Id": self.state_machine_arn, "Name": machine},
            },
        }


class SecondInterpreter:
    """Runs executions of one of the local cloud's state machines on aws-local-stepfunctions."""

    def __init__(
        self, cloud: LocalCloud, state_machine_arn: str, runner: NodeRunner | None = None
    ) -> None:
        self.runner = runner or NodeRunner.installed()
        described = cloud.client("stepfunctions").describe_state_machine(
            stateMachineArn=state_machine_arn
        )
        self.definition: dict[str, Any] = json.loads(described["definition"])
        self.state_machine_arn = state_machine_arn
        self.role_arn: str = described["roleArn"]
        role = cloud.principals.credentials(self.role_arn, STATES).boto()
        self.integrations = Integrations(
            cloud.client("lambda", config=_CLIENT_CONFIG, **role),
            cloud.client("events", config=_CLIENT_CONFIG, **role),
            state_machine_arn,
        )

    def execution_arn(self, name: str) -> str:
        """The ARN Step Functions gives an execution of this state machine named ``name``."""
        parts = self.state_machine_arn.split(":")  # arn:aws:states:<region>:<account>:...
        return ":".join([*parts[:5], "execution", parts[-1], name])

    def start(self, name: str, execution_input: str) -> RunningExecution:
        """Start an execution named ``name`` with ``execution_input`` (JSON text, as
        StartExecution takes it)."""
        request = ExecutionRequest(
            self.definition,
            json.loads(execution_input),
            self.execution_arn(name),
            self.state_machine_arn,
            self.role_arn,
        )
        return self.runner.start(request, self.integrations)


# -- helpers -------------------------------------------------------------------------------------
def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code") or "Unknown")


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message") or error)


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _error_type(payload: str) -> str:
    """A function error's name: its payload's ``errorType`` (Lambda's Python runtime always
    writes one; ``Lambda.Unknown`` when a runtime wrote none)."""
    parsed = _json_or_text(payload)
    name = parsed.get("errorType") if isinstance(parsed, dict) else None
    return name if isinstance(name, str) and name else "Lambda.Unknown"
