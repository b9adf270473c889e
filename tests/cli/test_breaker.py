"""``ocr-results breaker status|open|close`` against the local stack: the round trip, in JSON and
in text, and what an operator's open breaker does to the fleet (checks pause and call Aspose no
more until it is closed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.samples import id_card
from infra.stack.waiting import wait_until
from ocr_fetch.fleet import BREAKER_RUN
from tests.cli.conftest import CliStack

pytestmark = pytest.mark.slow

#: The ``--json`` keys of ``breaker status`` (``open`` and ``close`` add ``changed``).
KEYS = {
    "breaker",
    "openedBy",
    "openedAt",
    "nextProbeAt",
    "nonAnswersInARow",
    "opensAfter",
    "rateFactor",
    "callsPerSecond",
}


@pytest.fixture
def closed_after(cli: CliStack) -> Iterator[None]:
    """The stack is shared by every CLI test: the breaker is closed again whatever happens."""
    yield
    cli.stack.session.close_breaker()


def test_open_status_close_round_trip(cli: CliStack, closed_after: None) -> None:
    before = cli.run("breaker", "status", "--json")
    opened = cli.run("breaker", "open", "--json")
    again = cli.run("breaker", "open", "--json")
    status = cli.run("breaker", "status", "--json")
    text = cli.run("breaker", "status")
    closed = cli.run("breaker", "close", "--json")
    closed_again = cli.run("breaker", "close")
    after = cli.run("--json", "breaker", "status")

    assert before.code == 0, before.err
    assert set(before.json()) == KEYS
    assert before.json()["breaker"] == "closed"
    assert before.json()["opensAfter"] == BREAKER_RUN
    # The local stack's parameters are known (the state file records them): no budget is set
    assert before.json()["callsPerSecond"] == 0
    assert opened.code == 0, opened.err
    document: dict[str, Any] = opened.json()
    assert set(document) == KEYS | {"changed"}
    assert document["changed"] is True
    assert (document["breaker"], document["openedBy"]) == ("open", "operator")
    assert document["openedAt"].endswith("Z")
    assert document["nextProbeAt"] is None  # no probe closes an operator's breaker
    assert again.json()["changed"] is False
    assert status.json() == {k: v for k, v in document.items() if k != "changed"}
    assert "Breaker: open since" in text.out
    assert "by an operator (no probe closes it)" in text.out
    assert "non-answers" in text.out
    assert closed.code == 0, closed.err
    assert closed.json()["changed"] is True
    assert closed.json()["breaker"] == "closed"
    assert closed.json()["openedBy"] is None
    assert closed_again.code == 0
    assert "Breaker: closed" in closed_again.out
    assert "it was so already" in closed_again.out
    assert after.json()["breaker"] == "closed"


def test_while_an_operator_holds_it_open_no_check_calls_aspose(
    cli: CliStack, closed_after: None
) -> None:
    # Given the breaker opened by hand, and a task announced
    assert cli.run("breaker", "open").code == 0
    task_id = cli.stack.submit(id_card())
    cli.stack.session.announce(task_id, ["surname"])

    # When its first check runs, it pauses rather than poll
    def paused() -> bool:
        described = cli.stack.session.describe_execution(task_id)
        if described is None:
            return False
        steps = cli.stack.session.execution(str(described["executionArn"])).steps
        return any((step.poll or {}).get("status") == "Paused" for step in steps)

    wait_until(paused, timeout=30, what="a Paused check")
    assert cli.stack.polls_received(task_id) == []

    # Then, closed, the task goes on to complete
    assert cli.run("breaker", "close").code == 0
    assert cli.stack.outcome(task_id, timeout=90).status == "Completed"
    assert cli.stack.polls_received(task_id)


def test_a_stack_without_a_fleet_table_is_not_found(cli: CliStack, tmp_path: Path) -> None:
    state = json.loads(cli.state_file.read_text())
    del state["outputs"]["FleetTableName"]
    older = tmp_path / "stack.json"
    older.write_text(json.dumps(state))

    ran = cli.run("--state-file", str(older), "breaker", "status")

    assert ran.code == 1
    assert "no FleetTableName output" in ran.error_line
