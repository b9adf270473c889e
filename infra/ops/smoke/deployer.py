"""Where the smoke puts its stack: the one thing that differs between AWS and the local cloud.

Everything else the smoke does (putting the secret, submitting, following, checking, deleting)
is the same code on both, through the clients a deployer hands out, so that the dry run on the
local cloud proves the script that runs on an account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class DeployError(Exception):
    """A build or deployment that did not complete; the message is one line saying why."""


class Deployer(Protocol):
    """Builds and deploys template.yaml somewhere, and hands out clients of that place."""

    @property
    def description(self) -> str:
        """Where, for people: ``AWS account 123456789012 (eu-west-1)``, or the local cloud."""
        ...

    @property
    def dry_run(self) -> bool:
        """True when nothing runs on AWS (the report says so at its top)."""
        ...

    def client(self, service: str) -> Any:
        """A boto3 client of the account and region the stack is deployed in."""
        ...

    def beside(self, stack_name: str) -> list[str]:
        """What :meth:`deploy` makes beside the stack, one line each, for the statement."""
        ...

    def build(self) -> str:
        """Build what :meth:`deploy` deploys; one line saying what was built."""
        ...

    def deploy(self, stack_name: str, parameters: Mapping[str, str]) -> None:
        """Create the stack ``stack_name`` with ``parameters``; :class:`DeployError` if it did
        not complete (the stack may then exist, half made: the smoke deletes it either way)."""
        ...

    def discard(self) -> list[str]:
        """Remove what :meth:`deploy` made beside the stack (an artifact bucket); one line for
        each thing removed, or left behind and why. Safe to call when nothing was made."""
        ...
