"""``ocr-results``: the command line of a deployed stack, on AWS (``--stack NAME``) or local
(``--local``).

It drives and reads the stack only through :class:`~infra.stack.session.StackSession` and the
product's public pieces (stack outputs, the bus, the table, the S3 layout, the execution
history), so nothing it needs ever ships in a Lambda function, and importing it loads nothing of
the local cloud. Layers, each importing only those before it (``tests/cli/test_layers.py``):
``errors`` → ``inputs`` → ``views`` → ``target`` → ``actions`` → ``output`` (rich), ``failures``
→ ``invocation`` → ``ending`` → ``commands`` (one module a command group, typer's own style) →
``app``. ``make demo`` calls ``actions``, ``views`` and ``output`` as the commands do.
"""
