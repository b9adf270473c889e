"""``make lint``'s ASL proof: every service integration's Parameters against botocore's shapes,
each Lambda payload against its handler, and every JSONPath against the state it reads.

moto's interpreter passes Parameters to its own backends, which accept more than AWS does; a
misspelled member, a literal of the wrong type or a missing required member would pass every
local run and fail on AWS. For each Task of each definition this checks:

- ``Parameters`` recursively against the input shape of the API it calls (botocore's service
  models, the ones boto3 uses): member names, literal types and enums, required members present
  (as ``Key`` or ``Key.$``); where Step Functions accepts any JSON (a Lambda ``Payload``, an
  event's ``Detail``) nothing is checked inside;
- a Lambda invocation's payload keys against the handler the template deploys for that function
  (its ``PAYLOAD_KEYS`` and ``REQUIRED_PAYLOAD_KEYS``);
- every JSONPath read anywhere (:mod:`infra.build.asl_paths`) against the state's shape on every
  path there, starting from the execution input the starter builds
  (``ocr_fetch.submission.SubmittedTask.execution_input``), and every state reachable.

Definitions come from the template's state machines (``DefinitionUri``, with their
``DefinitionSubstitutions`` resolved) and any other ``statemachine/*.asl.json``. Exits 1 on any
finding.

    python -m infra.build.asl_check
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from infra.build import asl_paths
from infra.build.asl_paths import ANY, LEAF, Flow, Shape
from infra.build.intrinsics import TEMPLATE, Resolver, translated_template
from infra.build.packaging import load_template

STATEMACHINE_DIR = TEMPLATE.parent / "statemachine"

#: Step Functions' names for services whose botocore model is named otherwise.
_SERVICE_MODELS = {"states": "stepfunctions", "sfn": "stepfunctions"}
#: Step Functions integrations that call no AWS API (so no botocore shape to check against).
_NO_API_MODEL = {("http", "Invoke"), ("apigateway", "Invoke"), ("eks", "Call"), ("eks", "RunJob")}
#: Members where an optimized integration takes any JSON, not the API's string or blob.
_JSON_MEMBERS = {
    ("lambda", "Invoke"): {"Payload"},
    ("events", "PutEvents"): {"Entries[].Detail"},
    ("stepfunctions", "StartExecution"): {"Input"},
    ("sqs", "SendMessage"): {"MessageBody"},
    ("sns", "Publish"): {"Message"},
}
#: Members the service requires though its model marks them optional: EventBridge fails an entry
#: without a source, detail type or detail (a FailedEntry; EventBridge User Guide, "Sending
#: events with PutEvents").
_ALSO_REQUIRED = {
    ("events", "PutEvents"): {"Entries[]": {"Source", "DetailType", "Detail"}},
}
#: What ``arn:aws:states:::lambda:invoke`` returns (the function's answer under ``Payload``).
LAMBDA_RESULT: Shape = {
    "ExecutedVersion": LEAF,
    "Payload": ANY,
    "StatusCode": LEAF,
    "SdkHttpMetadata": ANY,
    "SdkResponseMetadata": ANY,
}
_INTEGRATION = re.compile(r"arn:[\w-]+:states:::(aws-sdk:)?([\w-]+):(\w+)(\.[\w:]+)?")
_LAMBDA_ARN = re.compile(r"arn:[\w-]+:lambda:[\w-]+:\d+:function:([^:]+)(:[^:]+)?")
_SUBSTITUTION = re.compile(r"\$\{([^}]*)\}")
#: A submission as the starter receives it (parsed by the product's own parser; sent now).
SAMPLE_SUBMISSION = {
    "detail-type": "Region Recognition Submitted",
    "source": "asl-check",
    "detail": {
        "taskId": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "regions": [{"name": "surname"}],
        "correlationId": "asl-check",
        "metadata": {"sample": True},
    },
}


@dataclass(frozen=True)
class Finding:
    """One thing AWS would reject or that would fail at run time."""

    machine: str
    state: str
    where: str
    message: str

    def line(self) -> str:
        return f"{self.machine} / {self.state}: {self.where}: {self.message}"


@dataclass(frozen=True)
class Machine:
    """One definition file and the substitutions the template deploys it with."""

    name: str
    path: Path
    substitutions: Mapping[str, str] = field(default_factory=dict)


@dataclass
class TaskReport:
    """What was checked on one Task."""

    state: str
    api: str
    handler: str = ""
    findings: list[Finding] = field(default_factory=list)


# -- the template's state machines and functions ------------------------------------------------
class Deployment:
    """The template as deployed with its defaults: state machines, functions and handlers."""

    def __init__(self, template: Path = TEMPLATE) -> None:
        self.template = template
        self.sam = load_template(template)
        self.translated = translated_template(template)
        self.resolver = Resolver(self.translated)

    def machines(self) -> list[Machine]:
        """Each state machine's definition file, then any definition no machine uses."""
        found: list[Machine] = []
        for logical_id, resource in (self.sam.get("Resources") or {}).items():
            uri = (resource.get("Properties") or {}).get("DefinitionUri")
            if resource.get("Type") == "AWS::Serverless::StateMachine" and isinstance(uri, str):
                translated = self.translated["Resources"][logical_id]["Properties"]
                substitutions = self.resolver.resolve(translated.get("DefinitionSubstitutions", {}))
                found.append(Machine(logical_id, self.template.parent / uri, substitutions))
        used = {machine.path.resolve() for machine in found}
        folder = self.template.parent / "statemachine"
        found += [
            Machine(path.name, path)
            for path in sorted(folder.glob("*.asl.json"))
            if path.resolve() not in used
        ]
        return found

    def handler(self, function: str) -> str | None:
        """The ``Handler`` of the template's function named (or ARN'd) ``function``."""
        match = _LAMBDA_ARN.fullmatch(function)
        name = match.group(1) if match else function
        for logical_id, resource in self.translated["Resources"].items():
            if resource.get("Type") != "AWS::Lambda::Function":
                continue
            if self.resolver.physical_name(logical_id) == name:
                return str(resource["Properties"].get("Handler"))
        return None


def execution_input() -> dict[str, Any]:
    """The execution input the starter sends for :data:`SAMPLE_SUBMISSION`."""
    from ocr_fetch.errors import PermanentError
    from ocr_fetch.submission import parse_submitted_event

    try:
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        event = {**SAMPLE_SUBMISSION, "time": now}  # a fresh one: old tasks' results are gone
        state: dict[str, Any] = parse_submitted_event(json.dumps(event)).execution_input()
    except (PermanentError, ValueError, TypeError) as error:
        raise SystemExit(
            f"the starter no longer accepts {__name__}.SAMPLE_SUBMISSION ({error}): update it"
        ) from error
    return state


def load_definition(machine: Machine) -> tuple[dict[str, Any], list[str]]:
    """The definition with the template's substitutions made, and each ``${name}`` left
    undefined (CloudFormation would deploy it as it is)."""
    text = machine.path.read_text(encoding="utf-8")
    undefined = sorted(set(_SUBSTITUTION.findall(text)) - set(machine.substitutions))
    substituted = _SUBSTITUTION.sub(
        lambda m: str(machine.substitutions.get(m.group(1), m.group(0))), text
    )
    definition: dict[str, Any] = json.loads(substituted)
    return definition, undefined


# -- botocore ------------------------------------------------------------------------------------
def integration(resource: str) -> tuple[str, str] | None:
    """``(botocore service, operation)`` a Task's Resource calls, or None (an activity)."""
    if _LAMBDA_ARN.fullmatch(resource):
        return "lambda", "Invoke"
    match = _INTEGRATION.fullmatch(resource)
    if match is None:
        return None
    service = _SERVICE_MODELS.get(match.group(2), match.group(2))
    action = match.group(3)
    return service, action[:1].upper() + action[1:]


def operation_model(service: str, operation: str) -> Any:
    """botocore's model of the operation; raises LookupError naming what is unknown."""
    import botocore.session
    from botocore.exceptions import UnknownServiceError
    from botocore.model import OperationNotFoundError

    session = botocore.session.get_session()
    try:
        return session.get_service_model(service).operation_model(operation)
    except UnknownServiceError:
        raise LookupError(f"botocore has no service {service!r}") from None
    except OperationNotFoundError:
        raise LookupError(f"botocore's {service} has no operation {operation!r}") from None


class ShapeCheck:
    """One Parameters value against one botocore input shape."""

    def __init__(self, called: tuple[str, str]) -> None:
        self.json_members = _JSON_MEMBERS.get(called, set())
        self.also_required = _ALSO_REQUIRED.get(called, {})
        self.problems: list[tuple[str, str]] = []

    def value(self, value: Any, shape: Any, where: str) -> None:
        if _generic(where) in self.json_members:
            return
        kind = shape.type_name
        if kind == "structure":
            self._structure(value, shape, where)
        elif kind == "list":
            self._list(value, shape, where)
        elif kind == "map":
            self._map(value, shape, where)
        elif not _scalar_fits(value, shape):
            self.problems.append((where, f"{value!r} is not a {_describe(shape)}"))

    def _structure(self, value: Any, shape: Any, where: str) -> None:
        if not isinstance(value, dict):
            self.problems.append((where, f"{_describe(shape)} expected, got {value!r}"))
            return
        names = {key.removesuffix(".$"): key for key in value}
        for name, key in names.items():
            inner = f"{where}.{name}" if where else name
            if name not in shape.members:
                self.problems.append(
                    (inner, f"no member {name!r} in {shape.name} ({', '.join(shape.members)})")
                )
            elif key.endswith(".$"):
                if not isinstance(value[key], str):
                    self.problems.append((inner, f"{key} must be a path, got {value[key]!r}"))
            else:
                self.value(value[key], shape.members[name], inner)
        required = [*shape.required_members, *sorted(self.also_required.get(_generic(where), ()))]
        for name in required:
            if name not in names:
                self.problems.append((where, f"required member {name!r} missing"))

    def _list(self, value: Any, shape: Any, where: str) -> None:
        if not isinstance(value, list):
            self.problems.append((where, f"a list expected, got {value!r}"))
            return
        for index, item in enumerate(value):
            self.value(item, shape.member, f"{where}[{index}]")

    def _map(self, value: Any, shape: Any, where: str) -> None:
        if not isinstance(value, dict):
            self.problems.append((where, f"a map expected, got {value!r}"))
            return
        for key, item in value.items():
            self.value(item, shape.value, f"{where}.{key.removesuffix('.$')}")


def _generic(where: str) -> str:
    return re.sub(r"\[\d+\]", "[]", where)


_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "blob": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
    "timestamp": (str, int, float),
}


def _scalar_fits(value: Any, shape: Any) -> bool:
    kinds = _SCALARS.get(shape.type_name, (object,))
    if isinstance(value, bool) and bool not in kinds:
        return False
    enum = getattr(shape, "enum", None) or []
    return isinstance(value, kinds) and (not enum or value in enum)


def _describe(shape: Any) -> str:
    enum = getattr(shape, "enum", None) or []
    return f"{shape.type_name} {shape.name}" + (f" (one of {', '.join(enum)})" if enum else "")


def output_shape(model: Any, depth: int = 6) -> Shape:
    """botocore's output shape as a state shape: structures' members as keys."""
    if model is None:
        return {}
    if depth == 0 or model.type_name == "map":
        return ANY
    if model.type_name == "structure":
        return {name: output_shape(member, depth - 1) for name, member in model.members.items()}
    return LEAF


def result_shape(resource: str) -> Shape:
    """The raw result of a Task calling ``resource``, before ResultSelector."""
    called = integration(resource)
    if called is None or called == ("lambda", "Invoke"):
        return LAMBDA_RESULT if called else ANY
    match = _INTEGRATION.fullmatch(resource)
    if match is not None and match.group(4):
        return ANY  # .sync and .waitForTaskToken answer with something else
    try:
        return output_shape(operation_model(*called).output_shape)
    except LookupError:
        return ANY


# -- one definition ------------------------------------------------------------------------------
class Handlers(Protocol):
    """Which handler serves a function (by name or ARN), as the template deploys it."""

    def handler(self, function: str) -> str | None: ...


class DefinitionCheck:
    """Every check on one definition, its state data starting as ``execution_input``."""

    def __init__(self, machine: Machine, handlers: Handlers, execution_input: Shape) -> None:
        self.machine = machine
        self.handlers = handlers
        self.definition, self.undefined = load_definition(machine)
        states = self.definition["States"]
        self.flow = Flow(self.definition, lambda _, state: result_shape(str(state["Resource"])))
        self.flow.run(execution_input)
        self.tasks = [
            self._task(name, state) for name, state in states.items() if state["Type"] == "Task"
        ]

    def findings(self) -> list[Finding]:
        found = [
            Finding(self.machine.name, "-", "DefinitionSubstitutions", f"${{{name}}} undefined")
            for name in self.undefined
        ]
        found += [f for task in self.tasks for f in task.findings]
        found += [
            Finding(self.machine.name, name, "-", "unreachable from StartAt (AWS rejects it)")
            for name in self.flow.unreached()
        ]
        found += [
            Finding(self.machine.name, u.state, f"{u.read.field} = {u.read.path}", u.why)
            for u in self.flow.unknown_paths()
        ]
        return found

    def _task(self, name: str, state: Mapping[str, Any]) -> TaskReport:
        resource = str(state.get("Resource"))
        called = integration(resource)
        if called is None:
            return TaskReport(name, f"{resource} (not a service integration)")
        report = TaskReport(name, " ".join(called))
        if called in _NO_API_MODEL:
            report.api += " (no API model)"
            return report
        parameters = state.get("Parameters", {})
        if _LAMBDA_ARN.fullmatch(
            resource
        ):  # the Resource is the function: Parameters is the payload
            report.findings += self._payload(name, resource, parameters, report)
            return report
        report.findings += self._parameters(name, called, parameters)
        if called == ("lambda", "Invoke"):
            payload = parameters.get("Payload", parameters.get("Payload.$", "$"))
            function = str(parameters.get("FunctionName", ""))
            report.findings += self._payload(name, function, payload, report)
        return report

    def _parameters(self, name: str, called: tuple[str, str], parameters: Any) -> Iterator[Finding]:
        try:
            model = operation_model(*called)
        except LookupError as error:
            yield Finding(self.machine.name, name, "Resource", str(error))
            return
        check = ShapeCheck(called)
        check.value(parameters, model.input_shape, "")
        for where, message in check.problems:
            yield Finding(self.machine.name, name, f"Parameters.{where}".rstrip("."), message)

    def _payload(self, name: str, function: str, payload: Any, report: TaskReport) -> list[Finding]:
        def finding(message: str) -> Finding:
            return Finding(self.machine.name, name, "Payload", message)

        handler = self.handlers.handler(function)
        if handler is None:
            return [finding(f"{function or 'FunctionName'} is no function of the template")]
        try:
            module = importlib.import_module(handler.rsplit(".", 1)[0])
        except ImportError as error:
            return [finding(f"handler {handler} cannot be imported: {error}")]
        report.handler = module.__name__
        keys = getattr(module, "PAYLOAD_KEYS", None)
        required: frozenset[str] = getattr(module, "REQUIRED_PAYLOAD_KEYS", frozenset())
        if keys is None:
            return [finding(f"{module.__name__} declares no PAYLOAD_KEYS")]
        return [finding(m) for m in payload_problems(payload, self._arriving(name), keys, required)]

    def _arriving(self, name: str) -> Shape:
        return self.flow.arriving.get(name, ANY)


def payload_problems(
    payload: Any, state: Shape, keys: frozenset[str], required: frozenset[str]
) -> list[str]:
    """What is wrong with a payload template (or a path to the payload) for a handler."""
    if isinstance(payload, str):  # the payload is the state (or part of it)
        given, _ = asl_paths.lookup(state, payload)
        if not isinstance(given, dict):
            return []
        return [
            f"the payload at {payload} lacks required {k!r}" for k in sorted(required - set(given))
        ]
    if not isinstance(payload, dict):
        return [f"the payload must be an object, got {payload!r}"]
    given_keys = {key.removesuffix(".$") for key in payload}
    return [
        f"key {k!r} is not one the handler reads (PAYLOAD_KEYS)" for k in sorted(given_keys - keys)
    ] + [
        f"required key {k!r} missing (REQUIRED_PAYLOAD_KEYS)" for k in sorted(required - given_keys)
    ]


# -- report --------------------------------------------------------------------------------------
def report(checks: list[DefinitionCheck]) -> tuple[str, int]:
    """The table (one row per Task, then the paths) and every finding."""
    lines = ["ASL against botocore's shapes, the handlers and the state data:"]
    findings: list[Finding] = []
    for check in checks:
        found = check.findings()
        findings += found
        width = max([len(t.state) for t in check.tasks] + [5])
        lines.append(f"  {check.machine.name} ({check.machine.path.name})")
        lines.append(f"    {'state':<{width}}  {'calls':<22} {'handler':<36} findings")
        lines += [
            f"    {t.state:<{width}}  {t.api:<22} {t.handler or '-':<36} {len(t.findings):>8}"
            for t in check.tasks
        ]
        reads = sum(
            len(list(asl_paths.state_reads(s))) for s in check.definition["States"].values()
        )
        unknown = [f for f in found if " = " in f.where]
        lines.append(
            f"    paths read: {reads} in {len(check.definition['States'])} states, "
            f"{len(unknown)} finding nothing; states unreached: {len(check.flow.unreached())}"
        )
    lines += [f"  FINDING {finding.line()}" for finding in findings]
    return "\n".join(lines), len(findings)


def check_all(template: Path = TEMPLATE) -> tuple[str, int]:
    deployment = Deployment(template)
    start = asl_paths.shape_of(execution_input())
    return report([DefinitionCheck(m, deployment, start) for m in deployment.machines()])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.build.asl_check", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--template", type=Path, default=TEMPLATE, help="the SAM template")
    args = parser.parse_args(argv)
    text, failed = check_all(args.template)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
