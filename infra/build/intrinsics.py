"""The translated template with its intrinsic functions resolved, as one deployment would see them.

Static checks read what CloudFormation would hand to IAM and Step Functions: real-looking names
and ARNs of the right shape for each resource type, under the parameters' defaults. Names a
deployment would generate look like CloudFormation's (``<stack>-<LogicalId>-<suffix>``); a
resource type or attribute this module has no shape for is an error naming it, never a guess.

    resolver = Resolver(translated_template)
    resolver.resolve({"Fn::GetAtt": ["ResultsBucket", "Arn"]})  # 'arn:aws:s3:::ocr-proof-...'
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.build.packaging import load_template, translate_for_review

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class UnresolvableError(ValueError):
    """An intrinsic this module cannot resolve honestly (unknown type, attribute or function)."""


@dataclass(frozen=True)
class Placement:
    """Where the stack is imagined deployed: the pseudo parameters' values."""

    account: str = "123456789012"
    region: str = "us-east-1"
    partition: str = "aws"
    stack_name: str = "ocr-proof"

    def pseudo(self, name: str) -> Any:
        values: dict[str, Any] = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region}:"
            f"{self.account}:stack/{self.stack_name}/00000000-0000-4000-8000-000000000000",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        if name not in values:
            raise UnresolvableError(f"unknown pseudo parameter {name}")
        return values[name]


class _NoValue:
    """``AWS::NoValue``: the property or list element is left out."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()

#: The property holding a resource's physical name, when the template may set it.
_NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::SNS::Topic": "TopicName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::Lambda::Alias": "Name",
}

#: Each type's ARN, from its physical name (``{name}``; a KMS key's is its key id).
_ARN = {
    "AWS::S3::Bucket": "arn:{partition}:s3:::{name}",
    "AWS::SQS::Queue": "arn:{partition}:sqs:{region}:{account}:{name}",
    "AWS::DynamoDB::Table": "arn:{partition}:dynamodb:{region}:{account}:table/{name}",
    "AWS::Logs::LogGroup": "arn:{partition}:logs:{region}:{account}:log-group:{name}:*",
    "AWS::StepFunctions::StateMachine": "arn:{partition}:states:{region}:{account}:"
    "stateMachine:{name}",
    "AWS::Lambda::Function": "arn:{partition}:lambda:{region}:{account}:function:{name}",
    "AWS::KMS::Key": "arn:{partition}:kms:{region}:{account}:key/{name}",
    "AWS::SecretsManager::Secret": "arn:{partition}:secretsmanager:{region}:{account}:"
    "secret:{name}-AbCdEf",
    "AWS::Events::EventBus": "arn:{partition}:events:{region}:{account}:event-bus/{name}",
    "AWS::SNS::Topic": "arn:{partition}:sns:{region}:{account}:{name}",
    "AWS::IAM::Role": "arn:{partition}:iam::{account}:role/{name}",
    "AWS::IAM::ManagedPolicy": "arn:{partition}:iam::{account}:policy/{name}",
    "AWS::CloudWatch::Alarm": "arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}",
}

#: What ``Ref`` gives, where it is not the physical name (CloudFormation's resource reference).
_REF_IS_ARN = {
    "AWS::StepFunctions::StateMachine",
    "AWS::SecretsManager::Secret",
    "AWS::SNS::Topic",
    "AWS::Lambda::Alias",
    "AWS::Lambda::Version",
    "AWS::IAM::ManagedPolicy",
}
_ATTRIBUTE_IS_NAME = {"Name", "QueueName", "TopicName", "KeyId", "StateMachineName"}


class Resolver:
    """Resolves ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::If``,
    ``Fn::FindInMap``, ``Fn::Select``, ``Fn::Split`` and conditions, with each parameter's
    default unless given."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str] | None = None,
        placement: Placement | None = None,
    ) -> None:
        self.template = template
        self.placement = placement or Placement()
        self._parameters = dict(parameters or {})
        self._resources: Mapping[str, Any] = template.get("Resources") or {}
        self._functions: dict[str, Callable[[Any], Any]] = {
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::If": self._if,
            "Fn::FindInMap": self._find_in_map,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
        }

    # -- values ------------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic replaced; ``AWS::NoValue`` entries left out."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(str(argument))
            if key in self._functions:
                return self._functions[key](argument)
            if key.startswith("Fn::"):
                raise UnresolvableError(f"{key} is not resolved statically")
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def ref(self, name: str) -> Any:
        """What ``Ref`` gives for a parameter, a pseudo parameter or a resource."""
        if name.startswith("AWS::"):
            return self.placement.pseudo(name)
        declared = (self.template.get("Parameters") or {}).get(name)
        if declared is not None:
            return self._parameter(name, declared)
        resource_type = self._type(name)
        physical = self.physical_name(name)
        if resource_type == "AWS::SQS::Queue":
            place = self.placement
            return f"https://sqs.{place.region}.amazonaws.com/{place.account}/{physical}"
        if resource_type in _REF_IS_ARN:
            return self.arn(name)
        if resource_type == "AWS::Events::Rule" and self._rule_bus(name) != "default":
            return f"{self._rule_bus(name)}|{physical}"
        return physical

    def condition(self, name: str) -> bool:
        """A named condition's value under the parameters."""
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise UnresolvableError(f"unknown condition {name}")
        return self._truth(conditions[name])

    # -- resources ---------------------------------------------------------------------------
    def physical_name(self, logical_id: str) -> str:
        """The name the resource has once created: the template's, or one shaped like
        CloudFormation's generated names."""
        resource = self._resource(logical_id)
        resource_type = str(resource.get("Type"))
        properties = resource.get("Properties") or {}
        if resource_type == "AWS::KMS::Key":
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.placement.stack_name}/{logical_id}"))
        name_property = _NAME_PROPERTY.get(resource_type)
        if name_property and name_property in properties:
            name = self.resolve(properties[name_property])
            if name is not NO_VALUE:
                return str(name)
        generated = f"{self.placement.stack_name}-{logical_id}-1A2B3C4D5E6F"
        return generated.lower() if resource_type == "AWS::S3::Bucket" else generated

    def arn(self, logical_id: str) -> str:
        """The resource's ARN, of the shape its service documents."""
        resource_type = self._type(logical_id)
        if resource_type == "AWS::Lambda::Alias":
            return f"{self._function_arn_of(logical_id)}:{self.physical_name(logical_id)}"
        if resource_type == "AWS::Lambda::Version":
            return f"{self._function_arn_of(logical_id)}:1"
        if resource_type == "AWS::Events::Rule":
            bus = self._rule_bus(logical_id)
            path = "" if bus == "default" else f"{bus}/"
            return self._format(
                "arn:{partition}:events:{region}:{account}:rule/{name}",
                f"{path}{self.physical_name(logical_id)}",
            )
        if resource_type not in _ARN:
            raise UnresolvableError(
                f"{logical_id} ({resource_type}): no ARN shape known; add one to {__name__}"
            )
        return self._format(_ARN[resource_type], self.physical_name(logical_id))

    def _get_att(self, argument: Any) -> Any:
        logical_id, attribute = (
            argument.split(".", 1) if isinstance(argument, str) else (argument[0], argument[1])
        )
        attribute = str(self.resolve(attribute))
        resource_type = self._type(logical_id)
        if attribute == "Arn" or (attribute == "TopicArn" and resource_type == "AWS::SNS::Topic"):
            return self.arn(logical_id)
        if attribute in _ATTRIBUTE_IS_NAME:
            return self.physical_name(logical_id)
        if attribute == "QueueUrl":
            return self.ref(logical_id)
        if attribute == "Version" and resource_type == "AWS::Lambda::Version":
            return "1"
        if attribute == "StreamArn" and resource_type == "AWS::DynamoDB::Table":
            return f"{self.arn(logical_id)}/stream/2024-01-01T00:00:00.000"
        raise UnresolvableError(f"{logical_id}.{attribute} ({resource_type}) is not resolved")

    def _function_arn_of(self, logical_id: str) -> str:
        """The function ARN an alias or version belongs to (its ``FunctionName`` may be a name
        or an ARN)."""
        properties = self._resource(logical_id).get("Properties") or {}
        function = str(self.resolve(properties.get("FunctionName")))
        if function.startswith("arn:"):
            return function
        return self._format(_ARN["AWS::Lambda::Function"], function)

    def _rule_bus(self, logical_id: str) -> str:
        properties = self._resource(logical_id).get("Properties") or {}
        bus = str(self.resolve(properties.get("EventBusName", "default")))
        return bus.rsplit("/", 1)[-1] if bus.startswith("arn:") else bus

    def _format(self, pattern: str, name: str) -> str:
        place = self.placement
        return pattern.format(
            partition=place.partition, region=place.region, account=place.account, name=name
        )

    def _resource(self, logical_id: str) -> Mapping[str, Any]:
        if logical_id not in self._resources:
            raise UnresolvableError(f"no resource or parameter named {logical_id}")
        resource: Mapping[str, Any] = self._resources[logical_id]
        return resource

    def _type(self, logical_id: str) -> str:
        return str(self._resource(logical_id).get("Type"))

    # -- functions ---------------------------------------------------------------------------
    def _parameter(self, name: str, declared: Mapping[str, Any]) -> Any:
        value = self._parameters.get(name, declared.get("Default"))
        if value is None:
            raise UnresolvableError(f"parameter {name} has no default; give it a value")
        kind = str(declared.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            return [item.strip() for item in str(value).split(",")]
        return str(value)

    _SUBSTITUTION = re.compile(r"\$\{([^}]*)\}")

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: self.resolve(value) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self._get_att(name))
            return str(self.ref(name))

        return self._SUBSTITUTION.sub(replace, str(text))

    def _join(self, argument: Any) -> str:
        delimiter, items = argument
        return str(delimiter).join(str(item) for item in self._list(items))

    def _if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(str(name)) else when_false)

    def _find_in_map(self, argument: Any) -> Any:
        mapping, key, field = (self.resolve(part) for part in argument)
        try:
            return self.template["Mappings"][mapping][key][field]
        except KeyError:
            raise UnresolvableError(f"no mapping {mapping}.{key}.{field}") from None

    def _select(self, argument: Any) -> Any:
        index, items = argument
        return self._list(items)[int(self.resolve(index))]

    def _split(self, argument: Any) -> list[str]:
        delimiter, text = argument
        return str(self.resolve(text)).split(str(delimiter))

    def _list(self, value: Any) -> list[Any]:
        resolved = self.resolve(value)
        if not isinstance(resolved, list):
            raise UnresolvableError(f"expected a list, got {resolved!r}")
        return resolved

    # -- conditions --------------------------------------------------------------------------
    def _truth(self, expression: Any) -> bool:
        if not isinstance(expression, dict) or len(expression) != 1:
            raise UnresolvableError(f"not a condition: {expression!r}")
        ((key, argument),) = expression.items()
        if key == "Condition":
            return self.condition(str(argument))
        if key == "Fn::Equals":
            left, right = (_comparable(self.resolve(side)) for side in argument)
            return bool(left == right)
        if key == "Fn::Not":
            return not self._truth(argument[0])
        if key == "Fn::And":
            return all(self._truth(part) for part in argument)
        if key == "Fn::Or":
            return any(self._truth(part) for part in argument)
        raise UnresolvableError(f"unknown condition function {key}")


def _comparable(value: Any) -> Any:
    """CloudFormation compares scalars as strings (``!Equals [!Ref Number, 0]``)."""
    return [_comparable(item) for item in value] if isinstance(value, list) else str(value)


def translated_template(
    path: Path = TEMPLATE, parameters: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What CloudFormation receives for ``path``: the project's one offline translation."""
    translated: dict[str, Any] = translate_for_review(
        load_template(path), dict(parameters or {}), Placement().region
    )
    return translated
