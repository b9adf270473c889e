"""The console: a read-only page of one stack's executions, served on 127.0.0.1.

``make local`` starts it beside the local cloud (its address is printed and written to
``.local/stack.json`` as ``consoleUrl``); ``python -m infra.ops.console`` serves it for a stack
``make local`` is already running. The list shows each execution's status, outcome, time to
result and polls (:mod:`infra.ops.listing`, as ``ocr-results list``); an execution's page draws
the state machine with its path (:mod:`infra.ops.drawing`), its timeline of polls and waits, its
stored objects (keys, types and sizes: never the recognised text, which is personal data) and its
outcome.

Layers, each importing only those before it: ``markup``, ``formats`` → ``model`` (reads through
:class:`~infra.stack.session.StackSession`) → ``timeline`` → ``pages`` → ``server``. It never
imports the CLI (``infra.ops.cli``) nor anything local-only; ``make console-check`` (the pages in
a real headless Chromium, on a local stack) is :mod:`infra.local.console_check`.
"""

from infra.ops.console.server import ConsoleServer

__all__ = ["ConsoleServer"]
