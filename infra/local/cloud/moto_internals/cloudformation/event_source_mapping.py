"""``AWS::Lambda::EventSourceMapping``: moto's model, keeping the alias ARN it was given as
``FunctionArn`` (moto keeps the ARN of the version the alias pointed to then)."""

from __future__ import annotations

from typing import Any

from infra.local.cloud.iam_calls import function_arn
from infra.local.cloud.moto_internals.cloudformation.base import Amended, Creation


class EventSourceMappingModel(Amended):
    MOTO_MODEL = ("moto.awslambda.models", "EventSourceMapping")

    @classmethod
    def _after(cls, resource: Any, creation: Creation) -> Any:
        name = str(creation.properties["FunctionName"])
        arn = function_arn(name, None, creation.region, creation.account_id)
        if arn.count(":") == 7:  # arn:aws:lambda:<region>:<account>:function:<name>:<qualifier>
            resource.function_arn = arn
        return resource
