"""Least privilege, checked against what ran: each role's deployed policies against the AWS calls
recorded for it.

The policies are read back from the local AWS's IAM (CloudFormation resolved every reference, as
on AWS), never from a second description here. A call is allowed when one of its role's ``Allow``
statements matches its action and its resource (IAM's ``*`` and ``?`` wildcards). A grant is used
when a recorded call matched it, or when the platform needs it and never shows the call locally
(:data:`PLATFORM`, each entry with where AWS says so).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from infra.local.cloud import AwsCall


@dataclass(frozen=True)
class Grant:
    """One ``Allow`` statement of a role's inline policies."""

    role: str  # role ARN
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def allows(self, action: str, resource: str) -> bool:
        return any(_action_matches(pattern, action) for pattern in self.actions) and any(
            _resource_matches(pattern, resource) for pattern in self.resources
        )


@dataclass(frozen=True)
class Call:
    """A call made as a role on one resource, as the local cloud recorded it."""

    role: str
    action: str
    resource: str
    origin: str  # "code", "lambda-service" (pollers, log delivery), "states" (the interpreter)


def calls_as(roles: Iterable[str], recorded: Iterable[AwsCall]) -> list[Call]:
    """The recorded calls made as one of ``roles``, one per resource."""
    wanted = set(roles)
    return [
        Call(call.principal, call.action, resource, call.origin)
        for call in recorded
        if call.principal in wanted
        for resource in call.resources
    ]


#: Grants the platform needs that no local call shows, by ``(role kind, action)``: AWS documents
#: each. Role kinds: "function" (a Lambda execution role), "state machine".
PLATFORM: dict[tuple[str, str], str] = {
    # Lambda with Tracing: Active sends segments with the execution role.
    # https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html
    ("function", "xray:PutTraceSegments"): "Lambda active tracing",
    ("function", "xray:PutTelemetryRecords"): "Lambda active tracing",
    # Step Functions X-Ray tracing.
    # https://docs.aws.amazon.com/step-functions/latest/dg/xray-iam.html
    ("state machine", "xray:PutTraceSegments"): "Step Functions tracing",
    ("state machine", "xray:PutTelemetryRecords"): "Step Functions tracing",
    ("state machine", "xray:GetSamplingRules"): "Step Functions tracing",
    ("state machine", "xray:GetSamplingTargets"): "Step Functions tracing",
    # Step Functions logging to CloudWatch Logs (these APIs take no resource).
    # https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html
    ("state machine", "logs:CreateLogDelivery"): "Step Functions logging",
    ("state machine", "logs:GetLogDelivery"): "Step Functions logging",
    ("state machine", "logs:UpdateLogDelivery"): "Step Functions logging",
    ("state machine", "logs:DeleteLogDelivery"): "Step Functions logging",
    ("state machine", "logs:ListLogDeliveries"): "Step Functions logging",
    ("state machine", "logs:PutResourcePolicy"): "Step Functions logging",
    ("state machine", "logs:DescribeResourcePolicies"): "Step Functions logging",
    ("state machine", "logs:DescribeLogGroups"): "Step Functions logging",
}


def role_grants(iam: Any, role_arn: str) -> list[Grant]:
    """Every ``Allow`` statement of the role's inline policies, as deployed."""
    name = role_arn.rsplit("/", 1)[-1]
    grants = []
    for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        statements = document["Statement"]
        for index, statement in enumerate(
            statements if isinstance(statements, list) else [statements]
        ):
            if statement.get("Effect") != "Allow":
                continue
            grants.append(
                Grant(
                    role=role_arn,
                    sid=str(statement.get("Sid") or f"{policy_name}[{index}]"),
                    actions=_strings(statement.get("Action")),
                    resources=_strings(statement.get("Resource")),
                )
            )
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    if attached:
        raise AssertionError(f"{role_arn} has managed policies {attached}: grant inline, exactly")
    return grants


def ungranted(calls: Iterable[Call], grants: dict[str, list[Grant]]) -> list[Call]:
    """Calls no statement of their role allows (a role not in ``grants`` allows nothing)."""
    return [
        call
        for call in calls
        if not any(g.allows(call.action, call.resource) for g in grants.get(call.role, []))
    ]


def unused(
    calls: Iterable[Call], grants: dict[str, list[Grant]], kinds: dict[str, str]
) -> list[str]:
    """``"<sid> <action> on <resource>"`` for every granted action and resource that no call used
    and the platform does not need (``kinds``: role ARN -> "function" or "state machine")."""
    made = list(calls)
    found = []
    for role, role_grants_ in grants.items():
        for grant in role_grants_:
            for action in grant.actions:
                if (kinds[role], action) in PLATFORM:
                    continue
                for resource in grant.resources:
                    if not any(
                        c.role == role
                        and _action_matches(action, c.action)
                        and _resource_matches(resource, c.resource)
                        for c in made
                    ):
                        found.append(f"{grant.sid} {action} on {resource}")
    return found


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


def _action_matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def _resource_matches(pattern: str, resource: str) -> bool:
    return fnmatch.fnmatchcase(resource, pattern.replace("[", "[[]"))
