"""The one client of a stack, deployed on AWS or run by the local cloud.

Everything that drives or reads a stack goes through :class:`~infra.stack.session.StackSession`:
the operator tools (``infra.ops``), the demo, the stress run, the benchmarks and the tests. It
knows the stack only by its outputs and the product's public contract (the bus and its event
shapes, the state machine's executions and their history, the table, the S3 layout, the queues,
the secret), so the same client serves a deployed stack and a local one. Nothing here imports
``infra.ops`` or ``infra.local``.

Each concern is a module of its own, standing on ``client`` (the outputs and one boto3 client per
service): ``bus`` (announcing tasks), ``executions`` (finding and reading them; the path an
execution took is read by ``history``), ``results`` (the table item, the stored objects),
``outcomes`` (waiting for how tasks ended, an outcome subscription), ``dead_letters``, ``secrets``,
``fleet`` (the fleet's circuit breaker, read and set by hand); ``session`` puts them together and
finds a stack. Beside them, what every tool shares: ``aspose`` (reaching the Aspose the stack
uses), ``state_file`` (what ``make local`` writes so others find its stack), ``waiting`` (the
tree's one deadline loop), ``serving`` (the one lifecycle of a server on a thread or in a process),
``times`` and ``values``.
"""
