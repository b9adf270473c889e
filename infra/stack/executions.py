"""Finding a stack's executions and reading them: their summaries, one execution with the path it
took, the definition it ran; waiting for one to end."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from infra.stack.client import StackClient
from infra.stack.history import RUNNING, Execution, execution_path
from infra.stack.waiting import wait_until

_TASK_ID_PREFIX = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def task_id_of(execution_name: str) -> str:
    """The task an execution works on: its name, or the name before ``-<refetch label>``."""
    match = _TASK_ID_PREFIX.match(execution_name)
    return match.group(0) if match else execution_name


class Executions(StackClient):
    """The executions of the stack's state machine (named ``<taskId>`` or ``<taskId>-<label>``)."""

    def executions(self, task_id: str | None = None) -> list[dict[str, Any]]:
        """Summaries of the task's executions (named ``<taskId>`` or ``<taskId>-<refetch>``),
        or of every execution; newest first."""
        found = [
            execution
            for execution in self.list_executions()
            if task_id is None
            or execution["name"] == task_id
            or execution["name"].startswith(task_id + "-")
        ]
        found.sort(key=lambda e: e["startDate"], reverse=True)
        return found

    def list_executions(
        self,
        *,
        status: str | None = None,
        started_after: datetime | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Summaries of the state machine's executions, newest first, as ListExecutions pages
        them (``status`` filters on the service's side), stopping at the first one started
        before ``started_after``."""
        paginator = self.client("stepfunctions").get_paginator("list_executions")
        arguments: dict[str, Any] = {"stateMachineArn": self.outputs.state_machine_arn}
        if status:
            arguments["statusFilter"] = status
        for page in paginator.paginate(**arguments):
            for execution in page["executions"]:
                if started_after is not None and execution["startDate"] < started_after:
                    return
                yield execution

    def execution_arn(self, execution_name: str) -> str:
        """The ARN an execution of this stack's state machine named ``execution_name`` has."""
        machine = self.outputs.state_machine_arn
        return machine.replace(":stateMachine:", ":execution:", 1) + ":" + execution_name

    def describe_execution(self, execution_name: str) -> dict[str, Any] | None:
        """DescribeExecution of this state machine's execution named ``execution_name``, or None
        when there is none."""
        sfn = self.client("stepfunctions")
        try:
            described: dict[str, Any] = sfn.describe_execution(
                executionArn=self.execution_arn(execution_name)
            )
        except sfn.exceptions.ExecutionDoesNotExist:
            return None
        return described

    def definition(self) -> dict[str, Any]:
        """The deployed state machine's definition (Amazon States Language, parsed)."""
        described = self.client("stepfunctions").describe_state_machine(
            stateMachineArn=self.outputs.state_machine_arn
        )
        definition: dict[str, Any] = json.loads(described["definition"])
        return definition

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """Every history event of an execution, oldest first."""
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**arguments)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            arguments["nextToken"] = page["nextToken"]

    def execution(self, execution_arn: str) -> Execution:
        """One execution, described, with the path its history shows."""
        described = self.client("stepfunctions").describe_execution(executionArn=execution_arn)
        history = self.history(execution_arn)
        return Execution(
            arn=execution_arn,
            name=str(described["name"]),
            status=str(described["status"]),
            started=described.get("startDate"),
            stopped=described.get("stopDate"),
            error=described.get("error"),
            cause=described.get("cause"),
            steps=execution_path(history),
            history=tuple(history),
        )

    def wait_for_execution(self, execution_arn: str, timeout: float = 90) -> Execution:
        """The execution once it has left RUNNING."""
        sfn = self.client("stepfunctions")

        def ended() -> bool:
            status: str = sfn.describe_execution(executionArn=execution_arn)["status"]
            return status != RUNNING

        wait_until(ended, timeout=timeout, what=f"execution {execution_arn} to end", every=0.2)
        return self.execution(execution_arn)
