"""What ``make local`` writes (``.local/stack.json``) so that other processes find its stack: the
local AWS endpoint and region, the stack's outputs and parameters, and the emulator with its
local credentials.
The local cloud writes it; ``ocr-results --local``, the console and a shell read it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.stack.aspose import AsposeAccess
from infra.stack.client import ClientFactory

DEFAULT_STATE_FILE = Path(".local/stack.json")
#: The credentials every local AWS takes (it checks none; a real account's must never be used).
_LOCAL_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class LocalState:
    """A running local cloud's stack, as the state file describes it."""

    aws_endpoint: str
    region: str
    outputs: dict[str, str]
    #: The deployment (``StackInfo.to_json()``: name, resources, functions, warnings...).
    stack: dict[str, Any] = field(default_factory=dict)
    #: The Aspose emulator, when the local cloud runs one.
    aspose: AsposeAccess | None = None
    console_url: str | None = None
    #: The stack's parameters in force (its template's defaults and the values given), so the
    #: stack client knows them as it knows a deployed stack's (``AsposeCallsPerSecond``...).
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def stack_name(self) -> str:
        return str(self.stack.get("stackName") or "local")

    def client(self) -> ClientFactory:
        """``client(service)``: boto3 clients of the local AWS."""
        import boto3

        arguments = {"region_name": self.region, "endpoint_url": self.aws_endpoint, **_LOCAL_KEYS}
        return lambda service: boto3.client(service, **arguments)

    def to_json(self) -> dict[str, Any]:
        aspose = self.aspose
        return {
            "awsEndpoint": self.aws_endpoint,
            "region": self.region,
            "asposeBaseUrl": aspose.base_url if aspose else None,
            "asposeTokenUrl": aspose.token_url if aspose else None,
            # The emulator's own local credentials, for `ocr-results --local submit`.
            "asposeClientId": aspose.client_id if aspose else None,
            "asposeClientSecret": aspose.client_secret if aspose else None,
            "consoleUrl": self.console_url,
            "outputs": self.outputs,
            "parameters": self.parameters,
            "stack": self.stack,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> LocalState:
        """The state :meth:`to_json` wrote; ``KeyError`` naming what is missing."""
        aspose = None
        if value.get("asposeBaseUrl") and value.get("asposeClientId"):
            aspose = AsposeAccess(
                base_url=str(value["asposeBaseUrl"]),
                token_url=str(value["asposeTokenUrl"]),
                client_id=str(value["asposeClientId"]),
                client_secret=str(value["asposeClientSecret"]),
            )
        return cls(
            aws_endpoint=str(value["awsEndpoint"]),
            region=str(value["region"]),
            outputs=dict(value["outputs"]),
            stack=dict(value.get("stack") or {}),
            aspose=aspose,
            console_url=value.get("consoleUrl"),
            parameters={str(k): str(v) for k, v in (value.get("parameters") or {}).items()},
        )

    @classmethod
    def read(cls, path: Path = DEFAULT_STATE_FILE) -> LocalState:
        """``FileNotFoundError`` when no local cloud wrote it, ``ValueError`` when it is not
        JSON, ``KeyError`` when it is not what a local cloud writes."""
        value = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(value, dict):
            raise ValueError(f"{path} holds no JSON object")
        return cls.from_json(value)

    def write(self, path: Path = DEFAULT_STATE_FILE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
