"""Deploy a SAM template into the local AWS, as ``sam package`` + ``sam deploy`` would.

1. Package (:mod:`infra.build.packaging`): code and definitions to a deployment bucket.
2. Translate the SAM template offline with ``samtranslator``.
3. Create the stack in moto's CloudFormation (taught the types it lacks, see
   ``moto_internals.register_cloudformation_models``) and wait for ``CREATE_COMPLETE``.
4. Put the secrets' values, as a user does after ``sam deploy``.
5. Fill moto's gaps from the translated template, never from a second description in Python:
   state machines are (re)created in the executing Step Functions backend with their
   ``DefinitionSubstitutions`` resolved; other skipped resources are reported as not emulated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from infra.build.packaging import (
    load_template,
    package,
    resolve_language_extensions,
    translate,
)
from infra.local.cloud.moto_internals import ACCOUNT_ID, StackInternals
from infra.stack.waiting import wait_until


def fast_polling(max_interval_seconds: int, deadline_seconds: int) -> dict[str, str]:
    """Template parameters for polling in seconds rather than minutes, as every local run wants
    (the demo, the stress run, the console check, the tests): waits of 1, 2, 4 ... s up to
    ``max_interval_seconds``, no jitter (so the growth is visible and runs repeat), the
    handlers' logs at INFO, giving up after ``deadline_seconds`` of "still running" (and the
    results' lifetime at four times that), the breaker probed every second."""
    return {
        "PollInitialSeconds": "1",
        "PollMultiplier": "2",
        "PollMaxIntervalSeconds": str(max_interval_seconds),
        "PollJitter": "0",
        "PollDeadlineSeconds": str(deadline_seconds),
        "ResultsLifetimeSeconds": str(4 * deadline_seconds),
        "BreakerProbeSeconds": "1",
        "LogLevel": "INFO",
    }


class UnknownParameters(ValueError):
    """Values given for parameters the template does not declare (CloudFormation's refusal)."""


def parameter_overrides(items: Iterable[str]) -> dict[str, str]:
    """``Name=Value`` items (``make local PARAMS="A=1 B=2"``, ``--parameter A=1``) as template
    parameter overrides; ``ValueError`` naming an item without a name and ``=``. Whether each
    name is the template's is the deployment's check (:class:`Deployer`), as it is
    CloudFormation's."""
    overrides: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise ValueError(f"a parameter override is Name=Value, got {item!r}")
        overrides[name.strip()] = value
    return overrides


_SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")
_STACK_TIMEOUT_S = 60.0
ClientFactory = Callable[[str], Any]


@dataclass
class StackInfo:
    """What a deployment produced, in the shape tests and tools want."""

    stack_name: str
    stack_id: str
    region: str
    endpoint: str
    outputs: dict[str, str]
    #: Every parameter in force: the template's defaults and the values given (CloudFormation's
    #: resolved parameters, as DescribeStacks lists them).
    parameters: dict[str, str]
    # logical id -> physical id (name, URL or ARN, as CloudFormation's Ref gives it)
    resources: dict[str, str]
    resource_types: dict[str, str]
    # logical id -> function name, for every Lambda function
    functions: dict[str, str] = field(default_factory=dict)
    # logical id -> ARN of the executing state machine
    state_machines: dict[str, str] = field(default_factory=dict)
    # logical id -> ARN of each secret the stack created
    secrets: dict[str, str] = field(default_factory=dict)
    # logical id of a function -> ARN of its alias (AutoPublishAlias), which runs the version
    # published when the stack was created
    aliases: dict[str, str] = field(default_factory=dict)
    # logical id -> resource type, for resources that exist in the template but not locally
    not_emulated: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Every field but the resource types and the parameters, camel-cased, for
        ``.local/stack.json`` (the endpoint as ``awsEndpoint``, as the file names it at its top;
        the parameters are at its top, ``parameters``, where the stack client reads them)."""
        shown = {_camel(f.name): getattr(self, f.name) for f in fields(self)}
        del shown["resourceTypes"], shown["parameters"]
        shown["awsEndpoint"] = shown.pop("endpoint")
        return shown

    def summary(self) -> str:
        """A short human-readable description of the deployed stack."""
        lines = [f"Stack {self.stack_name} ({self.region}) at {self.endpoint}", "Outputs:"]
        lines += [f"  {key:<22} {value}" for key, value in sorted(self.outputs.items())]
        sections = (
            ("Lambda functions (a worker process per execution environment):", self.functions),
            ("Aliases (running the published version):", self.aliases),
            ("State machines (executing):", self.state_machines),
            ("Secrets:", self.secrets),
            (
                "Not emulated (moto's CloudFormation skipped them; no local effect):",
                self.not_emulated,
            ),
        )
        for title, entries in sections:
            if entries:
                lines.append(title)
                lines += [f"  {k:<22} {v}" for k, v in sorted(entries.items())]
        lines += [f"Warning: {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass(frozen=True)
class DeployRequest:
    """What to deploy and with which values."""

    template: Path
    stack_name: str
    parameters: dict[str, str] = field(default_factory=dict)
    #: logical id of a secret -> its value (a dict is stored as JSON), put after the stack is
    #: created, as a user does after ``sam deploy``
    secrets: dict[str, Any] = field(default_factory=dict)
    #: the value of any secret not in ``secrets`` (None: the one the template gave it)
    default_secret: Any = None
    #: values for parameters the template declares and ``parameters`` does not set
    parameter_defaults: dict[str, str] = field(default_factory=dict)


class Deployer:
    """Deploys templates into the local AWS at ``endpoint`` (clients from ``client``)."""

    def __init__(self, client: ClientFactory, region: str, endpoint: str) -> None:
        self._client = client
        self.region = region
        self.endpoint = endpoint

    def deploy(self, request: DeployRequest) -> StackInfo:
        template_path = request.template.resolve()
        sam_template = load_template(template_path)
        declared = sam_template.get("Parameters") or {}
        undeclared = sorted(set(request.parameters) - set(declared))
        if undeclared:
            # CloudFormation refuses them (moto ignores them): a misspelt override must not
            # deploy as if it had been given.
            raise UnknownParameters(f"Parameters: {undeclared} do not exist in the template")
        defaults = {k: v for k, v in request.parameter_defaults.items() if k in declared}
        parameters = {**defaults, **request.parameters}
        sam_template = resolve_language_extensions(sam_template, parameters)
        packaged = package(sam_template, template_path.parent, self._client("s3"), self.region)
        translated = translate(packaged, parameters, self.region)
        stack_id = self._create_stack(request.stack_name, translated, parameters)
        stack = StackInternals(self.region, stack_id)
        resources_json: dict[str, Any] = translated.get("Resources", {})
        created = stack.created_resources(set(resources_json))
        info = self._stack_info(request.stack_name, stack_id, created, resources_json)
        skipped = {
            logical_id: body["Type"]
            for logical_id, body in resources_json.items()
            if logical_id not in created and stack.condition_holds(body.get("Condition"))
        }
        info.not_emulated.update(skipped)
        self._put_secret_values(request, info)
        self._name_functions(resources_json, set(skipped), info)
        self._create_state_machines(stack, resources_json, info)
        stack.refresh_outputs()
        info.outputs = self._outputs(stack_id)
        return info

    def _stack_info(
        self,
        stack_name: str,
        stack_id: str,
        created: dict[str, Any],
        resources_json: dict[str, Any],
    ) -> StackInfo:
        described = self._client("cloudformation").describe_stacks(StackName=stack_id)
        return StackInfo(
            stack_name=stack_name,
            stack_id=stack_id,
            region=self.region,
            endpoint=self.endpoint,
            outputs={},
            parameters={
                p["ParameterKey"]: str(p["ParameterValue"])
                for p in described["Stacks"][0].get("Parameters", [])
            },
            resources={k: _physical_id(r) for k, r in created.items()},
            resource_types={k: r["Type"] for k, r in resources_json.items()},
            secrets={
                k: _physical_id(r)
                for k, r in created.items()
                if resources_json[k]["Type"] == "AWS::SecretsManager::Secret"
            },
            aliases={
                function: _physical_id(r)
                for k, r in created.items()
                if resources_json[k]["Type"] == "AWS::Lambda::Alias"
                for function in _references(resources_json[k]["Properties"]["FunctionName"])
            },
        )

    # -- the stack -------------------------------------------------------------------------------
    def _create_stack(
        self, stack_name: str, translated: dict[str, Any], parameters: dict[str, str]
    ) -> str:
        cfn = self._client("cloudformation")
        if _live_stack(cfn, stack_name):
            cfn.delete_stack(StackName=stack_name)
            wait_until(
                lambda: not _live_stack(cfn, stack_name),
                timeout=_STACK_TIMEOUT_S,
                what=f"the deletion of stack {stack_name}",
            )
        response = cfn.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(translated),
            Parameters=[
                {"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()
            ],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        stack_id: str = response["StackId"]

        def settled() -> str | None:
            value: str = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
            return None if value.endswith("_IN_PROGRESS") else value

        final = wait_until(settled, timeout=_STACK_TIMEOUT_S, what=f"stack {stack_name}")
        if final != "CREATE_COMPLETE":
            events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
            reasons = [
                e.get("ResourceStatusReason") for e in events if "FAILED" in e["ResourceStatus"]
            ]
            raise RuntimeError(f"stack {stack_name} ended {final}: {reasons}")
        return stack_id

    def _outputs(self, stack_id: str) -> dict[str, str]:
        described = self._client("cloudformation").describe_stacks(StackName=stack_id)
        return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}

    # -- secrets ---------------------------------------------------------------------------------
    def _put_secret_values(self, request: DeployRequest, info: StackInfo) -> None:
        """Each secret's value, put as a new version (``PutSecretValue``)."""
        unknown = set(request.secrets) - set(info.secrets)
        if unknown:
            info.warnings.append(f"secrets given for unknown secret resources: {sorted(unknown)}")
        client = self._client("secretsmanager")
        for logical_id, arn in info.secrets.items():
            value = request.secrets.get(logical_id, request.default_secret)
            if value is not None:
                text = value if isinstance(value, str) else json.dumps(value)
                client.put_secret_value(SecretId=arn, SecretString=text)

    # -- functions -------------------------------------------------------------------------------
    def _name_functions(
        self, resources_json: dict[str, Any], skipped: set[str], info: StackInfo
    ) -> None:
        """Name each function; warn of a variable left empty because it refers to a resource
        that is not emulated."""
        lambda_client = self._client("lambda")
        for logical_id, body in resources_json.items():
            if body.get("Type") != "AWS::Lambda::Function" or logical_id not in info.resources:
                continue
            name = info.functions[logical_id] = info.resources[logical_id]
            variables = ((body.get("Properties") or {}).get("Environment") or {}).get("Variables")
            suspects = [k for k, v in (variables or {}).items() if _references(v) & skipped]
            if not suspects:
                continue
            deployed = lambda_client.get_function_configuration(FunctionName=name)
            values = (deployed.get("Environment") or {}).get("Variables") or {}
            info.warnings += [
                f"{logical_id}: {key} refers to a resource that is not emulated"
                for key in suspects
                if not values.get(key)
            ]

    # -- state machines --------------------------------------------------------------------------
    def _create_state_machines(
        self, stack: StackInternals, resources_json: dict[str, Any], info: StackInfo
    ) -> None:
        sfn = self._client("stepfunctions")
        for logical_id, body in resources_json.items():
            if body.get("Type") != "AWS::StepFunctions::StateMachine":
                continue
            properties = body.get("Properties") or {}
            definition = _substitute(
                self._definition(properties, stack),
                stack.resolve(properties.get("DefinitionSubstitutions") or {}),
            )
            left = sorted(set(_SUBSTITUTION.findall(definition)))
            if left:
                info.warnings.append(f"{logical_id}: unresolved substitutions {left}")
            arn = info.resources.get(logical_id) or ""
            name = (
                arn.rsplit(":", 1)[-1]
                if arn
                else stack.resolve(properties.get("StateMachineName"))
                or f"{info.stack_name}-{logical_id}"
            )
            if arn:
                stack.delete_cloudformation_state_machine(arn)
            for existing in sfn.list_state_machines()["stateMachines"]:
                if existing["name"] == name:
                    sfn.delete_state_machine(stateMachineArn=existing["stateMachineArn"])
            request: dict[str, Any] = {
                "name": name,
                "definition": definition,
                "roleArn": stack.resolve(properties.get("RoleArn"))
                or f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
                "type": properties.get("StateMachineType", "STANDARD"),
            }
            for prop, key in (
                ("LoggingConfiguration", "loggingConfiguration"),
                ("TracingConfiguration", "tracingConfiguration"),
            ):
                value = stack.resolve(properties.get(prop))
                if value:
                    request[key] = _lower_keys(value)
            new_arn: str = sfn.create_state_machine(**request)["stateMachineArn"]
            info.state_machines[logical_id] = info.resources[logical_id] = new_arn
            stack.stand_in(
                logical_id,
                new_arn,
                {"Arn": new_arn, "Name": name},
                stack.delete_executing_state_machine_later(new_arn),
            )

    def _definition(self, properties: dict[str, Any], stack: StackInternals) -> str:
        location = properties.get("DefinitionS3Location")
        if location:
            location = stack.resolve(location)
            body = self._client("s3").get_object(Bucket=location["Bucket"], Key=location["Key"])
            return str(body["Body"].read().decode("utf-8"))
        if "Definition" in properties:
            return json.dumps(stack.resolve(properties["Definition"]))
        definition = stack.resolve(properties.get("DefinitionString", ""))
        return definition if isinstance(definition, str) else json.dumps(definition)


# -- helpers -------------------------------------------------------------------------------------
def _live_stack(cfn: Any, stack_name: str) -> bool:
    return any(
        s["StackName"] == stack_name and s["StackStatus"] != "DELETE_COMPLETE"
        for s in cfn.list_stacks()["StackSummaries"]
    )


def _physical_id(resource: Any) -> str:
    """What Ref gives in AWS: moto's physical id, or the name where moto keeps none."""
    for attribute in ("physical_resource_id", "name", "arn"):
        value = getattr(resource, attribute, None)
        if isinstance(value, str) and value:
            return value
    return ""


def _references(value: Any) -> set[str]:
    """Logical ids a template value refers to through Ref, GetAtt or Sub."""
    found: set[str] = set()
    for node in _walk(value):
        if isinstance(node, dict):
            if isinstance(node.get("Ref"), str):
                found.add(node["Ref"])
            get_att = node.get("Fn::GetAtt")
            if isinstance(get_att, list) and get_att:
                found.add(str(get_att[0]))
            elif isinstance(get_att, str):
                found.add(get_att.split(".", 1)[0])
            sub = node.get("Fn::Sub")
            text = sub[0] if isinstance(sub, list) and sub else sub
            if isinstance(text, str):
                found |= {m.split(".", 1)[0] for m in _SUBSTITUTION.findall(text)}
    return found


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for child in value.values():
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child)


def _substitute(definition: str, substitutions: dict[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        return str(substitutions[key]) if key in substitutions else match.group(0)

    return _SUBSTITUTION.sub(replace, definition)


def _lower_keys(value: Any) -> Any:
    """CloudFormation's PascalCase property names to the Step Functions API's camelCase."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)
