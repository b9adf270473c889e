"""One moto CloudFormation stack's resource map, where the deployer fills moto's gaps: state
machines, which moto's CloudFormation cannot execute, are created through the executing Step
Functions API and put in the stack's own resource map, so ``Ref``/``GetAtt``, outputs and
deletion see the executing ones."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from infra.local.cloud.moto_internals.cloudformation.base import Resource
from infra.local.cloud.moto_internals.patching import ACCOUNT_ID


class StackInternals:
    """One moto CloudFormation stack's resource map, where the deployer fills moto's gaps."""

    def __init__(self, region: str, stack_id: str) -> None:
        from moto.cloudformation.models import cloudformation_backends

        self.region = region
        self._stack = cloudformation_backends[ACCOUNT_ID][region].get_stack(stack_id)

    def created_resources(self, logical_ids: set[str]) -> dict[str, Any]:
        """Resources moto created, by logical id. ``DescribeStackResources`` lists the skipped
        ones too, without ids, and gives no physical id to an event bus."""
        return {
            logical_id: resource
            for logical_id, resource in self._stack.resource_map._parsed_resources.items()
            if logical_id in logical_ids and resource is not None
        }

    def resolve(self, value: Any) -> Any:
        """A template value with ``Ref``/``GetAtt``/``Sub``/``If`` resolved as the stack would."""
        from moto.cloudformation.parsing import clean_json

        return clean_json(value, self._stack.resource_map)

    def condition_holds(self, condition: str | None) -> bool:
        return not condition or bool(self._stack.resource_map.lazy_condition_map[condition])

    def stand_in(
        self,
        logical_id: str,
        physical_id: str,
        attributes: dict[str, str],
        on_delete: Callable[[], object],
    ) -> None:
        """Make ``logical_id`` resolve to a resource the deployer made, and delete it with the
        stack, as CloudFormation would."""
        resource = Resource(physical_id, attributes, on_delete)
        resource.logical_resource_id = logical_id
        self._stack.resource_map._parsed_resources[logical_id] = resource

    def refresh_outputs(self) -> None:
        """Outputs are parsed lazily and cached; forget them so they see the stand-ins."""
        self._stack.output_map._parsed_outputs.clear()

    # Resources created outside CloudFormation, deleted with the stack.
    def delete_executing_state_machine_later(self, arn: str) -> Callable[[], object]:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends[ACCOUNT_ID][self.region]
        return lambda: backend.delete_state_machine(arn)

    def delete_cloudformation_state_machine(self, arn: str) -> None:
        """CloudFormation put the state machine in moto's non-executing backend; remove it there
        (the deployer recreates it, same name, through the executing Step Functions API)."""
        from moto.stepfunctions.models import stepfunctions_backends

        backend = stepfunctions_backends[ACCOUNT_ID][self.region]
        with contextlib.suppress(Exception):  # already gone is fine
            backend.delete_state_machine(arn)
