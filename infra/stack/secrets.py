"""The stack's secret: the Aspose credentials its functions use (``AsposeCredentialsSecret``)."""

from __future__ import annotations

from infra.stack.client import StackClient
from infra.stack.values import json_object
from ocr_fetch.credentials import Credentials


class Secrets(StackClient):
    """The stack's secrets, read (never printed)."""

    def aspose_credentials(self) -> Credentials:
        """The Aspose credentials in the stack's secret; ``CredentialsNotConfigured`` while it
        holds the placeholder."""
        name = self.outputs.credentials_secret
        if not name:
            raise ValueError("the stack has no output AsposeCredentialsSecret")
        answer = self.client("secretsmanager").get_secret_value(SecretId=name)
        value = json_object(answer.get("SecretString"))
        return Credentials.from_mapping(value, f"secret {name}")
