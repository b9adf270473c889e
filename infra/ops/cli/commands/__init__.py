"""The commands of ``ocr-results``, one module a group, each a ``typer.Typer`` the app adds:
``submit`` (announcing work: ``submit``, ``refetch``), ``tasks`` (reading it: ``status``,
``inspect``, ``results``, ``list``) and ``dlq`` (the dead-letter queue)."""
