"""The console as a server: found by task id, read-only, on this machine only, and served by
``make local`` with its address in ``.local/stack.json``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from infra.ops.console import ConsoleServer
from infra.ops.console.pages import execution_href
from infra.stack.serving import free_port
from infra.stack.session import StackSession
from infra.stack.waiting import wait_until
from tests.console.conftest import Tasks, request
from tests.support.local_stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]


def listed(console: ConsoleServer, query: str) -> list[str]:
    answer = request(console, "/" + query)
    assert answer.status == 200, answer.body
    return [row["data-execution"] for row in answer.dom.find("tr") if "data-execution" in row]


def test_a_task_is_found_by_its_id_or_part_of_it_in_any_case(
    console: ConsoleServer, tasks: Tasks
) -> None:
    form = tasks.seeded.form
    assert listed(console, f"?q={form.upper()}") == [form]
    assert listed(console, f"?q=+{form[:8]}+") == [form]
    assert set(listed(console, "?status=FAILED")) == {tasks.seeded.unknown, tasks.hostile}
    assert listed(console, "?q=0000dead&status=SUCCEEDED") == []
    assert 'id="nothing"' in request(console, "/?q=0000dead").body
    # the search box keeps what was searched, and an execution's page fills it with its task
    assert f'value="{form[:8]}"' in request(console, f"/?q={form[:8]}").body
    assert f'value="{form}"' in request(console, execution_href(form)).body


def test_a_bad_query_or_an_unknown_page_says_what_is_wrong(
    console: ConsoleServer, tasks: Tasks
) -> None:
    cases = {
        "/?status=BROKEN": (400, "status must be one of RUNNING, SUCCEEDED"),
        "/?limit=0": (400, "limit must be a whole number from 1 to 500"),
        "/?q=a&q=b": (400, "q is given 2 times"),
        "/nowhere": (404, "There is no page at /nowhere."),
        "/executions/00000000-0000-4000-8000-000000000000": (404, "has no execution named"),
        "/executions/%3Cb%3Ex": (404, "named “&lt;b&gt;x”"),
    }
    for path, (status, message) in cases.items():
        answer = request(console, path)
        assert (answer.status, path) == (status, path)
        assert message in answer.body, (path, answer.body)
    assert len(listed(console, "?limit=1")) == 1


def test_the_console_is_read_only_and_answers_this_machine_only(
    console: ConsoleServer, tasks: Tasks
) -> None:
    assert console.address[0] == "127.0.0.1"
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        refused = request(console, "/", method=method)
        assert refused.status == 405
        assert refused.headers["Allow"] == "GET, HEAD"
    # A page elsewhere reaching it through DNS rebinding names another host: refused
    assert request(console, "/", host="attacker.example:80").status == 403
    assert request(console, "/", host=f"localhost:{console.address[1]}").status == 200
    head = request(console, "/", method="HEAD")
    assert head.status == 200
    assert head.body == ""
    assert int(head.headers["Content-Length"]) > 0
    policy = head.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy
    assert head.headers["X-Frame-Options"] == "DENY"


def test_a_stack_that_does_not_answer_is_said_so_in_one_line(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a console whose stack has gone (nothing listens where its clients point)
    config = Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=2)
    endpoint = f"http://127.0.0.1:{free_port()}"

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )

    with ConsoleServer(StackSession(stack.session.outputs, client)) as gone:
        answer = request(gone, "/")
    # Then the page says so, and so does the console's one line on stderr
    assert answer.status == 502
    assert "The stack did not answer: EndpointConnectionError" in answer.body
    assert capsys.readouterr().err.startswith("console: /: EndpointConnectionError")


def test_make_local_serves_the_console_and_writes_its_address(tmp_path: Path) -> None:
    # Given `make local` as a user runs it (without the emulator: none is needed to list)
    state_file = tmp_path / "stack.json"
    process = subprocess.Popen(  # noqa: S603 - this repository's own module
        [
            sys.executable,
            *("-m", "infra.local.cloud", "--no-emulator", "--port", "0"),
            *("--console-port", "0", "--state-file", str(state_file)),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_until(state_file.exists, timeout=90, what="make local to write its state")
        state: dict[str, Any] = json.loads(state_file.read_text())
        # Then the console is at the address written, on 127.0.0.1, and lists the executions
        url = str(state["consoleUrl"])
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - our own http URL
            assert answer.status == 200
            assert "No execution yet" in answer.read().decode("utf-8")
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    # and the banner printed it with the other addresses
    assert f"Console:          {url}" in output
    assert process.returncode == 0


def test_serving_a_second_console_without_make_local_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from infra.ops.console.__main__ import main

    assert main(["--state-file", str(tmp_path / "stack.json")]) == 1
    assert (
        capsys.readouterr().err
        == f"{tmp_path / 'stack.json'} not found: start `make local` first\n"
    )
