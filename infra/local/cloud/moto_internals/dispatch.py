"""moto's list of service modules read once: its server lists its package directory for every
request to find the service, and the directory never changes."""

from __future__ import annotations

from infra.local.cloud.moto_internals.patching import Patch


def patches() -> list[Patch]:
    from moto import backends

    module_names = tuple(backends.list_of_moto_modules())
    return [(backends, "list_of_moto_modules", lambda: module_names)]
