"""The running local cloud: moto (the AWS APIs), Lambda environments, SQS pollers, the emulator.

``with LocalCloud(emulator=EmulatorConfig()) as cloud: stack = cloud.deploy(Path("template.yaml"))``

Everything that talks to AWS, in this process or a Lambda worker process, reaches moto through
the standard ``AWS_ENDPOINT_URL`` plus credentials: the handlers need no local-only branches.
Function code, the Lambda service acting for a function, and the Step Functions interpreter each
get credentials identifying the IAM role they act as, so every call is recorded with its
principal (``cloud.aws_calls()``); anything else is the account's administrator. This process's
environment is set once, at start, and restored at stop; nothing changes it while invocations run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import threading
import urllib.request
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from infra.local.cloud import moto_internals
from infra.local.cloud.deployer import Deployer, DeployRequest, StackInfo
from infra.local.cloud.event_sources import EventSources
from infra.local.cloud.faults import FaultInjectingApp, Faults
from infra.local.cloud.iam_calls import (
    ADMINISTRATOR,
    LAMBDA_SERVICE,
    STATES,
    AwsCall,
    CallLog,
    Principals,
)
from infra.local.cloud.lambda_runtime import LambdaRuntime, RuntimeOptions
from infra.stack.aspose import AsposeAccess
from infra.stack.serving import HOST, Running, ServerThread, free_port

if TYPE_CHECKING:
    from infra.local.emulator import EmulatorConfig, EmulatorProcess

DEFAULT_REGION = "eu-west-1"
ACCOUNT_ID = moto_internals.ACCOUNT_ID

# What every AWS SDK in this process needs; restored when the cloud stops.
_ENV_KEYS = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "MOTO_PORT",
    "AWS_PROFILE",
)
# Loggers that would print a line per request or per skipped resource; the deploy summary says
# which resources are not emulated. The interpreter logs every failed state (even a caught one)
# with a page-long repr; the same facts are in GetExecutionHistory.
_QUIET_LOGGERS = {
    "werkzeug": logging.WARNING,
    "moto": logging.ERROR,
    "moto.stepfunctions.parser.asl.component.eval_component": logging.CRITICAL,
    "samtranslator": logging.ERROR,  # "unpublished metrics" from its own telemetry object
}


class LocalCloud(Running):
    """A local AWS running SAM templates, their state machines and their functions."""

    _running: LocalCloud | None = None

    def __init__(
        self,
        *,
        region: str = DEFAULT_REGION,
        port: int | None = None,
        emulator: EmulatorConfig | None = None,
        aspose: AsposeAccess | None = None,
        runtime: RuntimeOptions | None = None,
    ) -> None:
        if emulator is not None and aspose is not None:
            raise ValueError("give an emulator to start or an Aspose to use, not both")
        self.region = region
        self.port = port or free_port()
        self.endpoint = f"http://{HOST}:{self.port}"
        self.faults = Faults()
        self.principals = Principals(ACCOUNT_ID)
        self.calls = CallLog(
            self.principals,
            ACCOUNT_ID,
            kms_key_of=lambda bucket, key: moto_internals.s3_kms_key(self.region, bucket, key),
        )
        self.emulator: EmulatorProcess | None = None
        self.aspose = aspose
        self.stacks: dict[str, StackInfo] = {}
        self._emulator_config = emulator
        self._runtime_options = runtime or RuntimeOptions()
        self._runtime: LambdaRuntime | None = None
        self._server: ServerThread | None = None
        self._event_sources: EventSources | None = None
        self._logs: _LogShipper | None = None
        self._saved_env: dict[str, str | None] = {}
        self._saved_sfn_config: dict[str, Any] | None = None
        self._saved_log_levels: dict[str, int] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    def _start(self) -> None:
        """Start moto, the Lambda runtime and SQS pollers (and the emulator, if asked)."""
        # moto's backends and the Lambda hook are process-wide: one cloud at a time.
        if LocalCloud._running is not None:
            raise RuntimeError(f"another LocalCloud is running at {LocalCloud._running.endpoint}")
        LocalCloud._running = self
        self._set_environment()
        self._quiet_logs()
        moto = moto_internals.make_moto_server(
            HOST, self.port, lambda app: FaultInjectingApp(app, self.faults, self.calls)
        )
        self._server = ServerThread(moto, "moto-server")
        self._server.start()
        self._saved_sfn_config = moto_internals.stepfunctions_config()
        moto_internals.speed_up_interpreter(
            lambda role: self.principals.credentials(role, STATES).boto()
        )
        moto_internals.register_cloudformation_models()
        moto_internals.make_conditional_writes_atomic()
        self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
        self._logs = _LogShipper(self.client, self.principals)
        self._runtime = LambdaRuntime(
            endpoint=self.endpoint,
            faults=self.faults,
            log_sink=self._logs.ship,
            principals=self.principals,
            options=self._runtime_options,
        )
        moto_internals.install_lambda_invoker(self._runtime.invoke)
        self._event_sources = EventSources(self.client, self.region, self.principals)
        if self._emulator_config is not None:
            from infra.local.emulator import EmulatorProcess

            self.emulator = EmulatorProcess(self._emulator_config).start()
            self.aspose = AsposeAccess(
                self.emulator.base_url,
                self.emulator.token_url,
                self.emulator.client_id,
                self.emulator.client_secret,
            )

    def _stop(self) -> None:
        """Stop everything this cloud started and put this process back as it was."""
        if LocalCloud._running is not self:
            return
        if self._event_sources is not None:
            self._event_sources.stop()
        if self._runtime is not None:
            moto_internals.uninstall_lambda_invoker()
            self._runtime.stop()
        if self._logs is not None:
            self._logs.stop()
        if self._server is not None:
            with contextlib.suppress(OSError):  # the server is going away anyway
                self._post("/moto-api/reset", {})
            self._server.stop()
        if self.emulator is not None:
            self.emulator.stop()
        if self._saved_sfn_config is not None:
            moto_internals.restore_stepfunctions_config(self._saved_sfn_config)
            moto_internals.restore_interpreter()
            moto_internals.restore_conditional_writes()
        self._restore_environment()
        for name, level in self._saved_log_levels.items():
            logging.getLogger(name).setLevel(level)
        self._server = self._runtime = self._event_sources = self._logs = None
        self._saved_sfn_config = None
        LocalCloud._running = None

    # -- deploying -------------------------------------------------------------------------------
    def deploy(
        self,
        template: Path,
        *,
        parameters: dict[str, str] | None = None,
        secrets: dict[str, Any] | None = None,
        stack_name: str = "ocr-regions-local",
        defaults: dict[str, str] | None = None,
    ) -> StackInfo:
        """Package, transform and create ``template`` as a CloudFormation stack here.

        ``parameters`` must be the template's (as CloudFormation insists); ``defaults`` are
        values for those of its parameters that ``parameters`` does not set, used only where
        the template declares them (``make local``'s local defaults, whatever the template).
        The stack creates its secrets; ``secrets`` maps a secret's logical id to the value then
        put in it (a dict is stored as JSON), as a user does after ``sam deploy``. Without one,
        the Aspose credentials of this cloud are put in any secret the template declares, and its
        Aspose URLs fill the ``AsposeBaseUrl``/``AsposeTokenUrl`` parameters if declared.
        """
        runtime, event_sources = self._runtime, self._event_sources
        if runtime is None or event_sources is None:
            raise RuntimeError("LocalCloud is not started")
        aspose = self.aspose
        request = DeployRequest(
            template=Path(template),
            stack_name=stack_name,
            parameters=dict(parameters or {}),
            secrets=dict(secrets or {}),
            default_secret=(
                {"clientId": aspose.client_id, "clientSecret": aspose.client_secret}
                if aspose is not None
                else None
            ),
            parameter_defaults={
                **(defaults or {}),
                **(
                    {"AsposeBaseUrl": aspose.base_url, "AsposeTokenUrl": aspose.token_url}
                    if aspose is not None
                    else {}
                ),
            },
        )
        stack = Deployer(self.client, self.region, self.endpoint).deploy(request)
        runtime.name_functions({name: logical for logical, name in stack.functions.items()})
        moto_internals.detach_sqs_event_source_mappings(self.region)
        event_sources.sync()
        self.stacks[stack_name] = stack
        return stack

    # -- using it --------------------------------------------------------------------------------
    @property
    def runtime(self) -> LambdaRuntime:
        if self._runtime is None:
            raise RuntimeError("LocalCloud is not started")
        return self._runtime

    def client(self, service: str, **options: Any) -> Any:
        """A boto3 client for ``service`` bound to the local endpoint (``options``: e.g.
        ``config=``, or credentials other than the administrator's)."""
        return boto3.client(service, **{**self._boto_arguments(), **options})

    def resource(self, service: str) -> Any:
        """A boto3 resource (``dynamodb``, ``s3``) bound to the local endpoint."""
        return boto3.resource(service, **self._boto_arguments())

    def aws_calls(self) -> list[AwsCall]:
        """Every distinct AWS call made since start (or :meth:`clear_aws_calls`): principal,
        IAM action, resources, origin; in the order first seen. ``calls.counts()`` counts them."""
        return self.calls.calls()

    def clear_aws_calls(self) -> None:
        self.calls.clear()

    def flush_logs(self) -> None:
        """Wait until every log line written so far is in CloudWatch Logs."""
        if self._logs is not None:
            self._logs.flush()

    def environment(self) -> dict[str, str]:
        """Variables that point another process's AWS SDK or CLI at this cloud."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            **ADMINISTRATOR.environment(),
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    # -- internals -------------------------------------------------------------------------------
    def _boto_arguments(self) -> dict[str, str]:
        return {"region_name": self.region, "endpoint_url": self.endpoint, **ADMINISTRATOR.boto()}

    def _quiet_logs(self) -> None:
        for name, level in _QUIET_LOGGERS.items():
            logger = logging.getLogger(name)
            self._saved_log_levels[name] = logger.level
            logger.setLevel(level)
        warnings.filterwarnings(
            "ignore", message="Tried to parse .* not supported by moto", category=UserWarning
        )

    def _set_environment(self) -> None:
        self._saved_env = {key: os.environ.get(key) for key in _ENV_KEYS}
        os.environ.pop("AWS_PROFILE", None)  # a real profile must never be used by mistake
        os.environ.update(self.environment())
        # moto's Step Functions interpreter builds its own clients for localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.port)

    def _restore_environment(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}

    def _post(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 - always our own http://127.0.0.1 endpoint
            self.endpoint + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()


_Lines = list[tuple[int, str]]


class _LogShipper:
    """Puts Lambda log lines into CloudWatch Logs from one thread, in order per stream, as the
    Lambda service does: with the credentials of the function's execution role."""

    def __init__(self, client: Any, principals: Principals) -> None:
        self._client = client
        self._principals = principals
        self._clients: dict[str, Any] = {}
        self._queue: queue.Queue[tuple[str, str, str, _Lines] | None] = queue.Queue()
        self._streams: set[tuple[str, str]] = set()
        self._thread = threading.Thread(target=self._run, name="log-shipper", daemon=True)
        self._thread.start()

    def ship(self, role: str, group: str, stream: str, lines: _Lines) -> None:
        self._queue.put((role, group, stream, lines))

    def flush(self) -> None:
        self._queue.join()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:  # everything queued meanwhile goes in the same calls, per stream
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            streams: dict[tuple[str, str, str], _Lines] = {}
            for item in batch:
                if item is not None:
                    streams.setdefault(item[:3], []).extend(item[3])
            for (role, group, stream), lines in streams.items():
                with contextlib.suppress(Exception):  # logs never stop the cloud
                    self._put(self._logs_as(role), group, stream, lines)
            for _ in batch:
                self._queue.task_done()
            if None in batch:
                return

    def _logs_as(self, role: str) -> Any:
        if role not in self._clients:
            credentials = self._principals.credentials(role, LAMBDA_SERVICE)
            self._clients[role] = self._client("logs", **credentials.boto())
        return self._clients[role]

    def _put(self, logs: Any, group: str, stream: str, lines: _Lines) -> None:
        if (group, stream) not in self._streams:
            # The group is created only when missing (the template usually declares it), so the
            # role is asked for logs:CreateLogGroup only when Lambda would ask for it.
            try:
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
            except logs.exceptions.ResourceNotFoundException:
                with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                    logs.create_log_group(logGroupName=group)
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
            self._streams.add((group, stream))
        events = [{"timestamp": t, "message": m or " "} for t, m in sorted(lines, key=_first)]
        for start in range(0, len(events), 1000):
            logs.put_log_events(
                logGroupName=group, logStreamName=stream, logEvents=events[start : start + 1000]
            )


def _first(line: tuple[int, str]) -> int:
    return line[0]
