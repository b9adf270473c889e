"""Faults on the wire: a short body, any status (redirects too), a huge body, a gzip bomb.

Each is checked twice where it matters: what a raw socket receives (the bytes the emulator really
sends) and what `requests` makes of it (what the product's client will meet).
"""

from __future__ import annotations

import base64
import json
import socket
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from infra.local.emulator import EmulatorAdmin, EmulatorAdminError, EmulatorConfig, EmulatorServer
from infra.local.emulator.request_faults import deflated_spaces, padded_ocr_response
from tests.emulator.conftest import Client, card_regions

STATUS = "/v5.0/ocr/Utilities/GetTaskStatus"
REGIONS = "/v5.0/ocr/RecognizeRegions"
MiB = 1024 * 1024


def _raw(
    client: Client, method: str, target: str, *, keep_alive: bool = False
) -> tuple[str, dict[str, str], bytes]:
    """Send one request on a fresh socket; the status line, headers and every body byte received
    until the server closes the connection. With `keep_alive` the request does not ask for the
    close: only a server that hangs up by itself ends the read (else a timeout fails the test)."""
    server = client.server
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {client.token}\r\nContent-Length: 0\r\n"
        + ("" if keep_alive else "Connection: close\r\n")
        + "\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    header_block, _, rest = received.partition(b"\r\n\r\n")
    status_line, *lines = header_block.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (h.partition(":") for h in lines)}
    return status_line, headers, rest


# ----- truncate --------------------------------------------------------------------------------
def test_truncate_promises_the_whole_body_sends_half_and_closes(
    client: Client, admin: EmulatorAdmin
) -> None:
    whole = client.status("x").content
    admin.inject("truncate", path=STATUS)
    status_line, headers, received = _raw(client, "GET", f"{STATUS}?id=x", keep_alive=True)
    assert status_line == "HTTP/1.1 200 OK"
    assert int(headers["content-length"]) == len(whole)
    assert received == whole[: len(whole) // 2]  # then the connection closed
    assert admin.requests(task_id="x")[-1]["faults"] == ["truncate"]
    assert admin.requests(task_id="x")[-1]["status"] == 200


@pytest.mark.parametrize("fraction", [0, 0.25, 0.99])
def test_truncate_sends_the_fraction_asked_for(
    client: Client, admin: EmulatorAdmin, fraction: float
) -> None:
    whole = client.status("x").content
    admin.inject("truncate", fraction=fraction)
    _, headers, received = _raw(client, "GET", f"{STATUS}?id=x", keep_alive=True)
    assert int(headers["content-length"]) == len(whole)
    assert received == whole[: int(len(whole) * fraction)]


def test_requests_sees_a_truncated_answer_as_a_broken_connection(
    client: Client, admin: EmulatorAdmin
) -> None:
    admin.inject("truncate")
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        client.fetch("x")
    # The broken connection is not reused: the same session's next call is answered whole.
    assert client.fetch("x").json()["taskStatus"] == "NotExist"


def test_a_truncated_submit_still_creates_the_task(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    admin.inject("truncate", method="POST", path=REGIONS)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        client.submit(card_b64, regions=card_regions()[:1])
    [submit] = admin.requests(method="POST", path=REGIONS)
    assert submit["faults"] == ["truncate"]
    assert [task["id"] for task in admin.tasks()] == [submit["task_id"]]


def test_a_truncated_empty_answer_promises_one_byte(client: Client, admin: EmulatorAdmin) -> None:
    admin.inject("truncate", method="DELETE")
    _, headers, received = _raw(client, "DELETE", f"{REGIONS}?id=x", keep_alive=True)
    assert (headers["content-length"], received) == ("1", b"")


def test_truncate_follows_the_task_targeting_rules(
    client: Client, admin: EmulatorAdmin, card_b64: str
) -> None:
    admin.inject("truncate", next_tasks=1, times=1)
    task_id = client.submit(card_b64, regions=card_regions()[:1])
    other = client.submit(card_b64, regions=card_regions()[:1])
    assert client.status(other).status_code == 200
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        client.status(task_id)
    assert client.status(task_id).status_code == 200


# ----- http_status -----------------------------------------------------------------------------
def test_http_status_answers_problem_details_of_the_callers_wording(
    client: Client, admin: EmulatorAdmin
) -> None:
    admin.inject("http_status", status=403, title="Forbidden", detail="Monthly quota exceeded")
    response = client.fetch("x")
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/problem+json; charset=utf-8"
    assert response.json() == {
        "type": "https://httpstatuses.io/403",
        "title": "Forbidden",
        "status": 403,
        "detail": "Monthly quota exceeded",
        "instance": REGIONS,
    }
    assert admin.requests(task_id="x")[-1]["faults"] == ["http_status"]


@pytest.mark.parametrize("status", [400, 404, 409, 418, 499, 504, 520])
def test_http_status_defaults_to_our_problem_details(
    client: Client, admin: EmulatorAdmin, status: int
) -> None:
    admin.inject("http_status", status=status)
    response = client.status("x")
    assert response.status_code == status
    assert response.json()["status"] == status
    assert response.json()["detail"] == f"Injected fault: HTTP {status}."
    assert client.status("x").status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"error": "invalid_client"}', "application/json; charset=utf-8"),
        ("Service Unavailable", "text/plain; charset=utf-8"),
        ("", "text/plain; charset=utf-8"),
    ],
)
def test_http_status_sends_the_body_given(
    client: Client, admin: EmulatorAdmin, body: str, content_type: str
) -> None:
    admin.inject("http_status", path="/connect/token", status=400, body=body)
    response = client.get_token()
    assert (response.status_code, response.text) == (400, body)
    assert response.headers["Content-Type"] == content_type


def test_http_status_sends_the_headers_given(client: Client, admin: EmulatorAdmin) -> None:
    admin.inject(
        "http_status",
        status=429,
        body="<html>slow down</html>",
        headers={"Retry-After": "120", "Content-Type": "text/html", "X-Request-Id": "abc"},
    )
    response = client.fetch("x")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "120"
    assert response.headers["Content-Type"] == "text/html"
    assert response.headers["X-Request-Id"] == "abc"


def test_http_status_204_has_no_body_and_keeps_the_connection(
    client: Client, admin: EmulatorAdmin
) -> None:
    admin.inject("http_status", status=204)
    _, headers, received = _raw(client, "GET", f"{STATUS}?id=x")
    assert "content-length" not in headers
    assert received == b""
    admin.inject("http_status", status=204)
    assert (client.status("x").status_code, client.status("x").status_code) == (204, 200)


@pytest.fixture
def elsewhere() -> Iterator[EmulatorServer]:
    """A second emulator: "another host" for redirects (same credentials)."""
    with EmulatorServer(EmulatorConfig()) as other:
        yield other


@pytest.mark.parametrize("status", [307, 308])
def test_the_token_request_can_be_redirected_to_another_host(
    client: Client, admin: EmulatorAdmin, elsewhere: EmulatorServer, status: int
) -> None:
    admin.inject(
        "http_status",
        path="/connect/token",
        status=status,
        headers={"Location": elsewhere.token_url},
    )
    response = client.get_token()
    # requests follows a 307/308 with the same method and body: the credentials went elsewhere.
    assert [r.status_code for r in response.history] == [status]
    assert response.history[0].headers["Location"] == elsewhere.token_url
    assert response.status_code == 200
    assert response.url == elsewhere.token_url
    [moved] = elsewhere.admin.requests(path="/connect/token")
    assert (moved["method"], moved["status"]) == ("POST", 200)


def test_a_client_that_does_not_follow_redirects_sees_the_location(
    client: Client, admin: EmulatorAdmin, elsewhere: EmulatorServer
) -> None:
    admin.inject("http_status", status=308, headers={"Location": elsewhere.base_url + REGIONS})
    response = client.session.get(
        f"{client.base}/RecognizeRegions?id=x", headers=client.headers(), allow_redirects=False
    )
    assert response.status_code == 308
    assert response.is_redirect
    assert response.headers["Location"] == elsewhere.base_url + REGIONS


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"status": 99},
        {"status": 600},
        {"status": "404"},
        {"status": True},
        {"status": 400, "body": 5},
        {"status": 400, "body": "x", "title": "y"},
        {"status": 400, "headers": ["Location"]},
        {"status": 400, "headers": {"X-Bad": "a\r\nSet-Cookie: x=1"}},
        {"status": 400, "headers": {"Bad Name": "x"}},
        {"status": 400, "headers": {"Content-Length": "5"}},
        {"status": 400, "headers": {"transfer-encoding": "chunked"}},
        {"status": 400, "headers": {"X-Number": 5}},
    ],
)
def test_bad_http_status_params_are_refused(admin: EmulatorAdmin, params: dict[str, Any]) -> None:
    with pytest.raises(EmulatorAdminError):
        admin.inject("http_status", **params)
    assert admin.faults() == []


# ----- huge ------------------------------------------------------------------------------------
def test_huge_is_a_completed_ocr_response_of_exactly_the_size_asked(
    client: Client, admin: EmulatorAdmin
) -> None:
    size = 3 * MiB + 3
    admin.inject("huge", bytes=size)
    response = client.fetch("x")
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content) == size
    document = response.json()
    assert (document["id"], document["taskStatus"], document["responseStatusCode"]) == (
        "x",
        "Completed",
        "Ok",
    )
    [entry] = document["results"]
    assert entry["type"] == "Text"
    assert set(base64.b64decode(entry["data"], validate=True)) == {ord(" ")}
    assert admin.requests(task_id="x")[-1]["faults"] == ["huge"]


def test_huge_can_come_chunked_without_a_length(client: Client, admin: EmulatorAdmin) -> None:
    admin.inject("huge", bytes=MiB, chunked=True)
    response = client.fetch("x")
    assert "Content-Length" not in response.headers
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert len(response.content) == MiB
    assert response.json()["taskStatus"] == "Completed"


def test_huge_is_streamed_not_built(client: Client, admin: EmulatorAdmin) -> None:
    # Ten gibibytes could not be built in memory in time: the first mebibyte arrives, then the
    # client hangs up, and the server goes on answering.
    size = 10 * 1024 * MiB
    admin.inject("huge", bytes=size)
    with client.session.get(
        f"{client.base}/RecognizeRegions?id=x", headers=client.headers(), stream=True, timeout=10
    ) as response:
        assert int(response.headers["Content-Length"]) == size
        first = response.raw.read(MiB)
    assert len(first) == MiB
    assert first.startswith(b'{"id": "x", "taskStatus": "Completed"')
    assert client.fetch("x").status_code == 200


@pytest.mark.parametrize("size", [0, 1, 100, 150, 151, 152, 153, 154, 65536 * 3 + 1])
def test_padded_answers_are_valid_json_of_the_size_asked(size: int) -> None:
    length, chunks = padded_ocr_response("1234", size)
    body = b"".join(chunks)
    assert len(body) == length
    assert length == size or (size < length and length < 160)
    document = json.loads(body)
    base64.b64decode(document["results"][0]["data"], validate=True)


# ----- gzip_bomb -------------------------------------------------------------------------------
def _inflate_counting(compressed: bytes) -> tuple[int, bytes]:
    """Inflate a gzip body piece by piece: its inflated size and last bytes, never all of it."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    size, last = 0, b""
    pending = compressed
    while pending and not inflater.eof:
        out = inflater.decompress(pending, MiB)
        size, last = size + len(out), (last + out)[-4096:]
        pending = inflater.unconsumed_tail or inflater.unused_data
    assert inflater.eof
    assert not inflater.unused_data
    return size, last


def test_gzip_bomb_is_small_on_the_wire_and_huge_inflated(
    client: Client, admin: EmulatorAdmin
) -> None:
    inflated = 20 * MiB + 5
    admin.inject("gzip_bomb", inflated_bytes=inflated)
    with client.session.get(
        f"{client.base}/RecognizeRegions?id=x", headers=client.headers(), stream=True, timeout=10
    ) as response:
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == "gzip"
        compressed = response.raw.read(decode_content=False)
    assert int(response.headers["Content-Length"]) == len(compressed) < inflated // 500
    size, last = _inflate_counting(compressed)
    tail = last.lstrip(b" ")
    assert size == inflated + len(tail)
    assert json.loads(tail)["taskStatus"] == "Completed"
    assert admin.requests(task_id="x")[-1]["faults"] == ["gzip_bomb"]


def test_requests_inflates_a_gzip_bomb_unless_the_client_stops_it(
    client: Client, admin: EmulatorAdmin
) -> None:
    admin.inject("gzip_bomb", inflated_bytes=50 * MiB)
    cap, read = 5 * MiB, 0
    with client.session.get(
        f"{client.base}/RecognizeRegions?id=x", headers=client.headers(), stream=True, timeout=10
    ) as response:
        assert int(response.headers["Content-Length"]) < 100 * 1024
        for piece in response.iter_content(64 * 1024):
            read += len(piece)
            if read > cap:
                break
    assert read > cap  # a client that trusts Content-Length (under 100 KiB) is already wrong


def test_gzip_bomb_default_is_200_mib_in_about_200_kib(
    client: Client, admin: EmulatorAdmin
) -> None:
    admin.inject("gzip_bomb", path=REGIONS)
    with client.session.get(
        f"{client.base}/RecognizeRegions?id=x", headers=client.headers(), stream=True, timeout=10
    ) as response:
        compressed = response.raw.read(decode_content=False)
    size, _ = _inflate_counting(compressed)
    assert size > 200 * MiB
    assert len(compressed) < 256 * 1024


def test_gzip_bomb_bytes_are_compressed_once_per_size() -> None:
    deflated_spaces.cache_clear()
    first = deflated_spaces(3 * MiB + 1)
    assert deflated_spaces(3 * MiB + 1) is first
    assert deflated_spaces.cache_info().hits == 1


@pytest.mark.parametrize(
    ("fault", "params"),
    [
        ("truncate", {"fraction": 1}),
        ("truncate", {"fraction": -0.1}),
        ("truncate", {"fraction": "half"}),
        ("huge", {"bytes": -1}),
        ("huge", {"bytes": 1.5}),
        ("huge", {"bytes": 2**41}),
        ("huge", {"chunked": "yes"}),
        ("gzip_bomb", {"inflated_bytes": 2**33}),
        ("gzip_bomb", {"bytes": 10}),
    ],
)
def test_bad_wire_fault_params_are_refused(
    admin: EmulatorAdmin, fault: str, params: dict[str, Any]
) -> None:
    with pytest.raises(EmulatorAdminError):
        admin.inject(fault, **params)
    assert admin.faults() == []
