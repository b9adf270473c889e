"""Conditional writes made atomic, as DynamoDB and S3 make them.

moto checks a write's condition and then writes, with nothing between the two held: two
requests served on two threads at once can both see the condition hold and both write. DynamoDB
and S3 promise the opposite (one item's conditional writes are serialised; ``If-None-Match: *``
lets one PutObject of a key win), and the product relies on it: one probe of the fleet's breaker
per slot, one writer of a task's submitted facts. Each write that may carry a condition runs
under one lock per service here, which is what the services promise and no more.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from infra.local.cloud.moto_internals.patching import Patch, install, uninstall

_NAME = "atomic-conditional-writes"
_DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")


def patches() -> list[Patch]:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.s3.responses import S3Response

    dynamodb, s3 = threading.RLock(), threading.RLock()
    chosen: list[Patch] = [
        (DynamoDBBackend, name, _locked(getattr(DynamoDBBackend, name), dynamodb))
        for name in _DYNAMODB_WRITES
    ]
    # S3 checks If-None-Match / If-Match in the response layer, before the backend writes.
    chosen.append((S3Response, "put_object", _locked(S3Response.put_object, s3)))
    return chosen


def make_conditional_writes_atomic() -> None:
    """Install (once a process): DynamoDB's and S3's conditional writes serialised."""
    install(_NAME, patches)


def restore_conditional_writes() -> None:
    uninstall(_NAME)


def _locked(method: Callable[..., Any], lock: threading.RLock) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return locked
