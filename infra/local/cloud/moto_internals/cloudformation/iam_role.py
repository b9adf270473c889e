"""``AWS::IAM::Role``: moto's model, with its ``Policies``' documents stored as the JSON text the
API stores (moto keeps the template's objects, and ``GetRolePolicy`` then answers Python's
``repr`` of them)."""

from __future__ import annotations

from infra.local.cloud.moto_internals.cloudformation.base import Amended, Creation, json_text


class RoleModel(Amended):
    MOTO_MODEL = ("moto.iam.models", "Role")

    @classmethod
    def _before(cls, creation: Creation) -> None:
        properties = creation.properties
        properties["Policies"] = [
            {**policy, "PolicyDocument": json_text(policy["PolicyDocument"])}
            for policy in properties.get("Policies") or []
        ]
