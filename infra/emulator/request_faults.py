"""Request faults: how an armed fault changes (or replaces) the HTTP answer to one request."""

from __future__ import annotations

import time
from collections.abc import Callable

from infra.emulator.faults import Fault
from infra.emulator.replies import Call, Reply, problem

Answer = Callable[[], Reply]
"""The normal answer to the request (routes it: tokens are issued, tasks submitted)."""


def _delay(fault: Fault, call: Call, answer: Answer) -> Reply:
    time.sleep(float(fault.params["seconds"]))
    return answer()


def _drop(fault: Fault, call: Call, answer: Answer) -> Reply:
    return Reply(0, drop=True)


def _not_json(fault: Fault, call: Call, answer: Answer) -> Reply:
    return Reply(200, str(fault.params["body"]).encode(), "text/html; charset=utf-8")


def _server_status(fault: Fault, call: Call, answer: Answer) -> Reply:
    status = int(fault.kind.removeprefix("http_"))
    reply = problem(status, f"Injected fault: HTTP {status}.", call.path)
    if status == 429:
        reply.headers["Retry-After"] = str(fault.params["retry_after"])
    return reply


_ANSWERS: dict[str, Callable[[Fault, Call, Answer], Reply]] = {
    "delay": _delay,
    "drop": _drop,
    "not_json": _not_json,
    "http_429": _server_status,
    "http_500": _server_status,
    "http_502": _server_status,
    "http_503": _server_status,
}


def answer_with_fault(fault: Fault, call: Call, answer: Answer) -> Reply:
    """The answer to `call` under the request fault `fault`."""
    return _ANSWERS[fault.kind](fault, call, answer)
