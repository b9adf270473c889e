"""Done once what moto redoes for every execution, state or request: same answers, less CPU.

A burst of executions was CPU-bound on what moto redid; each patch is a module of its own
(``definitions``, ``clients``, ``jsonpath``, ``dispatch``, ``dynamodb``), installed and undone
together.
"""

from __future__ import annotations

from infra.local.cloud.moto_internals import clients, definitions, dispatch, dynamodb, jsonpath
from infra.local.cloud.moto_internals.clients import RoleCredentials
from infra.local.cloud.moto_internals.patching import install, uninstall

_PATCH = "speed-ups"


def speed_up_interpreter(credentials: RoleCredentials | None = None) -> None:
    """Install every speed-up (once a process); ``credentials`` sign the interpreter's calls."""
    install(
        _PATCH,
        lambda: [
            *definitions.patches(),
            *clients.patches(credentials),
            *jsonpath.patches(),
            *dispatch.patches(),
            *dynamodb.patches(),
        ],
    )


def restore_interpreter() -> None:
    uninstall(_PATCH)
