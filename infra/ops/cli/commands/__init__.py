"""The commands of ``ocr-results``, one module a group, each a ``typer.Typer`` the app adds:
``submit`` (announcing work: ``submit``, ``refetch``), ``backfill`` (announcing many tasks
again), ``tasks`` (reading them: ``status``, ``inspect``, ``results``, ``list``), ``dlq`` (the
dead-letter queue) and ``breaker`` (the fleet's circuit breaker)."""
