"""``make bench``: every section, in order."""

from __future__ import annotations

from tests.bench.capacity import capacity_plan
from tests.bench.coldstart import coldstart
from tests.bench.decoding import decoding_throughput
from tests.bench.local_run import local_stack_run
from tests.bench.memory import memory
from tests.bench.polling import policy_table
from tests.bench.state_size import state_sizes


def main() -> None:
    policy_table()
    decoding_throughput()
    coldstart()
    memory()
    local_stack_run()
    state_sizes()
    capacity_plan()


if __name__ == "__main__":
    main()
