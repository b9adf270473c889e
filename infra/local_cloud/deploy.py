"""Deploy ``template.yaml`` itself into the local AWS, as ``sam package`` + ``sam deploy`` would.

1. Zip every local ``CodeUri`` and upload it, with every ``DefinitionUri``, to a deployment bucket.
2. Translate the SAM template offline with ``samtranslator``.
3. Create the stack in moto's CloudFormation and wait for ``CREATE_COMPLETE``.
4. Fill moto's gaps from the translated template, never from a second description in Python:
   secrets moto skipped are created through Secrets Manager and the references to them resolved;
   state machines are (re)created in the executing Step Functions backend with their
   ``DefinitionSubstitutions`` resolved; other skipped resources are reported as not emulated.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import re
import secrets as random_secrets
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.local_cloud.moto_server import LocalCloud

DEPLOYMENT_BUCKET = "local-cloud-deployments"
_SKIP_IN_ZIP = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")


@dataclass
class StackInfo:
    """What a deployment produced, in the shape tests and tools want."""

    stack_name: str
    stack_id: str
    region: str
    endpoint: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    # logical id -> physical id (name, URL or ARN, as CloudFormation's Ref gives it)
    resources: dict[str, str]
    resource_types: dict[str, str]
    # logical id -> function name, for every Lambda function
    functions: dict[str, str] = field(default_factory=dict)
    # logical id -> ARN of the executing state machine
    state_machines: dict[str, str] = field(default_factory=dict)
    # logical id -> ARN of the secret created through the Secrets Manager API
    secrets: dict[str, str] = field(default_factory=dict)
    # logical id -> resource type, for resources that exist in the template but not locally
    not_emulated: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view, for ``.local/stack.json``."""
        return {
            "stackName": self.stack_name,
            "stackId": self.stack_id,
            "region": self.region,
            "awsEndpoint": self.endpoint,
            "outputs": self.outputs,
            "parameters": self.parameters,
            "resources": self.resources,
            "functions": self.functions,
            "stateMachines": self.state_machines,
            "secrets": self.secrets,
            "notEmulated": self.not_emulated,
            "warnings": self.warnings,
        }

    def summary(self) -> str:
        """A short human-readable description of the deployed stack."""
        lines = [f"Stack {self.stack_name} ({self.region}) at {self.endpoint}", "Outputs:"]
        lines += [f"  {key:<22} {value}" for key, value in sorted(self.outputs.items())]
        if self.functions:
            lines.append("Lambda functions (run in-process from the local source):")
            lines += [f"  {k:<22} {v}" for k, v in sorted(self.functions.items())]
        if self.state_machines:
            lines.append("State machines (executing):")
            lines += [f"  {k:<22} {v}" for k, v in sorted(self.state_machines.items())]
        if self.secrets:
            lines.append("Secrets (created through the Secrets Manager API):")
            lines += [f"  {k:<22} {v}" for k, v in sorted(self.secrets.items())]
        if self.not_emulated:
            lines.append("Not emulated (moto's CloudFormation skipped them; no local effect):")
            lines += [f"  {k:<22} {v}" for k, v in sorted(self.not_emulated.items())]
        lines += [f"Warning: {w}" for w in self.warnings]
        return "\n".join(lines)


class _StandIn:
    """Takes a resource's place in the stack's resource map once the deployer has made it.

    Ref and GetAtt then resolve to the local resource (outputs, substitutions, env vars), and
    deleting the stack deletes it, as CloudFormation would.
    """

    def __init__(
        self,
        logical_id: str,
        physical_id: str,
        attributes: dict[str, str],
        on_delete: Callable[[], object],
    ) -> None:
        self.logical_resource_id = logical_id
        self.physical_resource_id = physical_id
        self._attributes = attributes
        self._on_delete = on_delete

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name in self._attributes:
            return self._attributes[attribute_name]
        raise NotImplementedError(f'"Fn::GetAtt" : [ "{{0}}" , "{attribute_name}" ]"')

    def delete(self, account_id: str, region_name: str) -> None:
        self._on_delete()


class _NoManagedPolicies:
    """samtranslator asks for the managed-policy map; offline there is none to fetch."""

    def load(self) -> dict[str, str]:
        return {}


class Deployer:
    """One deployment of a SAM template into a started :class:`LocalCloud`."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self._code_dirs: dict[str, Path] = {}  # function logical id -> local source dir

    def deploy(
        self,
        template_path: Path,
        *,
        parameters: dict[str, str],
        secrets: dict[str, Any],
        default_secret: Any,
        stack_name: str,
        parameter_defaults: dict[str, str] | None = None,
    ) -> StackInfo:
        template_path = template_path.resolve()
        sam_template = _load_template(template_path)
        declared = sam_template.get("Parameters") or {}
        defaults = {k: v for k, v in (parameter_defaults or {}).items() if k in declared}
        parameters = {**defaults, **parameters}
        packaged = self._package(sam_template, template_path.parent)
        translated = translate(packaged, parameters, self.cloud.region)
        stack_id = self._create_stack(stack_name, translated, parameters)

        stack = _moto_stack(self.cloud.region, stack_id)
        resources_json: dict[str, Any] = translated.get("Resources", {})
        # The stack's own resource map, not DescribeStackResources: moto lists skipped resources
        # there without ids, and gives no physical id to an event bus.
        created = {
            logical_id: resource
            for logical_id, resource in stack.resource_map._parsed_resources.items()
            if logical_id in resources_json and resource is not None
        }
        described = self.cloud.client("cloudformation").describe_stacks(StackName=stack_id)
        info = StackInfo(
            stack_name=stack_name,
            stack_id=stack_id,
            region=self.cloud.region,
            endpoint=self.cloud.endpoint,
            outputs={},
            parameters={
                p["ParameterKey"]: p["ParameterValue"]
                for p in described["Stacks"][0].get("Parameters", [])
            },
            resources={k: _physical_id(r) for k, r in created.items()},
            resource_types={k: r["Type"] for k, r in resources_json.items()},
        )
        skipped = {
            logical_id: body["Type"]
            for logical_id, body in resources_json.items()
            if logical_id not in created and _condition_holds(stack, body)
        }

        for logical_id, resource_type in skipped.items():
            if resource_type == "AWS::SecretsManager::Secret":
                value = secrets.get(logical_id, default_secret)
                arn = self._create_secret(stack, stack_name, logical_id, resources_json, value)
                info.secrets[logical_id] = arn
                info.resources[logical_id] = arn
            else:
                info.not_emulated[logical_id] = resource_type
        unknown = set(secrets) - set(info.secrets)
        if unknown:
            info.warnings.append(f"secrets given for unknown secret resources: {sorted(unknown)}")

        self._fix_functions(stack, resources_json, set(skipped), info)
        self.cloud.bridge.cold_start()
        self._create_state_machines(stack, resources_json, info)
        info.outputs = self._outputs(stack, stack_id)
        return info

    # -- 1. package ------------------------------------------------------------------------------
    def _package(self, template: dict[str, Any], base_dir: Path) -> dict[str, Any]:
        """Upload local code and definitions and point the template at them (``sam package``)."""
        packaged = copy.deepcopy(template)
        s3 = self.cloud.client("s3")
        _ensure_bucket(s3, DEPLOYMENT_BUCKET, self.cloud.region)
        uploaded: dict[Path, str] = {}

        def upload_dir(code_uri: Any) -> Any:
            if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
                return code_uri
            directory = (base_dir / code_uri).resolve()
            if directory not in uploaded:
                key = f"code/{directory.name}-{len(uploaded)}.zip"
                s3.put_object(Bucket=DEPLOYMENT_BUCKET, Key=key, Body=_zip_directory(directory))
                uploaded[directory] = f"s3://{DEPLOYMENT_BUCKET}/{key}"
            return uploaded[directory]

        global_code_uri = packaged.get("Globals", {}).get("Function", {}).get("CodeUri")
        for logical_id, resource in packaged.get("Resources", {}).items():
            properties = resource.setdefault("Properties", {}) or {}
            if resource.get("Type") == "AWS::Serverless::Function":
                code_uri = properties.get("CodeUri", global_code_uri)
                if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
                    self._code_dirs[logical_id] = (base_dir / code_uri).resolve()
                if "CodeUri" in properties:
                    properties["CodeUri"] = upload_dir(properties["CodeUri"])
            elif resource.get("Type") == "AWS::Serverless::StateMachine":
                definition_uri = properties.get("DefinitionUri")
                if isinstance(definition_uri, str) and not definition_uri.startswith("s3://"):
                    key = f"statemachine/{logical_id}/{Path(definition_uri).name}"
                    body = (base_dir / definition_uri).read_bytes()
                    s3.put_object(Bucket=DEPLOYMENT_BUCKET, Key=key, Body=body)
                    properties["DefinitionUri"] = {"Bucket": DEPLOYMENT_BUCKET, "Key": key}
        if global_code_uri is not None:
            packaged["Globals"]["Function"]["CodeUri"] = upload_dir(global_code_uri)
        return packaged

    # -- 3. create the stack ---------------------------------------------------------------------
    def _create_stack(
        self, stack_name: str, translated: dict[str, Any], parameters: dict[str, str]
    ) -> str:
        cfn = self.cloud.client("cloudformation")
        existing = [
            s
            for s in cfn.list_stacks()["StackSummaries"]
            if s["StackName"] == stack_name and s["StackStatus"] != "DELETE_COMPLETE"
        ]
        if existing:
            cfn.delete_stack(StackName=stack_name)
            _wait_for(lambda: _stack_gone(cfn, stack_name), f"deletion of {stack_name}")
        response = cfn.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(translated),
            Parameters=[
                {"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()
            ],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        stack_id: str = response["StackId"]

        def status() -> str | None:
            value: str = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
            return None if value.endswith("_IN_PROGRESS") else value

        final = _wait_for(status, f"creation of {stack_name}")
        if final != "CREATE_COMPLETE":
            events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
            reasons = [
                e.get("ResourceStatusReason") for e in events if "FAILED" in e["ResourceStatus"]
            ]
            raise RuntimeError(f"stack {stack_name} ended {final}: {reasons}")
        return stack_id

    # -- 4a. secrets -----------------------------------------------------------------------------
    def _create_secret(
        self,
        stack: Any,
        stack_name: str,
        logical_id: str,
        resources_json: dict[str, Any],
        value: Any,
    ) -> str:
        from moto.cloudformation.parsing import clean_json

        properties = resources_json[logical_id].get("Properties", {}) or {}
        name = (
            clean_json(properties.get("Name"), stack.resource_map) or f"{stack_name}-{logical_id}"
        )
        if value is None:
            value = _template_secret_value(properties, stack)
        secret_string = value if isinstance(value, str) else json.dumps(value)
        client = self.cloud.client("secretsmanager")
        description = clean_json(properties.get("Description"), stack.resource_map) or ""
        try:
            arn: str = client.create_secret(
                Name=name, SecretString=secret_string, Description=description
            )["ARN"]
        except client.exceptions.ResourceExistsException:
            arn = client.put_secret_value(SecretId=name, SecretString=secret_string)["ARN"]
        from moto.secretsmanager.models import secretsmanager_backends

        from infra.local_cloud.moto_server import ACCOUNT_ID

        backend = secretsmanager_backends[ACCOUNT_ID][self.cloud.region]
        stack.resource_map._parsed_resources[logical_id] = _StandIn(
            logical_id,
            arn,
            {"Id": arn},
            lambda: backend.delete_secret(arn, None, force_delete_without_recovery=True),
        )
        return arn

    # -- 4b. functions ---------------------------------------------------------------------------
    def _fix_functions(
        self, stack: Any, resources_json: dict[str, Any], skipped: set[str], info: StackInfo
    ) -> None:
        """Register each function's source; resolve env vars that refer to skipped resources."""
        from moto.cloudformation.parsing import clean_json

        lambda_client = self.cloud.client("lambda")
        for logical_id, body in resources_json.items():
            if body.get("Type") != "AWS::Lambda::Function" or logical_id not in info.resources:
                continue
            function_name = info.resources[logical_id]
            info.functions[logical_id] = function_name
            code_dir = self._code_dirs.get(logical_id)
            if code_dir is not None:
                self.cloud.bridge.register(function_name, code_dir)
            else:
                info.warnings.append(f"{logical_id}: no local CodeUri, invocations will fail")
            template_vars = (body.get("Properties", {}).get("Environment") or {}).get(
                "Variables"
            ) or {}
            current = (
                lambda_client.get_function_configuration(FunctionName=function_name)
                .get("Environment", {})
                .get("Variables", {})
            )
            # AWS stores every value as a string; moto keeps Number parameters as ints.
            fixed = {key: _env_string(value) for key, value in current.items()}
            for key, template_value in template_vars.items():
                if current.get(key, "") != "" or not (_references(template_value) & skipped):
                    continue
                resolved = clean_json(template_value, stack.resource_map)
                if isinstance(resolved, str) and resolved:
                    fixed[key] = resolved
                else:
                    info.warnings.append(
                        f"{logical_id}: {key} refers to a resource that is not emulated"
                    )
            if fixed != current:
                lambda_client.update_function_configuration(
                    FunctionName=function_name, Environment={"Variables": fixed}
                )

    # -- 4c. state machines ----------------------------------------------------------------------
    def _create_state_machines(
        self, stack: Any, resources_json: dict[str, Any], info: StackInfo
    ) -> None:
        from moto.cloudformation.parsing import clean_json
        from moto.stepfunctions.models import stepfunctions_backends
        from moto.stepfunctions.parser.models import (
            stepfunctions_parser_backends as parser_backends,
        )

        from infra.local_cloud.moto_server import ACCOUNT_ID

        sfn = self.cloud.client("stepfunctions")
        for logical_id, body in resources_json.items():
            if body.get("Type") != "AWS::StepFunctions::StateMachine":
                continue
            properties = body.get("Properties", {}) or {}
            definition = self._definition(properties, stack)
            substitutions = clean_json(
                properties.get("DefinitionSubstitutions") or {}, stack.resource_map
            )
            definition = _substitute(definition, substitutions)
            left = sorted(set(_SUBSTITUTION.findall(definition)))
            if left:
                info.warnings.append(f"{logical_id}: unresolved substitutions {left}")

            arn = info.resources.get(logical_id) or ""
            name = (
                arn.rsplit(":", 1)[-1]
                if arn
                else clean_json(properties.get("StateMachineName"), stack.resource_map)
                or f"{info.stack_name}-{logical_id}"
            )
            # CloudFormation put it in moto's non-executing backend: replace it by an executing one.
            if arn:
                with contextlib.suppress(Exception):  # it may already be gone
                    stepfunctions_backends[ACCOUNT_ID][self.cloud.region].delete_state_machine(arn)
            for existing in sfn.list_state_machines()["stateMachines"]:
                if existing["name"] == name:
                    sfn.delete_state_machine(stateMachineArn=existing["stateMachineArn"])
            request: dict[str, Any] = {
                "name": name,
                "definition": definition,
                "roleArn": clean_json(properties.get("RoleArn"), stack.resource_map)
                or f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
                "type": properties.get("StateMachineType", "STANDARD"),
            }
            logging_config = clean_json(properties.get("LoggingConfiguration"), stack.resource_map)
            if logging_config:
                request["loggingConfiguration"] = _lower_keys(logging_config)
            tracing = clean_json(properties.get("TracingConfiguration"), stack.resource_map)
            if tracing:
                request["tracingConfiguration"] = _lower_keys(tracing)
            new_arn: str = sfn.create_state_machine(**request)["stateMachineArn"]
            info.state_machines[logical_id] = new_arn
            info.resources[logical_id] = new_arn
            executing = parser_backends[ACCOUNT_ID][self.cloud.region]
            stack.resource_map._parsed_resources[logical_id] = _StandIn(
                logical_id,
                new_arn,
                {"Arn": new_arn, "Name": name},
                functools.partial(executing.delete_state_machine, new_arn),
            )

    def _definition(self, properties: dict[str, Any], stack: Any) -> str:
        from moto.cloudformation.parsing import clean_json

        location = properties.get("DefinitionS3Location")
        if location:
            location = clean_json(location, stack.resource_map)
            body = self.cloud.client("s3").get_object(
                Bucket=location["Bucket"], Key=location["Key"]
            )["Body"]
            return str(body.read().decode("utf-8"))
        if "Definition" in properties:
            return json.dumps(clean_json(properties["Definition"], stack.resource_map))
        definition = clean_json(properties.get("DefinitionString", ""), stack.resource_map)
        return definition if isinstance(definition, str) else json.dumps(definition)

    # -- outputs ---------------------------------------------------------------------------------
    def _outputs(self, stack: Any, stack_id: str) -> dict[str, str]:
        # Outputs are parsed lazily and cached; drop the cache so they see the fixes above.
        stack.output_map._parsed_outputs.clear()
        described = self.cloud.client("cloudformation").describe_stacks(StackName=stack_id)
        return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}


# -- helpers -------------------------------------------------------------------------------------
def translate(template: dict[str, Any], parameters: dict[str, str], region: str) -> dict[str, Any]:
    """The SAM template as plain CloudFormation, translated offline."""
    import os

    from samtranslator.translator.transform import transform

    # samtranslator reads the partition from the default region.
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    result: dict[str, Any] = transform(
        copy.deepcopy(template), dict(parameters), _NoManagedPolicies()
    )
    return result


def _load_template(path: Path) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    loaded: dict[str, Any] = yaml_parse(path.read_text(encoding="utf-8"))
    return loaded


def _zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if path.is_file() and not (_SKIP_IN_ZIP & set(relative.parts)):
                archive.write(path, relative.as_posix())
    return buffer.getvalue()


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception:
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )


def _moto_stack(region: str, stack_id: str) -> Any:
    from moto.cloudformation.models import cloudformation_backends

    from infra.local_cloud.moto_server import ACCOUNT_ID

    return cloudformation_backends[ACCOUNT_ID][region].get_stack(stack_id)


def _env_string(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _physical_id(resource: Any) -> str:
    """What Ref gives in AWS: moto's physical id, or the name where moto keeps none."""
    for attribute in ("physical_resource_id", "name", "arn"):
        value = getattr(resource, attribute, None)
        if isinstance(value, str) and value:
            return value
    return ""


def _condition_holds(stack: Any, body: dict[str, Any]) -> bool:
    condition = body.get("Condition")
    return not condition or bool(stack.resource_map.lazy_condition_map[condition])


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


def _template_secret_value(properties: dict[str, Any], stack: Any) -> str:
    """The value CloudFormation would have stored: SecretString, or a generated one."""
    from moto.cloudformation.parsing import clean_json

    if properties.get("SecretString") is not None:
        return str(clean_json(properties["SecretString"], stack.resource_map))
    generate = properties.get("GenerateSecretString")
    password = random_secrets.token_urlsafe(24)
    if isinstance(generate, dict) and generate.get("SecretStringTemplate"):
        document = json.loads(generate["SecretStringTemplate"])
        document[generate.get("GenerateStringKey", "password")] = password
        return json.dumps(document)
    return password if generate is not None else "{}"


def _lower_keys(value: Any) -> Any:
    """CloudFormation's PascalCase property names to the Step Functions API's camelCase."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def _stack_gone(cfn: Any, stack_name: str) -> bool | None:
    for summary in cfn.list_stacks()["StackSummaries"]:
        if summary["StackName"] == stack_name and summary["StackStatus"] != "DELETE_COMPLETE":
            return None
    return True


def _wait_for(probe: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result is not None:
            return result
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")
