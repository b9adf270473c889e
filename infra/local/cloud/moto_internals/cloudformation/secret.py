"""``AWS::SecretsManager::Secret``: moto's CloudFormation has no model and skips it; created
through moto's Secrets Manager backend while the stack is created, so a function's environment
referring to it is right when the function (and a version published from it) is created."""

from __future__ import annotations

import json
from typing import Any

from infra.local.cloud.moto_internals.cloudformation.base import Added, Creation, Resource

#: ``GenerateSecretString`` flags -> moto's ``get_random_password`` arguments (and defaults).
_PASSWORD_FLAGS = {
    "ExcludeNumbers": ("exclude_numbers", False),
    "ExcludePunctuation": ("exclude_punctuation", False),
    "ExcludeUppercase": ("exclude_uppercase", False),
    "ExcludeLowercase": ("exclude_lowercase", False),
    "IncludeSpace": ("include_space", False),
    "RequireEachIncludedType": ("require_each_included_type", True),
}


class SecretModel(Added):
    TYPE = "AWS::SecretsManager::Secret"
    ATTRIBUTES = frozenset({"Id"})
    NAME_PROPERTY = "Name"

    @classmethod
    def _create(cls, creation: Creation) -> Resource:
        from moto.secretsmanager.models import secretsmanager_backends

        backend = secretsmanager_backends[creation.account_id][creation.region]
        properties = creation.properties
        secret_string = properties.get("SecretString")
        if secret_string is None and properties.get("GenerateSecretString") is not None:
            secret_string = _generated_secret(backend, properties["GenerateSecretString"])
        created = backend.create_secret(
            name=creation.name,
            secret_string=secret_string,
            secret_binary=None,
            description=properties.get("Description"),
            tags=properties.get("Tags"),
            kms_key_id=properties.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        arn: str = json.loads(created)["ARN"]
        return Resource(
            arn,
            {"Id": arn},
            lambda: backend.delete_secret(arn, None, force_delete_without_recovery=True),
        )


def _generated_secret(backend: Any, generate: dict[str, Any]) -> str:
    """What CloudFormation stores for ``GenerateSecretString``: a password, or a JSON document
    (``SecretStringTemplate``) with the password under ``GenerateStringKey``."""
    flags = {
        argument: str(generate.get(prop, default)).lower() == "true"
        for prop, (argument, default) in _PASSWORD_FLAGS.items()
    }
    answer = backend.get_random_password(
        password_length=int(generate.get("PasswordLength", 32)),
        exclude_characters=str(generate.get("ExcludeCharacters", "")),
        **flags,
    )
    password: str = json.loads(answer)["RandomPassword"]
    template = generate.get("SecretStringTemplate")
    if not template:
        return password
    document = json.loads(template)
    document[generate.get("GenerateStringKey", "password")] = password
    return json.dumps(document)
