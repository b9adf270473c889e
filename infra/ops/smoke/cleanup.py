"""Leaving nothing behind: the smoke's consumer removed, the stack's buckets emptied (CloudFormation
refuses to delete a bucket that holds objects), the stack deleted and waited for, and then what
the stack held looked for again, so "nothing is left" is seen rather than assumed.

Every function here is safe to call on a stack that was never created, half created, or already
deleted, and again after it failed: a run may stop anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.stack.waiting import wait_until

ClientFactory = Callable[[str], Any]
DELETE_COMPLETE = "DELETE_COMPLETE"
#: Deletion is asked for again after a failure (an access log delivered after the bucket was
#: emptied, say): this many times in all.
DELETE_ATTEMPTS = 3
#: CloudFormation deletes this stack in a few minutes; a KMS key or a log bucket may add some.
DELETE_TIMEOUT_S = 1800.0
#: The waiting period of a KMS key the stack left enabled (KMS's shortest).
KEY_PENDING_DAYS = 7
_GONE = frozenset(
    {
        "404",
        "NoSuchBucket",
        "NotFoundException",
        "ResourceNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    }
)


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ``ClientError`` (its class name for anything else)."""
    response = getattr(error, "response", None)
    code = (response or {}).get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code or type(error).__name__)


def _gone(error: Exception) -> bool:
    return error_code(error) in _GONE


# --- the consumer -------------------------------------------------------------------------------
def remove_consumer(client: ClientFactory, bus: str, name: str) -> str:
    """Remove the rule ``name`` on ``bus`` (its targets first) and the queue ``name``, whatever of
    them exists: the bus cannot be deleted while a rule is on it."""
    events, sqs = client("events"), client("sqs")
    try:
        targets = events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
        if targets:
            events.remove_targets(
                Rule=name, EventBusName=bus, Ids=[str(target["Id"]) for target in targets]
            )
        events.delete_rule(Name=name, EventBusName=bus)
    except Exception as error:
        if not _gone(error):
            raise
    try:
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except Exception as error:
        if not _gone(error):
            raise
    return f"rule {name} on bus {bus} and queue {name}: gone"


# --- the stack ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    physical_id: str


@dataclass
class Deletion:
    """How the stack's deletion went."""

    completed: bool
    detail: str
    resources: list[Resource] = field(default_factory=list)


def describe(cfn: Any, stack: str) -> dict[str, Any] | None:
    """The stack, by name or id; None when there is none (never created, or deleted)."""
    try:
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except Exception as error:
        if error_code(error) == "ValidationError" and "does not exist" in str(error):
            return None
        raise
    return dict(stacks[0]) if stacks else None


def stack_resources(cfn: Any, stack_id: str) -> list[Resource]:
    """Every resource the stack has made so far, with its physical id."""
    pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id)
    return [
        Resource(str(r["LogicalResourceId"]), str(r["ResourceType"]), str(r["PhysicalResourceId"]))
        for page in pages
        for r in page["StackResourceSummaries"]
        if r.get("ResourceType") and r.get("PhysicalResourceId")
    ]


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object (every version, every delete marker) of ``bucket``, after turning
    its access logging off (when allowed) so the emptying itself writes no more logs; how many
    objects were deleted."""
    try:
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
    except Exception as error:
        if _gone(error):
            return 0  # else not allowed to turn it off: empty it all the same
    try:
        pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket))
    except Exception as error:
        if _gone(error):
            return 0
        raise
    deleted = 0
    for page in pages:
        keys = [
            {"Key": entry["Key"], "VersionId": entry["VersionId"]}
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            deleted += len(batch)
    return deleted


def empty_buckets(client: ClientFactory, resources: list[Resource]) -> int:
    """Empty the stack's buckets, the results bucket first (its emptying is what gets logged)."""
    buckets = sorted(
        (r for r in resources if r.type == "AWS::S3::Bucket"),
        key=lambda r: r.logical_id != "ResultsBucket",
    )
    s3 = client("s3")
    return sum(empty_bucket(s3, r.physical_id) for r in buckets)


def delete_stack(client: ClientFactory, stack_name: str) -> Deletion:
    """Delete the stack and wait until it is gone, emptying its buckets before each attempt."""
    cfn = client("cloudformation")
    stack = describe(cfn, stack_name)
    if stack is None:
        return Deletion(True, "no stack was created")
    stack_id = str(stack["StackId"])
    resources = stack_resources(cfn, stack_id)
    status, emptied = str(stack["StackStatus"]), 0
    for attempt in range(1, DELETE_ATTEMPTS + 1):
        emptied += empty_buckets(client, resources)
        _request_deletion(cfn, stack_id)
        status = _settled(cfn, stack_id)
        if status == DELETE_COMPLETE:
            return Deletion(
                True,
                f"{DELETE_COMPLETE} (attempt {attempt}; {emptied} objects emptied first)",
                resources,
            )
    return Deletion(
        False,
        f"{status} after {DELETE_ATTEMPTS} attempts ({_failures(cfn, stack_id)}): delete it with "
        f"`aws cloudformation delete-stack --stack-name {stack_name}`",
        resources,
    )


def _request_deletion(cfn: Any, stack_id: str) -> None:
    """DeleteStack; refused (a stack still being created, updated or rolled back), it is asked
    again once the stack has settled."""
    try:
        cfn.delete_stack(StackName=stack_id)
    except Exception as error:
        if error_code(error) != "ValidationError":
            raise
        _settled(cfn, stack_id)
        cfn.delete_stack(StackName=stack_id)


def _settled(cfn: Any, stack_id: str) -> str:
    """The stack's status once no operation is in progress on it (a stack waiting for a change
    set to be executed has settled too)."""

    def status() -> str | None:
        stack = describe(cfn, stack_id)
        value = DELETE_COMPLETE if stack is None else str(stack["StackStatus"])
        busy = value.endswith("_IN_PROGRESS") and value != "REVIEW_IN_PROGRESS"
        return None if busy else value

    return wait_until(
        status, timeout=DELETE_TIMEOUT_S, what=f"stack {stack_id} to settle", every=5.0
    )


def _failures(cfn: Any, stack_id: str) -> str:
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    reasons = [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
        for e in events[:20]
        if str(e.get("ResourceStatus", "")).endswith("FAILED")
    ]
    return "; ".join(reasons[:3]) or "no failure reported"
