"""One local stack for all the console's tests (package-scoped): the tasks ``make console-check``
seeds, ended, a task whose text would be hostile markup, one still running, and the console."""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from infra.local.console_check import Dom, Seeded, seed
from infra.local.emulator import Timing
from infra.local.samples import id_card
from infra.ops.console import ConsoleServer
from infra.stack.waiting import wait_until
from tests.support.local_stack import LocalStack, local_stack

#: Text a user may put in an event, which a page must show as text and never as markup.
HOSTILE = '<script>alert("x")</script>'
HOSTILE_NAME = '"><img src=x onerror=alert(1)>'


@dataclass(frozen=True)
class Tasks:
    seeded: Seeded
    hostile: str  # unknown to Aspose, announced with markup in its correlation id and region
    running: str  # never leaves Processing while the tests run


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str

    @property
    def dom(self) -> Dom:
        return Dom.of(self.body)


@pytest.fixture(scope="package")
def stack() -> Iterator[LocalStack]:
    with local_stack(timing=Timing(queue_delay_s=1.5, per_region_s=0.05)) as running:
        yield running


@pytest.fixture(scope="package")
def tasks(stack: LocalStack) -> Tasks:
    assert stack.cloud.aspose is not None
    seeded = seed(stack.cloud, stack.session)
    hostile = str(uuid.uuid4())
    stack.session.announce(hostile, [HOSTILE_NAME], correlation_id=HOSTILE)
    running = stack.submit(id_card())
    stack.emulator.admin.inject("stuck", task_id=running)
    stack.session.announce(running, ["surname"])
    stack.session.wait_for_outcomes([*seeded.all, hostile], timeout=90)
    wait_until(
        lambda: (
            stack.session.describe_execution(running)
            and stack.session.execution(stack.session.execution_arn(running)).polls()
        ),
        timeout=30,
        what="the running task's first poll",
    )
    return Tasks(seeded, hostile, running)


@pytest.fixture(scope="package")
def console(stack: LocalStack, tasks: Tasks) -> Iterator[ConsoleServer]:
    with ConsoleServer(stack.session) as server:
        yield server


def request(
    console: ConsoleServer, path: str, *, method: str = "GET", host: str | None = None
) -> Answer:
    """One request to the console, as a browser sends it (``Host`` may be overridden)."""
    address, port = console.address
    connection = http.client.HTTPConnection(address, port, timeout=30)
    try:
        headers = {"Host": host} if host else {}
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read().decode("utf-8"))
    finally:
        connection.close()
