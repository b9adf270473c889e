"""The local AWS: one moto server in this process, with executing Step Functions and the bridge.

Everything that talks to AWS, in this process or another, reaches it through the standard
``AWS_ENDPOINT_URL`` plus dummy credentials: the handlers need no local-only branches.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import urllib.request
import warnings
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import boto3

from infra.local_cloud.lambda_bridge import LambdaBridge

if TYPE_CHECKING:
    from infra.local_cloud.deploy import StackInfo

DEFAULT_REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account

# What every AWS SDK in this process (and any child process given this environment) needs.
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
# which resources are not emulated, so their noise is turned down while the cloud runs.
# The interpreter logs every failed state (even a caught one) with a page-long repr; the same
# facts are in GetExecutionHistory.
_QUIET_LOGGERS = {
    "werkzeug": logging.WARNING,
    "moto": logging.ERROR,
    "moto.stepfunctions.parser.asl.component.eval_component": logging.CRITICAL,
    "samtranslator": logging.ERROR,  # "unpublished metrics" from its own telemetry object
}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalCloud:
    """A moto server with executing state machines and in-process Lambda handlers.

    ``with LocalCloud() as cloud: stack = cloud.deploy(Path("template.yaml"), ...)``
    """

    _running: LocalCloud | None = None

    def __init__(
        self,
        *,
        region: str = DEFAULT_REGION,
        port: int | None = None,
        aspose_base_url: str | None = None,
        aspose_token_url: str | None = None,
        aspose_client_id: str | None = None,
        aspose_client_secret: str | None = None,
    ) -> None:
        self.region = region
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.aspose_base_url = aspose_base_url
        self.aspose_token_url = aspose_token_url
        self.aspose_client_id = aspose_client_id
        self.aspose_client_secret = aspose_client_secret
        self.bridge = LambdaBridge()
        self.stacks: dict[str, StackInfo] = {}
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._saved_sfn_config: dict[str, Any] | None = None
        self._saved_log_levels: dict[str, int] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    @classmethod
    def for_aspose(cls, aspose: Any, **kwargs: Any) -> LocalCloud:
        """A local cloud whose stacks talk to ``aspose`` (anything with ``base_url``,
        ``token_url``, ``client_id`` and ``client_secret``, e.g. an ``EmulatorServer``)."""
        return cls(
            aspose_base_url=aspose.base_url,
            aspose_token_url=aspose.token_url,
            aspose_client_id=aspose.client_id,
            aspose_client_secret=aspose.client_secret,
            **kwargs,
        )

    def start(self) -> LocalCloud:
        """Start the server, point this process's SDKs at it and install the Lambda bridge."""
        from moto.server import ThreadedMotoServer

        if self._server is not None:
            return self
        # moto's backends and the patched Lambda runner are process-wide: one cloud at a time.
        if LocalCloud._running is not None:
            raise RuntimeError(f"another LocalCloud is running at {LocalCloud._running.endpoint}")
        LocalCloud._running = self
        self._set_environment()
        self._quiet_logs()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self._enable_state_machine_execution()
        self.bridge.install()
        return self

    def stop(self) -> None:
        """Stop the server, forget its state and put the environment back as it was."""
        if self._server is None:
            return
        self.bridge.uninstall()
        with contextlib.suppress(OSError):  # the server is going away anyway
            self._post("/moto-api/reset", {})
        self._server.stop()
        self._server = None
        self._restore_sfn_config()
        self._restore_environment()
        LocalCloud._running = None
        for name, level in self._saved_log_levels.items():
            logging.getLogger(name).setLevel(level)

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- deploying -------------------------------------------------------------------------------
    def deploy(
        self,
        template: Path,
        *,
        parameters: dict[str, str] | None = None,
        secrets: dict[str, Any] | None = None,
        stack_name: str = "ocr-regions-local",
    ) -> StackInfo:
        """Package, transform and create ``template`` as a CloudFormation stack in the local AWS.

        ``secrets`` maps a secret's logical id to its value (a dict is stored as JSON). Without
        one, the Aspose credentials given to this cloud fill any secret the template declares,
        and its Aspose URLs fill the ``AsposeBaseUrl``/``AsposeTokenUrl`` parameters if declared.
        """
        from infra.local_cloud.deploy import Deployer

        if self._server is None:
            raise RuntimeError("LocalCloud is not started")
        default_secret = self._default_secret()
        parameter_defaults = {
            "AsposeBaseUrl": self.aspose_base_url,
            "AsposeTokenUrl": self.aspose_token_url,
        }
        stack = Deployer(self).deploy(
            Path(template),
            parameters=parameters or {},
            parameter_defaults={k: v for k, v in parameter_defaults.items() if v},
            secrets=secrets or {},
            default_secret=default_secret,
            stack_name=stack_name,
        )
        self.stacks[stack_name] = stack
        return stack

    # -- clients ---------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` bound to the local endpoint."""
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto accepts any key
        )

    def resource(self, service: str) -> Any:
        """A boto3 resource (``dynamodb``, ``s3``) bound to the local endpoint."""
        return boto3.resource(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto accepts any key
        )

    def queue_for_events(self, bus_name: str, name: str, pattern: dict[str, Any]) -> str:
        """A queue receiving the bus's events that match ``pattern`` (a test or demo consumer)."""
        sqs = self.client("sqs")
        queue_url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        events = self.client("events")
        events.put_rule(Name=name, EventBusName=bus_name, EventPattern=json.dumps(pattern))
        events.put_targets(
            Rule=name,
            EventBusName=bus_name,
            Targets=[{"Id": "queue", "Arn": attributes["Attributes"]["QueueArn"]}],
        )
        return queue_url

    def wait_for_execution(self, execution_arn: str, timeout: float = 60.0) -> dict[str, Any]:
        """``DescribeExecution`` once the execution has left RUNNING; TimeoutError otherwise."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout:.0f}s")
            time.sleep(0.1)

    def environment(self) -> dict[str, str]:
        """Variables that point another process's AWS SDK or CLI at this cloud."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    # -- internals -------------------------------------------------------------------------------
    def _default_secret(self) -> dict[str, str] | None:
        if self.aspose_client_id is None or self.aspose_client_secret is None:
            return None
        return {"clientId": self.aspose_client_id, "clientSecret": self.aspose_client_secret}

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

    def _enable_state_machine_execution(self) -> None:
        from moto.core.config import default_user_config

        self._saved_sfn_config = dict(default_user_config.get("stepfunctions", {}))
        self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})

    def _restore_sfn_config(self) -> None:
        from moto.core.config import default_user_config

        if self._saved_sfn_config is not None:
            default_user_config["stepfunctions"] = self._saved_sfn_config  # type: ignore[typeddict-item]
            self._saved_sfn_config = None

    def _post(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 - always our own http://127.0.0.1 endpoint
            self.endpoint + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()
