"""``AWS::Lambda::Version``: moto publishes the version but gives it no ``Ref`` (its ARN) nor
``GetAtt .Version``, so an alias (``AutoPublishAlias``) could not name it; published here through
moto's Lambda backend."""

from __future__ import annotations

from infra.local.cloud.iam_calls import function_arn
from infra.local.cloud.moto_internals.cloudformation.base import (
    Added,
    Creation,
    Resource,
    unless_gone,
)


class VersionModel(Added):
    TYPE = "AWS::Lambda::Version"
    ATTRIBUTES = frozenset({"Version", "FunctionArn"})

    @classmethod
    def _create(cls, creation: Creation) -> Resource:
        from moto.awslambda.exceptions import UnknownFunctionException
        from moto.awslambda.utils import get_backend

        backend = get_backend(creation.account_id, creation.region)
        properties = creation.properties
        version = backend.publish_version(
            properties["FunctionName"], properties.get("Description") or ""
        )
        if version is None:
            raise ValueError(f"cannot publish a version of {properties['FunctionName']}")
        name, number = version.function_name, str(version.version)
        unqualified = function_arn(name, None, creation.region, creation.account_id)
        return Resource(
            version.function_arn,
            {"Version": number, "FunctionArn": unqualified},
            unless_gone(lambda: backend.delete_function(name, number), UnknownFunctionException),
        )
