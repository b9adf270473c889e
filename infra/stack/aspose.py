"""Reaching the Aspose.OCR Cloud a stack uses, as a submitter does (``ocr-results submit``).

For a deployed stack: Aspose's URLs are ``ASPOSE_BASE_URL``/``ASPOSE_TOKEN_URL`` or the stack's
parameters, its credentials ``ASPOSE_CLIENT_ID`` and ``ASPOSE_CLIENT_SECRET`` or else the stack's
secret. A local cloud says where its emulator answers (``.local/stack.json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from infra.stack.secrets import Secrets
from ocr_fetch.credentials import Credentials
from ocr_fetch.settings import DEFAULT_BASE_URL

if TYPE_CHECKING:
    from ocr_fetch.client import AsposeClient

ENV_CLIENT_ID = "ASPOSE_CLIENT_ID"
ENV_CLIENT_SECRET = "ASPOSE_CLIENT_SECRET"  # noqa: S105 - the variable's name, not a secret
ENV_BASE_URL = "ASPOSE_BASE_URL"
ENV_TOKEN_URL = "ASPOSE_TOKEN_URL"  # noqa: S105 - a variable's name


@dataclass(frozen=True)
class AsposeAccess:
    """Where an Aspose.OCR Cloud answers, and the credentials a submitter uses there."""

    base_url: str
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)

    def client(self) -> AsposeClient:
        """A client of this Aspose, as a user's submitter has."""
        from ocr_fetch.client import AsposeClient

        return AsposeClient.create(
            base_url=self.base_url,
            token_url=self.token_url,
            credentials=Credentials(self.client_id, self.client_secret),
        )


def deployed_aspose(stack: Secrets, env: Mapping[str, str]) -> AsposeAccess:
    """The Aspose a deployed stack uses, with the credentials ``env`` gives or its secret holds
    (read only now, when a submission needs them)."""
    base_url = env.get(ENV_BASE_URL) or stack.parameters.get("AsposeBaseUrl") or DEFAULT_BASE_URL
    token_url = (
        env.get(ENV_TOKEN_URL)
        or stack.parameters.get("AsposeTokenUrl")
        or base_url.rstrip("/") + "/connect/token"
    )
    if env.get(ENV_CLIENT_ID) and env.get(ENV_CLIENT_SECRET):
        credentials = Credentials(env[ENV_CLIENT_ID], env[ENV_CLIENT_SECRET])
    else:
        credentials = stack.aspose_credentials()
    return AsposeAccess(base_url, token_url, credentials.client_id, credentials.client_secret)
