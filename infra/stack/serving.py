"""The one lifecycle of whatever a tool starts and must stop again: a server on a thread of its
own (the console, the emulator, the local AWS), a process (the emulator apart), AWS resources
made for a while (an outcome subscription).

``with thing:`` starts it and stops it whatever happens; ``start()`` returns it started (a second
call changes nothing) and ``stop()`` may be called again. A program that holds such things wraps
its run in :func:`sigterm_as_interrupt`, so a ``kill`` stops them as Ctrl-C does.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any, Self

HOST = "127.0.0.1"


class Running(ABC):
    """Started by :meth:`start` or ``with``; stopped by :meth:`stop` or leaving the block.

    A subclass says how in ``_start`` and ``_stop``; ``_stop`` also ends a start that failed
    half-way, so it stops only what was started.
    """

    _started = False

    def start(self) -> Self:
        """Start it (a second call changes nothing); what a failed start began is stopped."""
        if not self._started:
            try:
                self._start()
            except BaseException:
                self._stop()
                raise
            self._started = True
        return self

    def stop(self) -> None:
        """Stop it and free what it holds; a second call changes nothing."""
        if self._started:
            self._started = False
            self._stop()

    @abstractmethod
    def _start(self) -> None: ...

    @abstractmethod
    def _stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


class ServerThread:
    """A server (``socketserver``'s or werkzeug's: ``serve_forever``, ``shutdown``,
    ``server_close``) answering from a daemon thread of its own until :meth:`stop`."""

    def __init__(self, server: Any, name: str, *, poll_interval: float = 0.5) -> None:
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": poll_interval},
            name=name,
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop answering, wait for the thread, free the port."""
        if self._thread.is_alive():
            self.server.shutdown()
            self._thread.join(timeout=10)
        self.server.server_close()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises ``KeyboardInterrupt`` here)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C (``KeyboardInterrupt``), so what the program started is
    stopped either way. Only the main thread may set a signal handler: elsewhere, nothing
    changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
