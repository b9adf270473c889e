"""``AWS::Logs::LogGroup``: moto's model, with ``GetAtt .Arn`` ending in ``:*`` as
CloudFormation's does (what a policy granting ``logs:PutLogEvents`` on it matches streams with)."""

from __future__ import annotations

from typing import Any

from infra.local.cloud.moto_internals.cloudformation.base import Amended, Creation, Resource


class LogGroupModel(Amended):
    MOTO_MODEL = ("moto.logs.models", "LogGroup")

    @classmethod
    def _after(cls, resource: Any, creation: Creation) -> Any:
        account_id, region = creation.account_id, creation.region
        return Resource(
            resource.physical_resource_id,
            {"Arn": f"{resource.arn}:*"},
            lambda: resource.delete(account_id, region),
        )
