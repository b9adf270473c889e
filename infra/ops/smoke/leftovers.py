"""After the stack is deleted, look for what it held, so "nothing is left" is seen, not assumed.

Data (buckets, tables) still there is a leftover. Log groups still there are deleted (they would
keep the run's logs). A KMS key and a secret cannot vanish at once: AWS keeps them in a waiting
period (7-30 days), during which neither can be used nor is billed; one the stack left active is
scheduled for deletion here, and said so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from infra.ops.smoke.cleanup import KEY_PENDING_DAYS, ClientFactory, Resource, error_code

_MISSING = frozenset({"404", "NoSuchBucket", "NotFoundException", "ResourceNotFoundException"})

#: (what is still there: None when nothing, what was noted or done: None when nothing)
Finding = tuple[str | None, str | None]


@dataclass
class Leftovers:
    """What the deleted stack left: ``remaining`` is a failure, ``notes`` say what was seen."""

    remaining: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def look_for_leftovers(
    client: ClientFactory, resources: list[Resource], stack_name: str
) -> Leftovers:
    """Each resource the stack had, looked for again; and the stack's log groups by prefix."""
    found = Leftovers()
    for resource in resources:
        looker = _LOOKERS.get(resource.type)
        if looker is None:
            continue
        try:
            remaining, note = looker(client, resource.physical_id)
        except Exception as error:  # gone; or not seen, which is not "nothing left"
            missing = error_code(error) in _MISSING
            remaining = None if missing else f"could not be looked at ({error_code(error)})"
            note = None
        if remaining:
            found.remaining.append(f"{resource.logical_id}: {remaining}")
        if note:
            found.notes.append(f"{resource.logical_id}: {note}")
    found.notes += _log_groups(client, f"/aws/lambda/{stack_name}/")
    return found


def _bucket(client: ClientFactory, name: str) -> Finding:
    client("s3").head_bucket(Bucket=name)
    return f"bucket {name} still exists", None


def _table(client: ClientFactory, name: str) -> Finding:
    status = client("dynamodb").describe_table(TableName=name)["Table"]["TableStatus"]
    return (None, "table being deleted") if status == "DELETING" else (f"table {status}", None)


def _key(client: ClientFactory, key_id: str) -> Finding:
    kms = client("kms")
    state = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
    if state in ("PendingDeletion", "PendingReplicaDeletion"):
        return None, "KMS key pending deletion (unusable, not billed)"
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=KEY_PENDING_DAYS)
    return None, (
        f"the stack left its KMS key {state}: scheduled its deletion in {KEY_PENDING_DAYS} days "
        "(unusable, not billed meanwhile)"
    )


def _secret(client: ClientFactory, secret_id: str) -> Finding:
    manager = client("secretsmanager")
    if manager.describe_secret(SecretId=secret_id).get("DeletedDate"):
        return None, "secret marked for deletion (unreadable, not billed)"
    manager.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)
    return None, "the stack left its secret: deleted it"


def _log_group(client: ClientFactory, name: str) -> Finding:
    notes = _log_groups(client, name, exact=True)
    return None, notes[0] if notes else None


def _log_groups(client: ClientFactory, prefix: str, *, exact: bool = False) -> list[str]:
    """Delete the log groups named ``prefix`` (or starting with it); a line for each."""
    logs = client("logs")
    pages = logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix)
    names = [str(g["logGroupName"]) for page in pages for g in page.get("logGroups", [])]
    names = [n for n in names if n == prefix] if exact else names
    for name in names:
        logs.delete_log_group(logGroupName=name)
    return [f"log group {name} outlived the stack: deleted it" for name in names]


_LOOKERS: dict[str, Callable[[ClientFactory, str], Finding]] = {
    "AWS::S3::Bucket": _bucket,
    "AWS::DynamoDB::Table": _table,
    "AWS::KMS::Key": _key,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::Logs::LogGroup": _log_group,
}
