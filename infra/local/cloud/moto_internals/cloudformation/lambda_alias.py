"""``AWS::Lambda::Alias``: moto's CloudFormation has no model; created through moto's Lambda
backend. Weighted routing is not emulated: the alias always runs ``FunctionVersion``."""

from __future__ import annotations

from infra.local.cloud.moto_internals.cloudformation.base import (
    Added,
    Creation,
    Resource,
    unless_gone,
)


class AliasModel(Added):
    TYPE = "AWS::Lambda::Alias"
    ATTRIBUTES = frozenset({"AliasArn"})

    @classmethod
    def _create(cls, creation: Creation) -> Resource:
        from moto.awslambda.exceptions import UnknownFunctionException
        from moto.awslambda.utils import get_backend

        backend = get_backend(creation.account_id, creation.region)
        properties = creation.properties
        name, function = properties["Name"], properties["FunctionName"]
        alias = backend.create_alias(
            name,
            function,
            str(properties["FunctionVersion"]),
            properties.get("Description") or "",
            "",  # no routing configuration
        )
        return Resource(
            alias.arn,
            {"AliasArn": alias.arn},
            unless_gone(lambda: backend.delete_alias(name, function), UnknownFunctionException),
        )
