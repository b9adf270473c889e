"""``python -m infra.cli``: the same as the ``ocr-results`` console script."""

import sys

from infra.cli.app import main

sys.exit(main())
