"""The emulator in a process of its own, with the same surface as :class:`EmulatorServer`.

Real OCR takes CPU; in its own process it does not compete for one interpreter lock with the
local AWS that calls it, as the real service would not. Everything a test or tool needs goes
through HTTP (the API and the admin API), so the two are interchangeable.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from infra.local.emulator.config import EmulatorConfig
from infra.local.emulator.endpoint import Endpoint
from infra.stack.serving import free_port

_ROOT = Path(__file__).resolve().parents[3]
_START_TIMEOUT_S = 30.0


class EmulatorProcess(Endpoint):
    """``python -m infra.local.emulator`` as a child process: ``with EmulatorProcess() as e:``."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        config = config or EmulatorConfig()
        self.config = config if config.port else replace(config, port=free_port(config.host))
        self._process: subprocess.Popen[bytes] | None = None

    def _start(self) -> None:
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
        self.admin.wait_until_up(deadline_s=_START_TIMEOUT_S)

    def _stop(self) -> None:
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

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def port(self) -> int:
        return self.config.port
