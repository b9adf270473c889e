"""What exists only to run the product on this machine, with no AWS and no Aspose account:
``cloud`` (a local AWS on moto running template.yaml), ``emulator`` (an Aspose.OCR Cloud v5.0
stand-in with real OCR), ``faults`` (the one fault registry both inject from), ``demo``,
``stress``, ``samples`` and ``console_check``. It drives stacks through :mod:`infra.stack` like any
client, and may use :mod:`infra.ops` and :mod:`infra.build`; nothing outside it imports it."""
