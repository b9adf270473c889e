"""What a smoke run will create, under which name and parameters, stated before anything is.

The resources are read from template.yaml as CloudFormation will receive it (the SAM transform
done offline by :mod:`infra.build.intrinsics`, conditions evaluated under the smoke's
parameters), so the statement cannot drift from the template.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from infra.build.intrinsics import TEMPLATE, Resolver, translated_template

#: A CloudFormation stack name: a letter, then letters, digits and hyphens, 128 at most.
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
STACK_PREFIX = "ocr-smoke"

#: The stack's parameters for a smoke run. Deleting the stack deletes the data with it; waits
#: stay short so the outcome comes soon after Aspose has it; a task that hangs gives up well
#: within the smoke's own wait (TASK_TIMEOUT_S); logs keep a day, should any outlive the stack.
PARAMETERS: dict[str, str] = {
    "DataDeletionPolicy": "Delete",
    "PollMaxIntervalSeconds": "15",
    "PollDeadlineSeconds": "300",
    "ResultsLifetimeSeconds": "600",
    "LogRetentionDays": "1",
}
#: How long the smoke waits for the task's outcome: the results' lifetime and a margin.
TASK_TIMEOUT_S = 720.0


def stack_name(now: datetime | None = None, token: str | None = None) -> str:
    """``ocr-smoke-20261130-101500-a1b2c3``: the UTC time (which run, at a glance) and a random
    part (two runs in the same second never meet). 32 characters, so every name the template
    derives from it stays within AWS's limits."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{STACK_PREFIX}-{moment:%Y%m%d-%H%M%S}-{token or secrets.token_hex(3)}"


def resource_types(parameters: Mapping[str, str], template: Path = TEMPLATE) -> Counter[str]:
    """How many resources of each type the stack will have under ``parameters``."""
    translated = translated_template(template, parameters)
    resolver = Resolver(translated, parameters)
    counts: Counter[str] = Counter()
    for resource in (translated.get("Resources") or {}).values():
        condition = resource.get("Condition")
        if condition is None or resolver.condition(str(condition)):
            counts[str(resource["Type"])] += 1
    return counts


@dataclass(frozen=True)
class Plan:
    """The run to be: where, under which name and parameters, making what."""

    where: str
    stack_name: str
    parameters: dict[str, str]
    resources: Counter[str]
    #: What the deployer and the smoke make beside the stack, removed at the end.
    beside: tuple[str, ...] = field(default=())

    def statement(self) -> list[str]:
        """What will be created, as the smoke states it before asking."""
        total = sum(self.resources.values())
        lines = [
            f"make smoke will deploy stack {self.stack_name} in {self.where}, run one task "
            "through it, check it, and delete it again.",
            "Parameters: " + ", ".join(f"{k}={v}" for k, v in self.parameters.items()),
            f"It creates {total} resources (template.yaml as CloudFormation receives it):",
        ]
        lines += [f"  {count:3d}  {kind}" for kind, count in sorted(self.resources.items())]
        if self.beside:
            lines.append("and, beside the stack, for the run only:")
            lines += [f"       {what}" for what in self.beside]
        return lines
