"""SQS messages delivered to Lambda by polling, as AWS does: moto invokes a mapped function inside
``SendMessage``, once and never again, so its own delivery is switched off."""

from __future__ import annotations

from infra.local.cloud.moto_internals.patching import ACCOUNT_ID


def detach_sqs_event_source_mappings(region: str) -> None:
    """Stop moto from invoking mapped functions inside ``SendMessage``.

    The mappings stay in the Lambda backend (``ListEventSourceMappings`` shows them); the local
    cloud's pollers deliver their messages through the public SQS and Lambda APIs instead.
    """
    from moto.sqs.models import sqs_backends

    for queue in sqs_backends[ACCOUNT_ID][region].queues.values():
        queue.lambda_event_source_mappings.clear()
