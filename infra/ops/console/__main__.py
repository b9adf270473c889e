"""``python -m infra.ops.console``: the console of the stack ``make local`` runs, on 127.0.0.1.

``make local`` already serves it (its banner and ``.local/stack.json`` give the address); this is
for a second one, say on another port, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from infra.ops.console.server import ConsoleServer
from infra.stack.session import StackSession
from infra.stack.state_file import DEFAULT_STATE_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.ops.console", description=__doc__)
    parser.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    parser.add_argument("--port", type=int, default=0, help="on 127.0.0.1; default any free one")
    args = parser.parse_args(argv)
    if not args.state_file.exists():
        print(f"{args.state_file} not found: start `make local` first", file=sys.stderr)
        return 1
    session = StackSession.from_state_file(args.state_file)
    with ConsoleServer(session, args.port, verbose=True) as console:
        print(f"Console: {console.url} (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
