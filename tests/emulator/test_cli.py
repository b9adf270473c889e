"""`python -m infra.local.emulator` serves on $PORT with $CLIENT_ID/$CLIENT_SECRET; Ctrl-C stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from infra.local.emulator import EmulatorAdmin, EmulatorConfig
from infra.stack.serving import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_command_serves_and_stops_cleanly_on_ctrl_c() -> None:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "CLIENT_ID": "cli-id", "CLIENT_SECRET": "cli-secret"}
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.emulator"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(3)]
        assert f"base URL:  http://127.0.0.1:{port}" in banner[1]
        assert f"token URL: http://127.0.0.1:{port}/connect/token" in banner[2]
        EmulatorAdmin(f"http://127.0.0.1:{port}").wait_until_up()
        token = requests.post(
            f"http://127.0.0.1:{port}/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "cli-id",
                "client_secret": "cli-secret",
            },
            timeout=10,
        )
        assert token.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "stopping" in out


def test_env_defaults() -> None:
    config = EmulatorConfig.from_env({})
    assert (config.port, config.client_id, config.client_secret) == (
        8085,
        "local-client",
        "local-secret",
    )
    assert config.host == "127.0.0.1"
