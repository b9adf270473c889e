"""AWS as the property tests need it beside moto: chosen calls refused as AWS refuses them, and
Step Functions' ``StartExecution`` recorded under its name-uniqueness contract.

Both hook botocore's ``before-call`` event of a boto3 session (:func:`install`), so the product's
own clients (made by ``ocr_fetch.aws.client`` from the default session) are used unchanged:
botocore validates the parameters as usual, and a hook's answer takes the place of the request.
A refused call never reaches moto, as a call that AWS refused through botocore's own retries
changes nothing; every other call goes on to moto.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.awsrequest import AWSResponse

_PARAMS = "tests.api_params"
Answer = tuple[AWSResponse, dict[str, Any]]


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """Keep the call's parameters as given (``before-call`` sees only the serialised request)."""
    context[_PARAMS] = dict(params)


def install(events: Any, *hooks: Callable[..., Answer | None]) -> Callable[[], None]:
    """Put ``hooks`` (in order: the first to answer a call wins) on a session's events; return
    what takes them off again. Clients made in between carry them; later ones do not."""
    events.register("before-parameter-build", _remember_params)
    for hook in hooks:
        events.register("before-call", hook)

    def uninstall() -> None:
        events.unregister("before-parameter-build", _remember_params)
        for hook in hooks:
            events.unregister("before-call", hook)

    return uninstall


def _answer(status: int, body: dict[str, Any]) -> Answer:
    metadata = {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0}
    return AWSResponse("https://aws.invalid/", status, {}, None), {
        **body,
        "ResponseMetadata": metadata,
    }


@dataclass(frozen=True)
class Fault:
    """One way AWS refuses a call: the service (botocore's id: ``s3``, ``dynamodb``, ``sfn``) and
    operation it hits, the error code and HTTP status, and whether only a conditional write
    (``If-None-Match``/``If-Match``) can meet it, as S3's ``ConditionalRequestConflict``."""

    service: str
    operation: str
    code: str
    status: int
    conditional_only: bool = False

    def hits(self, service: str, operation: str, params: dict[str, Any]) -> bool:
        if (service, operation) != (self.service, self.operation):
            return False
        return not self.conditional_only or bool(params.get("IfNoneMatch") or params.get("IfMatch"))

    def __str__(self) -> str:
        return f"{self.service}:{self.operation} {self.code}"


@dataclass(frozen=True)
class Call:
    """A call the product made, with its parameters, and the fault that refused it (if one did)."""

    service: str
    operation: str
    params: dict[str, Any]
    refused_by: Fault | None


@dataclass
class AwsFaults:
    """Refuses the next calls that chosen faults hit, each as many times as it was armed for."""

    #: Told of every call, refused or not (the model learns what the product wrote from it).
    on_call: Callable[[Call], None] = lambda call: None
    armed: list[tuple[Fault, int]] = field(default_factory=list)

    def arm(self, fault: Fault, times: int) -> None:
        self.armed.append((fault, times))

    def before_call(self, model: Any, context: dict[str, Any], **_: Any) -> Answer | None:
        service = str(model.service_model.service_id.hyphenize())
        params: dict[str, Any] = context.get(_PARAMS, {})
        for position, (fault, left) in enumerate(self.armed):
            if fault.hits(service, model.name, params):
                if left > 1:
                    self.armed[position] = (fault, left - 1)
                else:
                    del self.armed[position]
                self.on_call(Call(service, model.name, params, fault))
                message = f"{fault.code} (injected by the test)"
                return _answer(fault.status, {"Error": {"Code": fault.code, "Message": message}})
        self.on_call(Call(service, model.name, params, None))
        return None


@dataclass
class StartedExecution:
    name: str
    arn: str
    input: str
    running: bool = True


@dataclass
class RecordingStepFunctions:
    """``StartExecution`` as AWS answers it for a standard workflow.

    A new name starts an execution (``on_start`` is told its name, ARN and input). The name of a
    running execution started with the same input gives that execution back (the call is
    idempotent); any other reuse of a name, a closed execution's or with different input, is
    ``ExecutionAlreadyExists``. Nothing else of Step Functions is answered here.
    """

    machine_arn: str
    on_start: Callable[[StartedExecution], None]
    executions: dict[str, StartedExecution] = field(default_factory=dict)

    def closed(self, name: str) -> None:
        self.executions[name].running = False

    def redriven(self, name: str) -> None:
        self.executions[name].running = True

    def before_call(self, model: Any, context: dict[str, Any], **_: Any) -> Answer | None:
        if model.service_model.service_id.hyphenize() != "sfn":
            return None
        if model.name != "StartExecution":
            raise NotImplementedError(f"Step Functions' {model.name} is not recorded")
        params: dict[str, Any] = context.get(_PARAMS, {})
        if params.get("stateMachineArn") != self.machine_arn:
            return _error(400, "StateMachineDoesNotExist", "no such state machine")
        name, given = str(params["name"]), str(params.get("input", "{}"))
        known = self.executions.get(name)
        if known is not None and not (known.running and known.input == given):
            return _error(400, "ExecutionAlreadyExists", f"Execution Already Exists: '{known.arn}'")
        if known is None:
            json.loads(given)  # Step Functions refuses input that is not JSON
            arn = self.machine_arn.replace(":stateMachine:", ":execution:") + ":" + name
            known = self.executions[name] = StartedExecution(name, arn, given)
            self.on_start(known)
        return _answer(200, {"executionArn": known.arn, "startDate": datetime.now(UTC)})


def _error(status: int, code: str, message: str) -> Answer:
    return _answer(status, {"Error": {"Code": code, "Message": message}})
