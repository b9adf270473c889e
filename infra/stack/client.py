"""A stack as its clients know it: its outputs, its parameters, and one AWS client per service.

Every concern of :class:`~infra.stack.session.StackSession` stands on :class:`StackClient`, so
each can be read on its own and needs nothing but the stack's public outputs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: ``client(service)``: a boto3 client of the stack's account and region (or of a local cloud).
ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class StackOutputs:
    """The stack's outputs that its clients need (``template.yaml``'s ``Outputs``)."""

    event_bus_name: str
    state_machine_arn: str
    results_bucket: str
    results_table: str
    start_queue_url: str
    dead_letter_queue_url: str
    credentials_secret: str | None = None
    #: The fleet's breaker and budget (None: a stack from before the fleet).
    fleet_table: str | None = None

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, str]) -> StackOutputs:
        try:
            return cls(
                event_bus_name=outputs["EventBusName"],
                state_machine_arn=outputs["StateMachineArn"],
                results_bucket=outputs["ResultsBucketName"],
                results_table=outputs["ResultsTableName"],
                start_queue_url=outputs["StartQueueUrl"],
                dead_letter_queue_url=outputs["DeadLetterQueueUrl"],
                credentials_secret=outputs.get("AsposeCredentialsSecret"),
                fleet_table=outputs.get("FleetTableName"),
            )
        except KeyError as missing:
            raise ValueError(f"the stack has no output {missing}: is it this product's?") from None


class StackClient:
    """A stack's outputs and parameters, and the clients its concerns call it with."""

    def __init__(
        self,
        outputs: StackOutputs,
        client: ClientFactory,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self.outputs = outputs
        #: The stack's parameters, when known (a deployed stack's, from DescribeStacks).
        self.parameters: dict[str, str] = dict(parameters or {})
        self._client = client
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        """One client per service, shared by this session's threads (boto3 clients are)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._client(service)
            return self._clients[service]
