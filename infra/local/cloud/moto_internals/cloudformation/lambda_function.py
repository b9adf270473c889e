"""``AWS::Lambda::Function``: moto's model, plus what it drops: ``LoggingConfig.LogGroup`` (where
logs go), ``Architectures``, ``TracingConfig``; environment values kept as strings, as AWS keeps
them (moto keeps a Number parameter as an int)."""

from __future__ import annotations

from typing import Any

from infra.local.cloud.moto_internals.cloudformation.base import Amended, Creation
from infra.local.cloud.moto_internals.patching import env_string

#: Function properties moto's model drops -> the attribute of its ``LambdaFunction`` they set.
_EXTRAS = {"Architectures": "architectures", "TracingConfig": "tracing_config"}


class FunctionModel(Amended):
    MOTO_MODEL = ("moto.awslambda.models", "LambdaFunction")

    @classmethod
    def _before(cls, creation: Creation) -> None:
        properties = creation.properties
        variables = (properties.get("Environment") or {}).get("Variables")
        if variables:
            strings = {key: env_string(value) for key, value in variables.items()}
            properties["Environment"] = {"Variables": strings}

    @classmethod
    def _after(cls, resource: Any, creation: Creation) -> Any:
        properties = creation.properties
        for prop, attribute in _EXTRAS.items():
            if properties.get(prop):
                setattr(resource, attribute, properties[prop])
        log_group = (properties.get("LoggingConfig") or {}).get("LogGroup")
        if log_group:
            resource.logs_group_name = log_group  # moto's own runner writes there too
        return resource
