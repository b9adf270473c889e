"""``python -m infra.ops.cli``: the same as the ``ocr-results`` console script."""

import sys

from infra.ops.cli.app import main

sys.exit(main())
