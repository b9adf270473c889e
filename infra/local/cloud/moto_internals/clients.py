"""The interpreter's boto3 clients built once per region, service and role, and signed as that
role: moto builds a new client for every Lambda invocation and service call (boto3 clients are
thread-safe, so one serves every execution), and signs every one with the same dummy keys, so
the local cloud could not tell which role a state machine's call came from."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from infra.local.cloud.moto_internals.patching import Patch, interpreter_modules

#: The boto3 credentials of what runs as an IAM role: ``role ARN -> client keyword arguments``.
RoleCredentials = Callable[[str], Mapping[str, str]]


def patches(credentials: RoleCredentials | None) -> list[Patch]:
    """With ``credentials``, the interpreter's calls (a Lambda task's ``Invoke``, ``PutEvents``...)
    are signed with those of the state machine's role, as Step Functions calls as that role."""
    from moto.stepfunctions.parser.asl.utils import boto_client

    make_client = boto_client.boto_client_for
    shared = _shared_clients(make_client, credentials)
    return [
        (module, "boto_client_for", shared)
        for module in interpreter_modules()
        if getattr(module, "boto_client_for", None) is make_client
    ]


def _shared_clients(
    make_client: Callable[..., Any], credentials: RoleCredentials | None
) -> Callable[..., Any]:
    """moto's ``boto_client_for(region, service, state_credentials)``, one client per region,
    service and role. ``state_credentials.role_arn`` is the role the state acts as (the state
    machine's, or a state's ``Credentials``): the client is rebuilt with moto's endpoint and
    configuration and the role's own keys."""
    import boto3

    clients: dict[tuple[str, str, str | None], Any] = {}
    lock = threading.Lock()

    def shared_client(region: str, service: str, state_credentials: Any = None) -> Any:
        role = getattr(state_credentials, "role_arn", None)
        key = (region, service, role)
        with lock:
            if key not in clients:
                client = make_client(region, service, state_credentials)
                if role and credentials is not None:
                    client = boto3.client(
                        service,
                        region_name=region,
                        endpoint_url=client.meta.endpoint_url,
                        config=client.meta.config,
                        **credentials(role),
                    )
                clients[key] = client
            return clients[key]

    return shared_client
