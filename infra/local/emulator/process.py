"""The emulator in a process of its own, with the same surface as :class:`EmulatorServer`.

Real OCR takes CPU; in its own process it does not compete for one interpreter lock with the
local AWS that calls it, as the real service would not. Everything a test or tool needs goes
through HTTP (the API and the admin API), so the two are interchangeable.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from infra.local.emulator.admin import EmulatorAdmin
from infra.local.emulator.config import EmulatorConfig, Timing
from infra.local.emulator.server import TOKEN_PATH

_ROOT = Path(__file__).resolve().parents[3]
_START_TIMEOUT_S = 30.0


class EmulatorProcess:
    """``python -m infra.local.emulator`` as a child process: ``with EmulatorProcess() as e:``."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        config = config or EmulatorConfig()
        self.config = config if config.port else replace(config, port=_free_port(config.host))
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> EmulatorProcess:
        if self._process is not None:
            return self
        environment = {
            **os.environ,
            "EMULATOR_CONFIG": self.config.to_json(),
            "EMULATOR_PARENT_PID": str(os.getpid()),
        }
        self._process = subprocess.Popen(
            [sys.executable, "-m", "infra.local.emulator"],
            cwd=_ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            self.admin.wait_until_up(deadline_s=_START_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def port(self) -> int:
        return self.config.port

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
    def timing(self) -> Timing:
        return Timing().updated(self.admin.timing())

    @property
    def admin(self) -> EmulatorAdmin:
        return EmulatorAdmin(self.base_url)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
