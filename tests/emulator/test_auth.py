"""The token endpoint and bearer checks."""

from __future__ import annotations

import base64

import pytest
import requests

from infra.local.emulator import EmulatorAdmin
from tests.emulator.conftest import Client, wait_for


def test_token_has_the_documented_shape(client: Client) -> None:
    response = client.get_token()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600


def test_http_basic_client_credentials_are_accepted(client: Client) -> None:
    basic = base64.b64encode(f"{client.server.client_id}:{client.server.client_secret}".encode())
    response = requests.post(
        client.server.token_url,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + basic.decode()},
        timeout=10,
    )
    assert response.status_code == 200


def test_wrong_secret_is_400(client: Client) -> None:
    response = client.get_token(secret="wrong")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("client_id", ["kunde-ü", "客户", "\U0001f600"])
def test_a_client_id_in_any_script_is_refused_not_a_500(client: Client, client_id: str) -> None:
    response = requests.post(
        client.server.base_url + "/connect/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


def test_wrong_grant_type_is_400(client: Client) -> None:
    response = requests.post(
        client.server.token_url,
        data={"grant_type": "password", "client_id": "x", "client_secret": "y"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_five_failures_lock_the_client_id_for_ten_minutes(
    client: Client, admin: EmulatorAdmin
) -> None:
    # Given five failed attempts
    for _ in range(5):
        assert client.get_token(secret="wrong").status_code == 400
    # When the client tries again, even with the right secret
    locked = client.get_token()
    # Then it is locked out for 600 s
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "600"
    # And other client ids are not affected
    assert client.get_token(client_id="someone-else", secret="x").status_code == 400


def test_lockout_ends_after_the_lockout_time(client: Client, admin: EmulatorAdmin) -> None:
    admin.set_timing(lockout_s=0.3)
    for _ in range(5):
        client.get_token(secret="wrong")
    assert client.get_token().status_code == 429
    wait_for(lambda: client.get_token().status_code == 200, deadline_s=5)


def test_token_expires_after_its_lifetime(client: Client, admin: EmulatorAdmin) -> None:
    # Given tokens that live 0.3 s
    admin.set_timing(token_lifetime_s=0.3)
    client.login()
    assert client.status("any").status_code == 200
    # Then the token stops working, with a ProblemDetails 401
    # (a requests.Response is falsy when it is an error, hence the list)
    [response] = wait_for(
        lambda: [r for r in [client.status("any")] if r.status_code == 401], deadline_s=5
    )
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert set(problem) >= {"type", "title", "status", "detail", "instance"}
    assert problem["status"] == 401
    # And a fresh token works again
    client.login()
    assert client.status("any").status_code == 200


def test_every_ocr_endpoint_requires_a_token(client: Client) -> None:
    base = client.base
    calls = [
        ("POST", f"{base}/RecognizeRegions"),
        ("GET", f"{base}/RecognizeRegions?id=x"),
        ("DELETE", f"{base}/RecognizeRegions?id=x"),
        ("GET", f"{base}/Utilities/GetTaskStatus?id=x"),
    ]
    for method, url in calls:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
            response = requests.request(method, url, headers=headers, json={}, timeout=10)
            assert response.status_code == 401, (method, url, headers)
            assert response.json()["status"] == 401


def test_revoked_tokens_are_refused(client: Client, admin: EmulatorAdmin) -> None:
    admin.revoke_tokens()
    assert client.status("x").status_code == 401
