"""What a test or tool needs of a running emulator, whether it answers from a thread of this
process (:class:`~infra.local.emulator.server.EmulatorServer`) or from a process of its own
(:class:`~infra.local.emulator.process.EmulatorProcess`): where it answers, its local
credentials, its admin API. Both start and stop the same way (``with``, ``start``, ``stop``)."""

from __future__ import annotations

from abc import abstractmethod

from infra.local.emulator.admin import EmulatorAdmin
from infra.local.emulator.config import EmulatorConfig, Timing
from infra.stack.serving import Running

TOKEN_PATH = "/connect/token"  # noqa: S105 - a URL path, not a secret


class Endpoint(Running):
    """A running emulator, as its clients reach it."""

    config: EmulatorConfig

    @property
    @abstractmethod
    def port(self) -> int: ...

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def client_id(self) -> str:
        return self.config.client_id

    @property
    def client_secret(self) -> str:
        return self.config.client_secret

    @property
    def admin(self) -> EmulatorAdmin:
        return EmulatorAdmin(self.base_url)

    @property
    def timing(self) -> Timing:
        """The clock it runs on now (the admin API may have changed it)."""
        return Timing().updated(self.admin.timing())
