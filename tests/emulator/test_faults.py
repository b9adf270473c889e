"""Every injectable fault, arranged through the admin API and observed over HTTP."""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PIL import Image

from infra.local.emulator import (
    REQUEST_FAULTS,
    TASK_FAULTS,
    Box,
    EmulatorAdmin,
    EmulatorAdminError,
    EmulatorConfig,
    EmulatorServer,
    Line,
    Timing,
    Word,
)
from tests.emulator.conftest import Client, card_regions, wait_for

REGIONS = "/v5.0/ocr/RecognizeRegions"


def _status(client: Client, task_id: str) -> str:
    status: str = client.fetch(task_id).json()["taskStatus"]
    return status


# ----- request faults --------------------------------------------------------------------------
def test_429_carries_retry_after_then_the_service_answers(
    client: Client, admin: EmulatorAdmin
) -> None:
    admin.inject("http_429", next_requests=2, retry_after=7)
    for _ in range(2):
        response = client.status("x")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "7"
        assert response.json()["status"] == 429
    assert client.status("x").status_code == 200
    assert [e["faults"] for e in admin.requests(task_id="x")] == [["http_429"], ["http_429"], []]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors(client: Client, admin: EmulatorAdmin, status: int) -> None:
    admin.inject(f"http_{status}")
    response = client.fetch("x")
    assert response.status_code == status
    assert response.json()["status"] == status
    assert client.fetch("x").status_code == 200


def test_filters_pick_the_method_and_path(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    # Given a 503 armed only for submissions
    admin.inject("http_503", next_requests=1, method="POST", path=REGIONS)
    # Then polls and tokens pass, and the next submission fails once
    assert client.fetch("x").status_code == 200
    assert client.get_token().status_code == 200
    assert client.post_submit({"image": card_b64}).status_code == 503
    assert client.submit(card_b64, regions=card_regions()[:1])


def test_token_endpoint_can_fail(client: Client, admin: EmulatorAdmin) -> None:
    admin.inject("http_502", path="/connect/token")
    assert client.get_token().status_code == 502
    assert client.get_token().status_code == 200


def test_delay_slows_one_answer_without_blocking_others(
    client: Client, admin: EmulatorAdmin
) -> None:
    admin.inject("delay", path="/v5.0/ocr/Utilities", seconds=0.6)
    results: dict[str, float] = {}

    def slow_call() -> None:
        start = time.monotonic()
        with requests.Session() as session:
            session.get(
                f"{client.base}/Utilities/GetTaskStatus?id=x", headers=client.headers(), timeout=10
            )
        results["slow"] = time.monotonic() - start

    thread = threading.Thread(target=slow_call)
    thread.start()
    wait_for(lambda: admin.faults() == [], deadline_s=5)  # the slow call has taken the fault
    start = time.monotonic()
    assert client.fetch("x").status_code == 200
    results["fast"] = time.monotonic() - start
    thread.join(10)
    assert results["slow"] >= 0.6
    assert results["fast"] < 0.3


def test_dropped_connection(client: Client, admin: EmulatorAdmin) -> None:
    admin.inject("drop")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{client.base}/RecognizeRegions?id=x", headers=client.headers(), timeout=10)
    assert admin.requests(task_id="x")[-1]["status"] is None
    assert client.fetch("x").status_code == 200


def test_answer_that_is_not_json(client: Client, admin: EmulatorAdmin) -> None:
    admin.inject("not_json")
    response = client.fetch("x")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_request_fault_bound_to_a_task(client: Client, admin: EmulatorAdmin, card_b64: str) -> None:
    task_id = client.submit(card_b64, regions=card_regions()[:1])
    other = client.submit(card_b64, regions=card_regions()[:1])
    admin.inject("http_503", task_id=task_id, times=2)
    assert client.fetch(other).status_code == 200
    assert client.fetch(task_id).status_code == 503
    assert client.status(task_id).status_code == 503
    assert client.wait_done(task_id)["taskStatus"] == "Completed"


def test_request_fault_for_the_next_submitted_task(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    admin.inject("http_429", next_tasks=1, times=1, retry_after=1)
    first = client.submit(card_b64, regions=card_regions()[:1])
    second = client.submit(card_b64, regions=card_regions()[:1])
    assert client.fetch(second).status_code == 200
    assert client.fetch(first).status_code == 429
    assert client.fetch(first).status_code == 200


def test_an_outage_answers_every_request_for_its_time_then_ends(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    # Given a 503 armed for 1.5 s with no target: an outage, not a count of requests
    admin.clear_requests()  # the client's login
    armed = admin.inject("http_503", for_s=1.5)
    assert armed["remaining"] is None
    assert armed["until"] == pytest.approx(time.time() + 1.5, abs=0.5)
    # Then every request meanwhile is a 503: polls, statuses, tokens and submissions alike
    answers = [
        answer
        for _ in range(3)
        for answer in (
            client.fetch("x").status_code,
            client.status("x").status_code,
            client.get_token().status_code,
            client.post_submit({"image": card_b64}).status_code,
        )
    ]
    assert set(answers) == {503}
    assert [f["hits"] for f in admin.faults()] == [len(answers)]
    # And once its time is over, it is disarmed and the service answers again
    wait_for(lambda: time.time() >= armed["until"], deadline_s=5)
    assert client.fetch("x").status_code == 200
    assert admin.faults() == []
    logged = admin.requests()
    assert [e["faults"] for e in logged] == [["http_503"]] * len(answers) + [[]]
    assert all(e["time"] < armed["until"] for e in logged[:-1])


def test_a_fault_armed_for_a_time_keeps_its_count_and_target(
    client: Client, admin: EmulatorAdmin
) -> None:
    # Given a 429 for the next two requests, within the next 30 s
    admin.inject("http_429", next_requests=2, for_s=30, retry_after=2)
    # Then it hits its two requests and is used up long before its time is over
    assert client.fetch("x").status_code == 429
    assert client.fetch("y").status_code == 429
    assert client.fetch("x").status_code == 200
    assert admin.faults() == []


# ----- task faults ----------------------------------------------------------------------------
def test_task_ends_in_error_with_messages(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    task_id = client.submit(card_b64, regions=card_regions()[:1])
    admin.inject("error", task_id=task_id, messages=["Image is too dark", "Try again"])
    document = client.wait_done(task_id)
    assert document["taskStatus"] == "Error"
    assert document["responseStatusCode"] == "Error"
    assert document["results"] is None
    assert document["error"] == {"messages": ["Image is too dark", "Try again"], "warnings": []}


def test_error_for_the_next_two_tasks(client: Client, admin: EmulatorAdmin, card_b64: str) -> None:
    admin.inject("error", next_tasks=2)
    ids = [client.submit(card_b64, regions=card_regions()[:1]) for _ in range(3)]
    statuses = [client.wait_done(task_id)["taskStatus"] for task_id in ids]
    assert statuses == ["Error", "Error", "Completed"]


def test_stuck_task_never_leaves_processing(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    admin.inject("stuck", next_tasks=1)
    stuck = client.submit(card_b64, regions=card_regions()[:1])
    normal = client.submit(card_b64, regions=card_regions()[:1])
    wait_for(lambda: _status(client, stuck) == "Processing", deadline_s=5)
    assert client.wait_done(normal)["taskStatus"] == "Completed"
    assert _status(client, stuck) == "Processing"
    assert admin.task(stuck)["stuck"] is True


def test_task_expires_early(client: Client, admin: EmulatorAdmin, card_b64: str) -> None:
    task_id = client.submit(card_b64, regions=card_regions()[:1])
    assert client.wait_done(task_id)["taskStatus"] == "Completed"
    admin.inject("expire", task_id=task_id)
    document = client.fetch(task_id).json()
    assert document["taskStatus"] == "NotExist"
    assert document["responseStatusCode"] == "TaskNotFound"


def test_next_task_expires_after_a_while(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    admin.inject("expire", next_tasks=1, after_s=0.5)
    task_id = client.submit(card_b64, regions=card_regions()[:1])
    assert _status(client, task_id) in ("Pending", "Processing", "Completed")
    wait_for(lambda: _status(client, task_id) == "NotExist", deadline_s=5)


def test_corrupt_base64(client: Client, admin: EmulatorAdmin, card_b64: str) -> None:
    admin.inject("corrupt_base64", next_tasks=1)
    task_id = client.submit(card_b64, regions=card_regions()[:2])
    document = client.wait_done(task_id)
    assert document["taskStatus"] == "Completed"
    for entry in document["results"]:
        with pytest.raises(binascii.Error):
            base64.b64decode(entry["data"], validate=True)
        with pytest.raises(binascii.Error):
            base64.b64decode(entry["data"])


def test_corrupt_base64_of_one_entry_only(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    admin.inject("corrupt_base64", next_tasks=1, indexes=[1])
    task_id = client.submit(card_b64, regions=card_regions()[:3])
    document = client.wait_done(task_id)
    good = [
        base64.b64decode(e["data"], validate=True)
        for i, e in enumerate(document["results"])
        if i != 1
    ]
    assert len(good) == 2
    with pytest.raises(binascii.Error):
        base64.b64decode(document["results"][1]["data"], validate=True)


def test_unknown_task_status_for_a_few_polls(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    task_id = client.submit(card_b64, regions=card_regions()[:1])
    admin.inject("unknown_status", task_id=task_id, times=2, value="Suspended")
    assert _status(client, task_id) == "Suspended"
    assert _status(client, task_id) == "Suspended"
    assert client.wait_done(task_id)["taskStatus"] == "Completed"


@pytest.mark.parametrize(("count", "expected"), [(None, 2), (1, 1), (5, 5), (0, 0)])
def test_result_count_differs_from_regions(
    client: Client, admin: EmulatorAdmin, card_b64: str, count: int | None, expected: int
) -> None:
    task_id = client.submit(card_b64, regions=card_regions())
    admin.inject("result_count", task_id=task_id, count=count)
    document = client.wait_done(task_id)
    assert document["taskStatus"] == "Completed"
    assert len(document["results"]) == expected


def test_completed_with_an_anomalous_response_code(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    admin.inject("response_code", next_tasks=1, value="PartiallyNotFound")
    task_id = client.submit(card_b64, regions=card_regions()[:1])
    document = client.wait_done(task_id)
    assert (document["taskStatus"], document["responseStatusCode"]) == (
        "Completed",
        "PartiallyNotFound",
    )


# ----- the admin API itself -------------------------------------------------------------------
def test_fault_names_are_published() -> None:
    assert {
        "http_429",
        "http_500",
        "http_502",
        "http_503",
        "http_status",
        "delay",
        "drop",
        "not_json",
        "truncate",
        "huge",
        "gzip_bomb",
    } == set(REQUEST_FAULTS)
    assert {
        "error",
        "stuck",
        "expire",
        "corrupt_base64",
        "unknown_status",
        "result_count",
        "response_code",
    } == set(TASK_FAULTS)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fault": "meteor"},
        {"fault": "stuck", "next_requests": 1},
        {"fault": "http_500", "next_requests": 1, "next_tasks": 1},
        {"fault": "http_500", "next_requests": 0},
        {"fault": "delay", "seconds": -1},
        {"fault": "error", "messages": "not a list"},
        {"fault": "http_500", "colour": "red"},
        {"fault": "error", "task_id": "no-such-task"},
        {"fault": "http_500", "method": 5},
        {"fault": "http_503", "for_s": 0},
        {"fault": "http_503", "for_s": -5},
        {"fault": "http_503", "for_s": True},
        {"fault": "http_503", "for_s": 86_401},
        {"fault": "stuck", "next_tasks": 1, "for_s": 10},
    ],
)
def test_bad_injections_are_refused(admin: EmulatorAdmin, kwargs: dict[str, Any]) -> None:
    with pytest.raises(EmulatorAdminError):
        admin.inject(**kwargs)
    assert admin.faults() == []


def test_faults_are_listed_and_cleared(admin: EmulatorAdmin) -> None:
    armed = admin.inject("http_503", next_requests=3, method="get")
    assert armed["method"] == "GET"
    assert [f["id"] for f in admin.faults()] == [armed["id"]]
    admin.clear_faults()
    assert admin.faults() == []


def test_bad_timing_is_refused(admin: EmulatorAdmin) -> None:
    with pytest.raises(EmulatorAdminError):
        admin.set_timing(queue_delay_s=-1)
    with pytest.raises(EmulatorAdminError):
        admin.set_timing(warp_factor=9)


# ----- the recogniser can be swapped; its failures become Error tasks ---------------------------
class _SlowFake:
    """Answers one fixed line after `delay_s`, or raises when told to."""

    def __init__(self, delay_s: float = 0.0, fail: bool = False) -> None:
        self.delay_s = delay_s
        self.fail = fail
        self.calls = 0

    def recognize(self, image: Image.Image) -> list[Line]:
        self.calls += 1
        time.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("engine crashed")
        box = Box(0, 0, image.width, image.height)
        return [Line("FAKE TEXT", box, 0.5, (Word("FAKE", box, 0.5), Word("TEXT", box, 0.5)))]


@pytest.fixture
def fake_server() -> Iterator[tuple[EmulatorServer, _SlowFake]]:
    fake = _SlowFake()
    timing = Timing(queue_delay_s=0, per_region_s=0)
    with EmulatorServer(EmulatorConfig(timing=timing), recognizer=fake) as server:
        yield server, fake


def test_recogniser_failure_is_an_error_task(
    fake_server: tuple[EmulatorServer, _SlowFake], card_b64: str
) -> None:
    server, fake = fake_server
    fake.fail = True
    with requests.Session() as session:
        client = Client(server, session)
        client.login()
        document = client.wait_done(client.submit(card_b64, regions=card_regions()[:1]))
    assert document["taskStatus"] == "Error"
    assert "engine crashed" in document["error"]["messages"][0]


def test_polls_never_wait_for_ocr(
    fake_server: tuple[EmulatorServer, _SlowFake], card_b64: str
) -> None:
    server, fake = fake_server
    fake.delay_s = 1.0
    with requests.Session() as session:
        client = Client(server, session)
        client.login()
        task_id = client.submit(card_b64, regions=card_regions()[:1])
        wait_for(lambda: fake.calls == 1, deadline_s=5)
        start = time.monotonic()
        assert _status(client, task_id) in ("Pending", "Processing")
        assert time.monotonic() - start < 0.3
        document = client.wait_done(task_id)
    assert base64.b64decode(document["results"][0]["data"]) == b"FAKE TEXT"


# ----- ground truth, for a soak that checks stored results against it -------------------------
def test_the_recognised_results_are_told_as_before_any_response_fault(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    task_id = client.submit(card_b64, regions=card_regions()[:2])
    admin.inject("corrupt_base64", task_id=task_id)
    served = client.wait_done(task_id)["results"]
    truth = admin.results(task_id)
    assert truth is not None
    assert [e["type"] for e in truth] == ["Text", "Text"]
    texts = [base64.b64decode(e["data"], validate=True).decode() for e in truth]
    assert texts == ["SMITH JOHN 1985", "Passport No 12345678"]
    assert [e["data"] for e in served] != [e["data"] for e in truth]


def test_a_task_that_never_recognised_has_no_results(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    admin.inject("error", next_tasks=1)
    task_id = client.submit(card_b64, regions=card_regions()[:1])
    assert client.wait_done(task_id)["taskStatus"] == "Error"
    assert admin.results(task_id) is None
    with pytest.raises(EmulatorAdminError, match="404"):
        admin.results("00000000-0000-0000-0000-000000000000")


def test_a_cancelled_task_still_tells_what_it_recognised(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    # Why: purging it at the next submit would lose the ground truth of a task whose results a
    # client stored before cancelling it.
    task_id = client.submit(card_b64, regions=card_regions()[:1])
    client.wait_done(task_id)
    assert client.cancel(task_id).status_code == 200
    client.submit(card_b64, regions=card_regions()[:1])  # a submit purges what has expired
    assert _status(client, task_id) == "NotExist"
    truth = admin.results(task_id)
    assert truth is not None
    assert base64.b64decode(truth[0]["data"]).decode() == "SMITH JOHN 1985"


def test_the_request_log_says_what_each_answer_told_of_the_task(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    task_id = client.submit(card_b64, regions=card_regions()[:1])
    admin.inject("unknown_status", task_id=task_id, times=1, value="Suspended")
    assert _status(client, task_id) == "Suspended"
    client.wait_done(task_id)
    admin.inject("truncate", task_id=task_id, times=1)
    with pytest.raises(requests.RequestException):
        client.fetch(task_id)
    admin.inject("http_503", task_id=task_id, times=1)
    assert client.fetch(task_id).status_code == 503
    answers = [e["answer"] for e in admin.requests_for(task_id)]
    assert answers[0] is None  # the submit
    assert answers[1] == "Suspended"
    assert answers[-3] == "Completed"
    assert answers[-2:] == [None, None]  # cut short: never told whole; a 503 tells nothing


def test_a_remembering_emulator_reads_each_distinct_region_once(card_b64: str) -> None:
    # Why: a soak submits the same sample regions hundreds of times; the shared machine's CPU
    # should read each once, while clients see the same lines and the same timeline.
    fake = _SlowFake()
    config = EmulatorConfig(timing=Timing(queue_delay_s=0, per_region_s=0), memo_recognition=True)
    assert EmulatorConfig.from_json(config.to_json()) == config
    with EmulatorServer(config, recognizer=fake) as server, requests.Session() as session:
        client = Client(server, session)
        client.login()
        regions = card_regions()
        first = client.wait_done(client.submit(card_b64, regions=regions[:2]))
        again = client.wait_done(client.submit(card_b64, regions=regions[1:3]))
        assert server.admin.health()["recognizer"] == "_SlowFake"
    assert fake.calls == 3  # regions 0, 1 and 2: region 1 the second time from memory
    assert again["results"][0] == first["results"][1]
