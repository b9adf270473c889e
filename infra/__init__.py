"""Everything around the product (``functions/ocr_fetch``), in four parts named for where they run:

- ``infra.stack``: the one client of a stack, deployed on AWS or local (runs against AWS);
- ``infra.ops``: the operator's tools on that client, ``ocr-results`` and the console (AWS);
- ``infra.local``: what only runs on this machine, the local cloud and the Aspose emulator;
- ``infra.build``: ``make build``, the security scan and the tools' pins.

Each imports only the parts below it (``tests/test_architecture.py``); the README's
"Contributing" section draws them.
"""
