"""Where the Aspose client's credentials come from: fixed (the CLI, the demo, tests), or the
stack's secret (the check function), read within bounds and afresh after a refusal.

A secret of any wrong shape (not JSON, too deep or large, wrong types, blank, the placeholder a
fresh stack holds) is :class:`CredentialsNotConfigured`: every task then ends Failed with it, and
the stack alarms. Nothing here ever puts the secret in a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ocr_fetch import jsonlimits
from ocr_fetch.errors import (
    ConfigurationError,
    CredentialsNotConfigured,
    CredentialsUnavailableError,
    is_transient,
)

#: The client id a freshly deployed stack's secret holds until someone puts the real one in.
PLACEHOLDER_CLIENT_ID = ""
#: The secret is small; anything larger is not one.
MAX_SECRET_BYTES = 64 * 1024


@dataclass(frozen=True)
class Credentials:
    """Aspose client credentials. ``repr`` never shows the secret."""

    client_id: str
    client_secret: str = field(repr=False)

    @classmethod
    def from_mapping(cls, value: Mapping[str, Any], source: str) -> Credentials:
        client_id = value.get("clientId") or value.get("client_id")
        secret = value.get("clientSecret") or value.get("client_secret")
        if not isinstance(client_id, str) or client_id.strip() == PLACEHOLDER_CLIENT_ID:
            raise CredentialsNotConfigured(
                f"{source} has no clientId: put the Aspose client id and secret in it"
            )
        if not isinstance(secret, str) or not secret.strip():
            raise CredentialsNotConfigured(f"{source} has no clientSecret")
        return cls(client_id, secret)

    @classmethod
    def from_secret_string(cls, text: object, source: str) -> Credentials:
        """Credentials from a secret's text: a JSON object with a client id and secret. Any
        other shape (not JSON, too deep or large, wrong types, empty) is
        :class:`CredentialsNotConfigured`, which names the shape, never the text."""
        if not isinstance(text, str | bytes) or not text:
            raise CredentialsNotConfigured(
                f"{source} is empty: put the Aspose client id and secret in it"
            )
        try:
            value = jsonlimits.loads(text, max_bytes=MAX_SECRET_BYTES, what=source)
        except ValueError:
            raise CredentialsNotConfigured(
                f"{source} is not a JSON object with clientId and clientSecret"
            ) from None
        if not isinstance(value, dict):
            raise CredentialsNotConfigured(
                f"{source} must hold a JSON object, not {type(value).__name__}"
            )
        return cls.from_mapping(value, source)


class CredentialSource(Protocol):
    """Gives the current credentials; ``forget()`` makes the next call read them afresh."""

    def __call__(self) -> Credentials: ...

    def forget(self) -> None: ...


class FixedCredentials:
    """Credentials known up front (tests, the CLI, the demo); whoever holds the source may set
    new ones (the chaos runner does when it rotates the secret)."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    def __call__(self) -> Credentials:
        return self.credentials

    def forget(self) -> None:
        """Nothing to read again."""


class SecretCredentials:
    """``{"clientId", "clientSecret"}`` from Secrets Manager, cached ``max_age_seconds``.

    After the service refuses a token, :meth:`forget` makes the next call read the secret again,
    so a rotated secret is picked up at once. Each source has its own Powertools provider (its own
    client and cache), bound to the environment it was created in.
    """

    def __init__(self, secret_name: str, max_age_seconds: int = 300, provider: Any = None) -> None:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        from ocr_fetch.aws import CONFIG

        self._name = secret_name
        self._max_age = max_age_seconds
        # The product's timeouts and retries: reading the secret is bounded like every AWS call.
        self._secrets = provider or SecretsProvider(boto_config=CONFIG)
        self._stale = False

    def __call__(self) -> Credentials:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            # The text as stored: parsed here, within bounds, so that any shape has one outcome.
            value = self._secrets.get(self._name, max_age=self._max_age, force_fetch=self._stale)
        except GetParameterError as error:
            # Powertools raises it while handling boto's error, without ``from``.
            cause = error.__cause__ or error.__context__
            if cause is not None and is_transient(cause):
                raise CredentialsUnavailableError(
                    f"secret {self._name} could not be read right now"
                ) from None
            raise ConfigurationError(f"secret {self._name} could not be read") from None
        # Unusable credentials are not kept: the next call reads the secret again, so putting the
        # real values in takes effect at the next poll, not when the cache expires.
        self._stale = True
        credentials = Credentials.from_secret_string(value, f"secret {self._name}")
        self._stale = False
        return credentials

    def forget(self) -> None:
        self._stale = True
