"""The lifecycle helpers every long-running tool shares (:mod:`infra.stack.serving`)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from infra.stack.serving import sigterm_as_interrupt


def _killed() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # the handler interrupts the sleep


def test_sigterm_unwinds_like_ctrl_c_and_the_handler_is_put_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt():
        _killed()
    assert signal.getsignal(signal.SIGTERM) is before


def test_off_the_main_thread_nothing_changes() -> None:
    # Only the main thread may set a signal handler: a tool run on a test's thread still works.
    seen: list[object] = []

    def run() -> None:
        with sigterm_as_interrupt():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [signal.getsignal(signal.SIGTERM)]
