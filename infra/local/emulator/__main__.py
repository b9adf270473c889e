"""`python -m infra.local.emulator`: serve on 127.0.0.1:$PORT until Ctrl-C."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from types import FrameType

from infra.local.emulator.config import EmulatorConfig
from infra.local.emulator.server import EmulatorServer


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # Stop the same clean way on Ctrl-C and on `kill` (SIGTERM), even when started in the
    # background by a shell that ignores SIGINT for its children.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = EmulatorConfig.from_env()
    except ValueError as error:
        print(f"emulator: {error}", file=sys.stderr)
        return 2
    _stop_with_parent(os.environ.get("EMULATOR_PARENT_PID"))
    server = EmulatorServer(config)
    try:
        server.start()
    except OSError as error:
        print(f"emulator: cannot listen on {config.host}:{config.port}: {error}", file=sys.stderr)
        return 1
    print("Aspose.OCR Cloud v5.0 emulator")
    print(f"  base URL:  {server.base_url}")
    print(f"  token URL: {server.token_url}")
    print(f"  client id: {server.client_id}")
    print(f"  admin:     {server.base_url}/_emulator/")
    print("Ctrl-C to stop.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
    finally:
        server.stop()
    return 0


def _stop_with_parent(parent: str | None) -> None:
    """When started by another process (``EMULATOR_PARENT_PID``), stop when it is gone."""
    if not parent:
        return

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
