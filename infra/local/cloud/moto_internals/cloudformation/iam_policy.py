"""``AWS::IAM::Policy``: moto's model, with the document stored as the JSON text the API stores
(moto keeps the template's object, and ``GetRolePolicy`` then answers Python's ``repr`` of it)."""

from __future__ import annotations

from infra.local.cloud.moto_internals.cloudformation.base import Amended, Creation, json_text


class InlinePolicyModel(Amended):
    MOTO_MODEL = ("moto.iam.models", "InlinePolicy")

    @classmethod
    def _before(cls, creation: Creation) -> None:
        properties = creation.properties
        properties["PolicyDocument"] = json_text(properties.get("PolicyDocument") or {})
