"""The operator's tools, run against a deployed stack (or the local cloud, which looks the same):
``cli`` (``ocr-results``), ``console`` (a read-only page of executions), and what both show the
same way: ``listing`` (recent executions) and ``drawing`` (the state machine with a path). Built
on :mod:`infra.stack` only; nothing here imports :mod:`infra.local`."""
