"""The one client of a running stack, found from its outputs: on AWS or on the local cloud.

``StackSession.for_stack(name)`` finds a deployed stack (CloudFormation's outputs and
parameters, with the usual profile and region); ``StackSession.from_state_file()`` the stack
``make local`` runs; ``StackSession.from_outputs(outputs, client)`` any stack whose outputs are
known. Its concerns are classes of their own modules (see the package's docstring); this one
only puts them together.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from infra.stack.bus import Bus
from infra.stack.client import ClientFactory, StackOutputs
from infra.stack.dead_letters import DeadLetters
from infra.stack.fleet import FleetControl
from infra.stack.outcomes import Outcomes
from infra.stack.secrets import Secrets
from infra.stack.state_file import DEFAULT_STATE_FILE, LocalState


class StackSession(Bus, Outcomes, DeadLetters, Secrets, FleetControl):
    """Drives and reads one stack through its public contract: announcing tasks (:class:`Bus`),
    executions, results and outcomes (:class:`Outcomes`), the dead-letter queue
    (:class:`DeadLetters`), the secret (:class:`Secrets`) and the fleet's breaker
    (:class:`FleetControl`)."""

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, str], client: ClientFactory) -> Self:
        """A stack known by its outputs, reached with ``client(service)`` (a local cloud's)."""
        return cls(StackOutputs.from_outputs(outputs), client)

    @classmethod
    def from_local(cls, state: LocalState) -> Self:
        """The stack a local cloud's state describes (its parameters too, when it records them)."""
        return cls(StackOutputs.from_outputs(state.outputs), state.client(), state.parameters)

    @classmethod
    def from_state_file(cls, path: Path = DEFAULT_STATE_FILE) -> Self:
        """The stack ``make local`` is running (it writes ``.local/stack.json``)."""
        return cls.from_local(LocalState.read(path))

    @classmethod
    def for_stack(cls, stack_name: str, boto_session: Any = None) -> Self:
        """A deployed stack on AWS, by name (the usual profile and region, or ``boto_session``)."""
        import boto3

        session = boto_session or boto3.session.Session()
        described = session.client("cloudformation").describe_stacks(StackName=stack_name)
        stack = described["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        parameters = {
            p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", ""))
            for p in stack.get("Parameters", [])
        }
        return cls(StackOutputs.from_outputs(outputs), session.client, parameters)
