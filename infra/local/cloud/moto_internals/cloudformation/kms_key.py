"""``AWS::KMS::Key``: moto's model, with ``KeyPolicy`` stored as the JSON text the API stores
(moto keeps the template's object, and ``DescribeKey`` then fails) and optional, as it is."""

from __future__ import annotations

from typing import Any

from infra.local.cloud.moto_internals.cloudformation.base import Amended, Creation, json_text


class KmsKeyModel(Amended):
    MOTO_MODEL = ("moto.kms.models", "Key")

    @classmethod
    def _before(cls, creation: Creation) -> None:
        properties = creation.properties
        policy = properties.get("KeyPolicy") or _default_key_policy(creation.account_id)
        properties["KeyPolicy"] = json_text(policy)


def _default_key_policy(account_id: str) -> dict[str, Any]:
    """The policy KMS gives a key created without one: the account administers it through IAM."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
