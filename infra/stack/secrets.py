"""The stack's secret: the Aspose credentials its functions use (``AsposeCredentialsSecret``)."""

from __future__ import annotations

import json

from infra.stack.client import StackClient
from infra.stack.values import json_object
from ocr_fetch.credentials import Credentials


class Secrets(StackClient):
    """The stack's secrets, read and put (never printed)."""

    def aspose_credentials(self) -> Credentials:
        """The Aspose credentials in the stack's secret; ``CredentialsNotConfigured`` while it
        holds the placeholder."""
        answer = self.client("secretsmanager").get_secret_value(SecretId=self._secret_name())
        value = json_object(answer.get("SecretString"))
        return Credentials.from_mapping(value, f"secret {self._secret_name()}")

    def put_aspose_credentials(self, credentials: Credentials) -> None:
        """Put the Aspose credentials in the stack's secret, as the README asks a user to after
        deploying: through the API, so they never reach a command line, a shell history or a
        log (an error from Secrets Manager names the secret, never its value)."""
        text = json.dumps(
            {"clientId": credentials.client_id, "clientSecret": credentials.client_secret}
        )
        self.client("secretsmanager").put_secret_value(
            SecretId=self._secret_name(), SecretString=text
        )

    def _secret_name(self) -> str:
        name = self.outputs.credentials_secret
        if not name:
            raise ValueError("the stack has no output AsposeCredentialsSecret")
        return name
