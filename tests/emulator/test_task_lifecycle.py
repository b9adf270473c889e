"""Statuses over time, GetTaskStatus, cancel, retention and unknown ids."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from infra.local.emulator import EmulatorAdmin
from tests.emulator.conftest import Client, card_regions, decode_text, wait_for


def _status(client: Client, task_id: str) -> str:
    status: str = client.status(task_id).json()["taskStatus"]
    return status


def test_task_goes_pending_processing_completed(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    # Given a queue delay and a per-region time long enough to observe
    admin.set_timing(queue_delay_s=0.3, per_region_s=0.15)
    task_id = client.submit(card_b64, regions=card_regions())

    # Then the task is first Pending, then Processing, then Completed
    first = client.fetch(task_id).json()
    assert first["taskStatus"] == "Pending"
    assert first["responseStatusCode"] == "NotReady"
    assert first["results"] is None
    processing = wait_for(
        lambda: (d := client.fetch(task_id).json())["taskStatus"] == "Processing" and d, 3
    )
    assert processing["results"] is None
    done = client.wait_done(task_id)
    assert done["taskStatus"] == "Completed"
    assert len(done["results"]) == 3


def test_get_task_status_answers_without_results(client: Client, card_b64: str) -> None:
    task_id = client.submit(card_b64, regions=card_regions()[:1])
    client.wait_done(task_id)
    response = client.status(task_id)
    assert response.status_code == 200
    document = response.json()
    assert document["id"] == task_id
    assert document["taskStatus"] == "Completed"
    assert document["responseStatusCode"] == "Ok"
    assert document["results"] is None
    assert document["error"] is None


def test_results_follow_region_order_not_list_order(client: Client, card_b64: str) -> None:
    regions = card_regions()
    for region, order in zip(regions, [2, 0, 1], strict=True):
        region["order"] = order
    task_id = client.submit(card_b64, regions=regions)
    texts = [decode_text(r) for r in client.wait_done(task_id)["results"]]
    assert texts[0].startswith("Passport")
    assert texts[1].startswith("Valid")
    assert texts[2].startswith("SMITH")


def test_unknown_id_is_not_exist(client: Client) -> None:
    for task_id in (str(uuid.uuid4()), "not-even-a-guid"):
        for response in (client.fetch(task_id), client.status(task_id)):
            assert response.status_code == 200
            document = response.json()
            assert document["taskStatus"] == "NotExist"
            assert document["responseStatusCode"] == "TaskNotFound"
            assert document["id"] == task_id


def test_missing_id_is_a_problem(client: Client) -> None:
    response = client.session.get(
        f"{client.base}/RecognizeRegions", headers=client.headers(), timeout=10
    )
    assert response.status_code == 400
    assert "id" in response.json()["detail"]


def test_cancel_removes_the_task(client: Client, admin: EmulatorAdmin, card_b64: str) -> None:
    admin.set_timing(queue_delay_s=5)
    task_id = client.submit(card_b64, regions=card_regions()[:1])
    assert _status(client, task_id) == "Pending"
    response = client.cancel(task_id)
    assert response.status_code == 200
    assert response.content == b""
    assert _status(client, task_id) == "NotExist"


def test_results_expire_after_retention(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    admin.set_timing(retention_s=1.0)
    task_id = client.submit(card_b64, regions=card_regions()[:1])
    assert client.wait_done(task_id)["taskStatus"] == "Completed"
    wait_for(lambda: _status(client, task_id) == "NotExist", deadline_s=5)
    assert client.fetch(task_id).json()["responseStatusCode"] == "TaskNotFound"


def test_timing_is_captured_at_submit(client: Client, admin: EmulatorAdmin, card_b64: str) -> None:
    admin.set_timing(queue_delay_s=30)
    slow = client.submit(card_b64, regions=card_regions()[:1])
    admin.set_timing(queue_delay_s=0)
    fast = client.submit(card_b64, regions=card_regions()[:1])
    assert client.wait_done(fast)["taskStatus"] == "Completed"
    assert _status(client, slow) == "Pending"


def test_admin_lists_tasks_and_timing(client: Client, admin: EmulatorAdmin, card_b64: str) -> None:
    timing = admin.set_timing(per_region_s=0.01)
    assert timing["per_region_s"] == 0.01
    assert admin.timing() == timing
    task_id = client.submit(card_b64, regions=card_regions(), result_type="Hocr")
    listed = {t["id"]: t for t in admin.tasks()}
    assert listed[task_id]["regions"] == 3
    assert listed[task_id]["resultType"] == "Hocr"
    assert admin.task(task_id)["id"] == task_id


def test_reset_forgets_tasks_and_restores_timing(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    admin.set_timing(queue_delay_s=9)
    task_id = client.submit(card_b64, regions=card_regions()[:1])
    admin.reset()
    assert admin.timing()["queue_delay_s"] == 0.05
    assert admin.tasks() == []
    assert admin.requests() == []
    assert _status(client, task_id) == "NotExist"


def test_concurrent_clients_each_get_their_own_results(client: Client, card_b64: str) -> None:
    def one_client(index: int) -> str:
        with requests.Session() as session:
            other = Client(client.server, session)
            other.login()
            region = card_regions()[index % 3]
            region["order"] = 0
            task_id = other.submit(card_b64, regions=[region])
            return decode_text(other.wait_done(task_id)["results"][0])

    with ThreadPoolExecutor(max_workers=6) as pool:
        texts = list(pool.map(one_client, range(6)))
    assert [t.split()[0] for t in texts] == ["SMITH", "Passport", "Valid"] * 2
