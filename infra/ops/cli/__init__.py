"""``ocr-results``: the command line of a deployed stack, on AWS (``--stack NAME``) or local
(``--local``).

It drives and reads the stack only through :class:`~infra.stack.session.StackSession` and
the product's public pieces (stack outputs, the bus, the table, the S3 layout, the execution
history), so nothing it needs ever ships in a Lambda function. Layers, each importing only those
before it: ``errors`` → ``inputs`` → ``views`` → ``target`` → ``actions`` → ``output`` → ``app``
(typer and rich only in the last two; ``tests/cli/test_layers.py`` checks it). ``make demo``
calls ``actions``, ``views`` and ``output`` as the commands do; the state machine drawing is
``infra.ops.drawing``, shared with the local console.
"""
