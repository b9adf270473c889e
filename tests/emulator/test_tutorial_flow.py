"""The tutorial's client, unchanged but for the base URL, runs against the emulator."""

from __future__ import annotations

import base64
import difflib
import time
from typing import Any

import requests

from tests.emulator.conftest import CARD_TEXT, Client, card_regions, settings


def fetch_recognition_results(
    base_url: str, task_id: str, access_token: str, max_attempts: int = 10, delay: float = 0.05
) -> dict[str, Any] | None:
    """The tutorial's poll loop (exponential backoff), with its base URL and first delay made
    configurable."""
    url = f"{base_url}/v5.0/ocr/RecognizeRegions?id={task_id}"
    headers = {
        "Accept": "text/plain",
        "Content-Type": "application/json",
        "Authorization": f"Bearer {access_token}",
    }
    attempt = 1
    while attempt <= max_attempts:
        response = requests.get(url, headers=headers, timeout=10)
        if response.status_code != 200:
            return None
        result: dict[str, Any] = response.json()
        status = result.get("taskStatus")
        if status in ("Completed", "Error"):
            return result
        if status == "NotExist":
            return None
        time.sleep(delay)
        delay *= 2
        attempt += 1
    return None


def test_submit_poll_with_backoff_and_decode(client: Client, card_b64: str) -> None:
    # Given a token and a card image submitted with one region per line
    response = client.post_submit({"image": card_b64, "settings": settings("Text", card_regions())})
    assert response.status_code == 200
    task_id = response.text

    # When the tutorial's client polls with backoff
    result = fetch_recognition_results(client.server.base_url, task_id, client.token)

    # Then it gets a Completed response with one Base64 text per region, in order
    assert result is not None
    assert result["id"] == task_id
    assert result["taskStatus"] == "Completed"
    assert result["responseStatusCode"] == "Ok"
    assert result["error"] is None
    assert [r["type"] for r in result["results"]] == ["Text"] * 3
    for region_result, expected in zip(result["results"], CARD_TEXT, strict=True):
        decoded_text = base64.b64decode(region_result.get("data")).decode("utf-8")
        assert difflib.SequenceMatcher(None, decoded_text, expected).ratio() >= 0.8


def test_polls_are_counted_per_task(client: Client, card_b64: str) -> None:
    task_id = client.submit(card_b64, regions=card_regions()[:1])
    client.wait_done(task_id)
    log = client.server.admin.requests_for(task_id)
    assert log[0]["method"] == "POST"
    polls = [e for e in log if e["method"] == "GET"]
    assert len(polls) >= 1
    assert all(e["status"] == 200 for e in log)
    assert all(e["path"] == "/v5.0/ocr/RecognizeRegions" for e in log)
