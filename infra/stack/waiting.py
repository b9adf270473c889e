"""The one deadline loop of the tree: wait on a condition, never a fixed sleep.

Everything that waits for something (a stack to be created, an execution to end, an outcome event,
a server to answer) calls :func:`wait_until`, so how long we wait and what a timeout says are
decided in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not hold before the deadline; the message names what was awaited.

    An ``AssertionError`` so that a test waiting on a condition fails (rather than errors) when
    it never holds.
    """


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    every: float = 0.1,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Return the first truthy value of ``probe``; raise :class:`WaitTimeout` after ``timeout``.

    Exceptions of the types in ``ignore`` count as "not yet" (a server still starting, say); the
    last one is chained to the timeout.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        value: T | None = None
        try:
            value = probe()
        except ignore as error:
            last_error = error
        if value:
            return value
        if time.monotonic() >= deadline:
            shown = f"last error: {type(last_error).__name__}" if last_error else f"last: {value!r}"
            raise WaitTimeout(
                f"timed out after {timeout:g}s waiting for {what} ({shown})"
            ) from last_error
        time.sleep(every)
