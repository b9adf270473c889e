"""Aspose client over HTTP faked with `responses`: tokens, every error class, Retry-After."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from ocr_fetch.client import (
    AsposeClient,
    Deadline,
    Limits,
    RecognitionSettings,
    Rect,
    TokenProvider,
    parse_retry_after,
)
from ocr_fetch.credentials import Credentials, FixedCredentials, SecretCredentials
from ocr_fetch.errors import (
    AsposeAuthError,
    AsposeBadRequestError,
    AsposeProtocolError,
    AsposeThrottledError,
    AsposeUnavailableError,
    CredentialsNotConfigured,
    PermanentError,
    ResponseTooLarge,
    TransientError,
)
from ocr_fetch.model import TaskStatus

BASE = "https://ocr.test"
TOKEN_URL = "https://id.test/connect/token"
FETCH = f"{BASE}/v5.0/ocr/RecognizeRegions"
TASK = "2ce30237-86da-41ef-88e9-84f0b7acffc0"
SECRET = "s3cr3t-value"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rotating(FixedCredentials):
    """Credentials whose secret changes each time they are forgotten (a rotated secret)."""

    def __init__(self) -> None:
        super().__init__(Credentials("client-1", SECRET))
        self.reads = 0
        self.generation = 0

    def __call__(self) -> Credentials:
        self.reads += 1
        return Credentials("client-1", f"{SECRET}-{self.generation}")

    def forget(self) -> None:
        self.generation += 1


def make_client(
    clock: Clock | None = None,
    limits: Limits | None = None,
    credentials: FixedCredentials | None = None,
) -> AsposeClient:
    session = requests.Session()
    tokens = TokenProvider(
        TOKEN_URL,
        credentials or FixedCredentials(Credentials("client-1", SECRET)),
        session=session,
        clock=clock or Clock(),
    )
    return AsposeClient(BASE, tokens, session=session, limits=limits or Limits())


def token_ok(token: str = "tok-1", expires_in: int = 3600) -> None:
    responses.post(
        TOKEN_URL, json={"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}
    )


def completed_body() -> dict[str, object]:
    return {
        "id": TASK,
        "taskStatus": "Completed",
        "responseStatusCode": "Ok",
        "results": [{"type": "Text", "data": "SGVsbG8="}],
        "error": None,
    }


@responses.activate
def test_fetch_sends_client_credentials_and_bearer_token() -> None:
    responses.post(
        TOKEN_URL,
        json={"access_token": "tok-1", "expires_in": 3600},
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "client_credentials",
                    "client_id": "client-1",
                    "client_secret": SECRET,
                }
            )
        ],
    )
    responses.get(
        FETCH,
        json=completed_body(),
        match=[
            matchers.query_param_matcher({"id": TASK}),
            matchers.header_matcher({"Authorization": "Bearer tok-1"}),
        ],
    )

    result = make_client().fetch_result(TASK)

    assert result.response.task_status is TaskStatus.COMPLETED
    assert json.loads(result.body) == completed_body()


@responses.activate
def test_token_is_cached_until_shortly_before_expiry() -> None:
    clock = Clock()
    responses.post(TOKEN_URL, json={"access_token": "tok-1", "expires_in": 3600})
    responses.get(FETCH, json=completed_body())
    client = make_client(clock)

    client.fetch_result(TASK)
    clock.now += 3000  # still more than the 60 s margin before expiry
    client.fetch_result(TASK)
    assert len([c for c in responses.calls if c.request.url == TOKEN_URL]) == 1

    clock.now += 560  # inside the margin: refresh before the service says 401
    client.fetch_result(TASK)
    assert len([c for c in responses.calls if c.request.url == TOKEN_URL]) == 2


@responses.activate
def test_401_mid_poll_refreshes_once_and_retries() -> None:
    responses.post(TOKEN_URL, json={"access_token": "old", "expires_in": 3600})
    responses.post(TOKEN_URL, json={"access_token": "new", "expires_in": 3600})
    responses.get(
        FETCH, status=401, match=[matchers.header_matcher({"Authorization": "Bearer old"})]
    )
    responses.get(
        FETCH,
        json=completed_body(),
        match=[matchers.header_matcher({"Authorization": "Bearer new"})],
    )

    result = make_client().fetch_result(TASK)

    assert result.response.task_status is TaskStatus.COMPLETED


@responses.activate
def test_401_after_refresh_is_an_auth_error_without_the_token_in_it() -> None:
    responses.post(TOKEN_URL, json={"access_token": "tok-secret-abc", "expires_in": 3600})
    responses.get(FETCH, status=401, json={"title": "Unauthorized", "status": 401})

    with pytest.raises(AsposeAuthError) as info:
        make_client().fetch_result(TASK)

    assert isinstance(info.value, PermanentError)
    assert "tok-secret-abc" not in str(info.value)
    assert len([c for c in responses.calls if c.request.url == TOKEN_URL]) == 2


@responses.activate
def test_refused_credentials_are_an_auth_error_that_never_names_the_secret() -> None:
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_client"})
    with pytest.raises(AsposeAuthError) as info:
        make_client().fetch_result(TASK)
    assert SECRET not in str(info.value)


@responses.activate
def test_token_endpoint_lockout_is_throttled_with_retry_after() -> None:
    responses.post(TOKEN_URL, status=429, headers={"Retry-After": "600"})
    with pytest.raises(AsposeThrottledError) as info:
        make_client().fetch_result(TASK)
    assert info.value.retry_after == 600


@responses.activate
def test_403_is_an_auth_error() -> None:
    token_ok()
    responses.get(FETCH, status=403)
    with pytest.raises(AsposeAuthError):
        make_client().fetch_result(TASK)


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after"),
    [
        (429, {"Retry-After": "17"}, AsposeThrottledError, 17.0),
        (429, {}, AsposeThrottledError, None),
        (500, {}, AsposeUnavailableError, None),
        (502, {}, AsposeUnavailableError, None),
        (503, {"Retry-After": "5"}, AsposeUnavailableError, None),
        (400, {}, AsposeBadRequestError, None),
        (404, {}, AsposeBadRequestError, None),
    ],
)
@responses.activate
def test_http_errors_become_typed_errors(
    status: int, headers: dict[str, str], error: type[Exception], retry_after: float | None
) -> None:
    token_ok()
    responses.get(
        FETCH, status=status, headers=headers, body="recognised personal text that must not leak"
    )

    with pytest.raises(error) as info:
        make_client().fetch_result(TASK)

    assert "personal text" not in str(info.value)
    if isinstance(info.value, AsposeThrottledError):
        assert info.value.retry_after == retry_after
    else:
        assert retry_after is None
    expected_base = (
        TransientError
        if error in (AsposeThrottledError, AsposeUnavailableError)
        else PermanentError
    )
    assert isinstance(info.value, expected_base)


@responses.activate
def test_a_rejection_names_the_status_never_what_the_service_said() -> None:
    # A ProblemDetails title or detail may quote the request, or anything: it goes nowhere.
    token_ok()
    responses.get(
        FETCH,
        status=400,
        json={"type": "about:blank", "title": "ERIKA MUSTERMANN", "status": 400, "detail": "x"},
    )
    with pytest.raises(AsposeBadRequestError) as info:
        make_client().fetch_result(TASK)
    assert str(info.value) == "GET /v5.0/ocr/RecognizeRegions was rejected with HTTP 400"


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectTimeout("slow"),
        requests.ConnectionError("reset by ERIKA"),
        requests.exceptions.ChunkedEncodingError("Connection broken: b'ERIKA MUSTERMANN'"),
        requests.exceptions.ContentDecodingError("bad gzip near b'ERIKA'"),
    ],
    ids=["timeout", "dropped", "truncated", "undecodable"],
)
@responses.activate
def test_timeouts_drops_and_truncations_are_unavailable_and_quote_nothing(
    failure: Exception,
) -> None:
    token_ok()
    responses.get(FETCH, body=failure)
    with pytest.raises(AsposeUnavailableError) as info:
        make_client().fetch_result(TASK)
    assert "ERIKA" not in str(info.value)
    assert info.value.__cause__ is None  # the original, with its text, is not chained either


@responses.activate
def test_a_200_that_is_not_json_is_not_yet_an_answer() -> None:
    token_ok()
    responses.get(FETCH, body=b"<html>502 Bad Gateway</html>", content_type="text/html")
    with pytest.raises(AsposeUnavailableError, match="not JSON"):
        make_client().fetch_result(TASK)


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"results": 5}'])
@responses.activate
def test_json_that_is_not_an_ocr_response_is_a_protocol_error(body: bytes) -> None:
    token_ok()
    responses.get(FETCH, body=body, content_type="application/json")
    with pytest.raises(AsposeProtocolError):
        make_client().fetch_result(TASK)


@responses.activate
def test_an_answer_over_the_cap_is_too_large_declared_or_not() -> None:
    token_ok()
    responses.get(FETCH, body=b"x" * 2048, headers={"Content-Length": "2048"})
    responses.get(FETCH, body=b"y" * 2048, auto_calculate_content_length=False)
    client = make_client(limits=Limits(max_response_bytes=1024))
    with pytest.raises(ResponseTooLarge, match="2048 bytes"):
        client.fetch_result(TASK)
    with pytest.raises(ResponseTooLarge):
        client.fetch_result(TASK)


@responses.activate
def test_no_time_left_means_no_request() -> None:
    token_ok()
    responses.get(FETCH, json=completed_body())
    with pytest.raises(AsposeUnavailableError, match="no time left"):
        make_client().fetch_result(TASK, Deadline.after(0.0))
    assert len(responses.calls) == 0


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@responses.activate
def test_a_token_redirect_is_refused_and_the_secret_goes_nowhere_else(status: int) -> None:
    responses.post(TOKEN_URL, status=status, headers={"Location": "https://elsewhere.test/token"})
    responses.post("https://elsewhere.test/token", json={"access_token": "stolen"})
    with pytest.raises(AsposeProtocolError, match=f"HTTP {status}"):
        make_client().fetch_result(TASK)
    assert [c.request.url for c in responses.calls] == [TOKEN_URL]


@responses.activate
def test_after_a_401_the_secret_is_read_again() -> None:
    # Given a secret that was rotated after the first token was issued
    responses.post(TOKEN_URL, json={"access_token": "old", "expires_in": 3600})
    responses.post(TOKEN_URL, json={"access_token": "new", "expires_in": 3600})
    responses.get(FETCH, status=401)
    responses.get(FETCH, json=completed_body())
    credentials = Rotating()
    make_client(credentials=credentials).fetch_result(TASK)
    # Then the second token request carried the new secret, read afresh
    token_requests = [c.request.body for c in responses.calls if c.request.url == TOKEN_URL]
    assert f"{SECRET}-0" in str(token_requests[0])
    assert f"{SECRET}-1" in str(token_requests[1])


def test_placeholder_credentials_are_not_configured() -> None:
    with pytest.raises(CredentialsNotConfigured, match="no clientId"):
        Credentials.from_mapping({"clientId": "", "clientSecret": "generated"}, "secret s")


class RecordingProvider:
    """A SecretsProvider stand-in: answers from ``values`` and records each ``force_fetch``."""

    def __init__(self, *values: dict[str, str]) -> None:
        self.values = list(values)
        self.forced: list[bool] = []

    def get(self, name: str, **options: Any) -> str:
        """The secret's text, as stored (the credentials parse it themselves, within bounds)."""
        self.forced.append(bool(options.get("force_fetch")))
        assert "transform" not in options
        return json.dumps(self.values.pop(0))


def test_placeholder_credentials_are_read_again_until_the_real_ones_are_in() -> None:
    # Given the secret as deployed, then as the user fixed it
    provider = RecordingProvider(
        {"clientId": "", "clientSecret": "generated"}, {"clientId": "cid", "clientSecret": "s"}
    )
    source = SecretCredentials("s", provider=provider)
    with pytest.raises(CredentialsNotConfigured):
        source()
    # Then the very next call reads it afresh (not after the cache's five minutes)
    assert source().client_id == "cid"
    assert provider.forced == [False, True]
    # And good credentials are cached again
    provider.values.append({"clientId": "other", "clientSecret": "s"})
    source()
    assert provider.forced[-1] is False


@responses.activate
def test_token_200_without_access_token_is_a_protocol_error() -> None:
    responses.post(TOKEN_URL, json={"token_type": "Bearer"})
    with pytest.raises(AsposeProtocolError):
        make_client().fetch_result(TASK)


@responses.activate
def test_submit_sends_every_setting_and_order_equal_to_index() -> None:
    token_ok()
    responses.post(FETCH, body=TASK, content_type="text/plain")

    task_id = make_client().submit_regions(
        b"\x89PNG-bytes",
        [Rect(0, 0, 10, 10), Rect(5, 5, 20, 30)],
        RecognitionSettings(result_type="Hocr"),
    )

    assert task_id == TASK
    sent = responses.calls[-1].request.body
    assert isinstance(sent, bytes | str)
    body = json.loads(sent)
    settings = body["settings"]
    assert settings["resultType"] == "Hocr"
    assert {
        "language",
        "makeSkewCorrect",
        "rotate",
        "makeBinarization",
        "makeContrastCorrection",
        "makeUpsampling",
        "makeSpellCheck",
        "dsrMode",
        "dsrConfidence",
    } <= settings.keys()
    assert [r["order"] for r in settings["regions"]] == [0, 1]
    assert settings["regions"][1]["rect"] == {
        "topLeftX": 5,
        "topLeftY": 5,
        "bottomRightX": 20,
        "bottomRightY": 30,
    }


@responses.activate
def test_a_created_client_uses_its_timeouts_for_tokens_and_calls() -> None:
    with_timeouts = [matchers.request_kwargs_matcher({"timeout": (1.5, 7.0)})]
    responses.post(TOKEN_URL, json={"access_token": "t", "expires_in": 60}, match=with_timeouts)
    responses.get(FETCH, json=completed_body(), match=with_timeouts)
    client = AsposeClient.create(
        base_url=BASE,
        token_url=TOKEN_URL,
        credentials=Credentials("client-1", SECRET),
        limits=Limits(timeout=(1.5, 7.0)),
    )

    # A request with other timeouts would match neither and fail as a connection error.
    assert client.fetch_result(TASK).response.task_status is TaskStatus.COMPLETED


@responses.activate
def test_cancel_sends_delete() -> None:
    token_ok()
    responses.delete(FETCH, match=[matchers.query_param_matcher({"id": TASK})])
    make_client().cancel(TASK)
    assert responses.calls[-1].request.method == "DELETE"


@responses.activate
def test_concurrent_callers_share_one_token_request() -> None:
    responses.post(TOKEN_URL, json={"access_token": "tok", "expires_in": 3600})
    responses.get(FETCH, json=completed_body())
    client = make_client()
    barrier = threading.Barrier(8)

    def poll() -> None:
        barrier.wait()
        client.fetch_result(TASK)

    threads = [threading.Thread(target=poll) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len([c for c in responses.calls if c.request.url == TOKEN_URL]) == 1


def test_credentials_repr_hides_the_secret() -> None:
    assert SECRET not in repr(Credentials("id", SECRET))


def test_retry_after_parses_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Tue, 24 Nov 2026 12:00:30 GMT", now=lambda: now) == 30
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@responses.activate
def test_refused_credentials_are_read_again_once_before_giving_up() -> None:
    # Given credentials read before the secret was rotated, and no token to be refused yet
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_client"})
    responses.post(TOKEN_URL, json={"access_token": "new", "expires_in": 3600})
    responses.get(FETCH, json=completed_body())
    credentials = Rotating()
    # When the token endpoint refuses them, they are read again: the rotated secret works
    make_client(credentials=credentials).fetch_result(TASK)
    assert credentials.generation == 1


class _Trickle(ThreadingHTTPServer):
    """An Aspose stand-in whose answer declares 200 bytes, then sends one every half second."""

    daemon_threads = True

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = b'{"access_token": "tok", "expires_in": 3600}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "200")
                self.end_headers()
                for _ in range(200):
                    try:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    except OSError:
                        return
                    time.sleep(0.5)

            def log_message(self, format: str, *args: Any) -> None:
                return

        super().__init__(("127.0.0.1", 0), Handler)


def test_a_trickling_answer_is_cut_at_the_deadline_not_per_chunk() -> None:
    server = _Trickle()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        client = AsposeClient.create(
            base_url=base,
            token_url=base + "/connect/token",
            credentials=Credentials("cid", "secret"),
        )
        started = time.monotonic()
        with pytest.raises(AsposeUnavailableError, match="slower than the time left"):
            client.fetch_result(TASK, Deadline.after(1.5))
        # the whole answer is bounded by the deadline (a read timeout alone never fires here)
        assert time.monotonic() - started < 5
    finally:
        server.shutdown()
        server.server_close()


def test_every_aws_call_is_bounded_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from ocr_fetch import aws
    from ocr_fetch.credentials import SecretCredentials

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # S3, DynamoDB and Secrets Manager clients all have connect and read timeouts, and retries
    # that end: three attempts of one call stay within the check function's margin
    for service in ("s3", "dynamodb", "secretsmanager"):
        config = aws.client(service).meta.config
        assert (config.connect_timeout, config.read_timeout) == (2.0, 8.0)
        assert config.retries["total_max_attempts"] == 3  # the first try and two retries
    assert aws.WORST_CALL_SECONDS < 35
    provider = SecretCredentials("s")._secrets
    assert provider.client.meta.config.read_timeout == aws.READ_TIMEOUT_SECONDS
