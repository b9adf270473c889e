"""``python -m infra.build``: ``make build`` (see :mod:`infra.build`)."""

import sys

from infra.build import main

sys.exit(main())
