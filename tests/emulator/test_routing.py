"""Which endpoint answers which method and path, for the imitated API and the admin API."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from infra.local.emulator import EmulatorAdmin
from infra.local.emulator.admin import TARGET_OPTIONS
from infra.local.emulator.faults import Target
from tests.emulator.conftest import Client

OCR = "/v5.0/ocr"


def _call(client: Client, method: str, path: str, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("headers", client.headers())
    return client.session.request(method, client.server.base_url + path, timeout=10, **kwargs)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/connect/token", 405),
        ("GET", "/v5.0/ocr/Nowhere?id=x", 404),
        ("GET", "/", 404),
        ("PUT", f"{OCR}/RecognizeRegions?id=x", 405),
        ("PATCH", f"{OCR}/RecognizeRegions?id=x", 405),
        ("POST", f"{OCR}/Utilities/GetTaskStatus?id=x", 405),
        ("DELETE", f"{OCR}/Utilities/GetTaskStatus?id=x", 405),
        ("GET", f"{OCR}/RecognizeRegions", 400),
        ("GET", f"{OCR}/Utilities/GetTaskStatus", 400),
        ("DELETE", f"{OCR}/RecognizeRegions", 400),
        ("GET", f"{OCR}/RecognizeRegions?id=x", 200),
        ("GET", f"{OCR}/recognizeregions/?id=x", 200),
        ("GET", f"{OCR.upper()}/UTILITIES/GETTASKSTATUS?id=x", 200),
        ("DELETE", f"{OCR}/RecognizeRegions?id=x", 200),
    ],
)
def test_ocr_routes(client: Client, method: str, path: str, status: int) -> None:
    response = _call(client, method, path)
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.json()["status"] == status
    if status == 400:
        assert response.json()["errors"] == {"id": ["required"]}


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_every_ocr_route_needs_a_bearer_token_first(client: Client, method: str) -> None:
    response = _call(client, method, f"{OCR}/Nowhere/../RecognizeRegions", headers={})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_an_unknown_path_is_404_even_without_a_token(client: Client) -> None:
    assert _call(client, "GET", f"{OCR}/Elsewhere", headers={}).status_code == 404


def test_cancel_answers_an_empty_200(client: Client) -> None:
    response = client.cancel("no-such-task")
    assert (response.status_code, response.content) == (200, b"")


@pytest.mark.parametrize(
    ("method", "route", "status"),
    [
        ("GET", "health", 200),
        ("POST", "health", 404),
        ("GET", "timing", 200),
        ("DELETE", "timing", 200),
        ("GET", "faults", 200),
        ("PUT", "faults", 200),
        ("GET", "requests", 200),
        ("GET", "tasks", 200),
        ("DELETE", "tasks", 404),
        ("GET", "tasks/no-such-task", 404),
        ("DELETE", "tasks/no-such-task", 404),
        ("GET", "reset", 404),
        ("GET", "tokens/revoke", 404),
        ("GET", "meteor", 404),
        ("GET", "", 404),
    ],
)
def test_admin_routes(admin: EmulatorAdmin, method: str, route: str, status: int) -> None:
    response = requests.request(method, f"{admin.base_url}/_emulator/{route}", timeout=10)
    assert response.status_code == status, response.text


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]"])
def test_admin_bodies_must_be_json_objects(admin: EmulatorAdmin, body: bytes) -> None:
    response = requests.put(f"{admin.base_url}/_emulator/timing", data=body, timeout=10)
    assert response.status_code == 400


def test_an_injection_with_unknown_members_names_them(admin: EmulatorAdmin) -> None:
    response = requests.post(
        f"{admin.base_url}/_emulator/faults", json={"fault": "drop", "colour": "red"}, timeout=10
    )
    assert response.status_code == 400
    assert "unknown member(s) ['colour']" in response.json()["detail"]


def test_the_admin_client_and_the_server_agree_on_target_names() -> None:
    assert set(Target.names()) == TARGET_OPTIONS


def test_admin_inject_splits_targets_from_params(admin: EmulatorAdmin) -> None:
    armed = admin.inject("http_429", next_requests=2, method="get", path="/v5.0", retry_after=3)
    assert (armed["remaining"], armed["method"], armed["path"]) == (2, "GET", "/v5.0")
    assert armed["params"] == {"retry_after": 3}
    default = admin.inject("error", task_id=None, messages=["x"])
    assert (default["next_tasks"], default["params"]) == (1, {"messages": ["x"]})
