"""Aspose.OCR Cloud v5.0 client: bearer tokens, region-recognition submit, fetch and cancel.

Every request has a deadline: connect and read timeouts, and a total time derived from what the
caller has left (a Lambda invocation's remaining time), so a slow answer becomes a transient
failure rather than a killed function. Answers are streamed and capped (``max_response_bytes``,
on the wire and once inflated), redirects are never followed (the token request carries the
client secret), and every failure becomes a typed error of :mod:`ocr_fetch.errors` whose message
names the request and the status, never a token, a secret or anything the service sent.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import io
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from ocr_fetch import jsonlimits
from ocr_fetch.credentials import Credentials, CredentialSource, FixedCredentials
from ocr_fetch.errors import (
    AsposeAuthError,
    AsposeBadRequestError,
    AsposeProtocolError,
    AsposeThrottledError,
    AsposeUnavailableError,
    ResponseTooLarge,
)
from ocr_fetch.model import OcrResponse

RECOGNIZE_REGIONS_PATH = "/v5.0/ocr/RecognizeRegions"
USER_AGENT = "ocr-region-results/0.1"
#: (connect, read) seconds, as requests takes them.
DEFAULT_TIMEOUT = (3.05, 20.0)
#: The largest answer read, on the wire or inflated (the template's MaxResponseBytes).
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_CHUNK_BYTES = 256 * 1024
#: The token endpoint's answer is small; anything larger is not one.
MAX_TOKEN_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """How long each request may take and how large its answer may be."""

    timeout: tuple[float, float] = DEFAULT_TIMEOUT  # (connect, read) seconds
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


@dataclass(frozen=True)
class Deadline:
    """What one invocation may spend on Aspose: a point in time (``time.monotonic``) by which
    every request must be over, and, when the fleet keeps a budget, the gate each request
    passes first (it may wait for a slot, or refuse: :class:`BudgetWaitError`)."""

    at: float
    admit: Callable[[float], None] | None = None

    @classmethod
    def after(cls, seconds: float, admit: Callable[[float], None] | None = None) -> Deadline:
        return cls(time.monotonic() + seconds, admit)

    @classmethod
    def none(cls) -> Deadline:
        """No deadline but the timeouts of each request."""
        return cls(float("inf"))

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def admit_call(self) -> None:
        """Pass the fleet's budget before a request (no budget: at once)."""
        if self.admit is not None:
            self.admit(self.remaining())

    def timeout(self, limits: tuple[float, float], what: str) -> tuple[float, float]:
        """``limits`` shortened to the time left; AsposeUnavailableError when none is."""
        left = self.remaining()
        if left <= 0.05:
            raise AsposeUnavailableError(f"{what} was not sent: no time left in this invocation")
        return (min(limits[0], left), min(limits[1], left))


@dataclass(frozen=True)
class Rect:
    """A region as two corners in pixels, as the API wants it."""

    top_left_x: int
    top_left_y: int
    bottom_right_x: int
    bottom_right_y: int

    def to_json(self) -> dict[str, int]:
        return {
            "topLeftX": self.top_left_x,
            "topLeftY": self.top_left_y,
            "bottomRightX": self.bottom_right_x,
            "bottomRightY": self.bottom_right_y,
        }


@dataclass(frozen=True)
class RecognitionSettings:
    """Every setting is always sent: the spec and the docs disagree on some defaults."""

    language: str = "English"
    result_type: str = "Text"
    make_skew_correct: bool = True
    rotate: int = 0
    make_binarization: bool = False
    make_contrast_correction: bool = True
    make_upsampling: bool = False
    make_spell_check: bool = False
    dsr_mode: str = "Regions"
    dsr_confidence: str = "Default"

    def to_json(self, regions: Sequence[Rect]) -> dict[str, Any]:
        return {
            "language": self.language,
            "makeSkewCorrect": self.make_skew_correct,
            "rotate": self.rotate,
            "makeBinarization": self.make_binarization,
            "makeContrastCorrection": self.make_contrast_correction,
            "makeUpsampling": self.make_upsampling,
            "makeSpellCheck": self.make_spell_check,
            "dsrMode": self.dsr_mode,
            "dsrConfidence": self.dsr_confidence,
            "resultType": self.result_type,
            # `order` places a region's result; sending its index maps results back by index.
            "regions": [{"rect": rect.to_json(), "order": i} for i, rect in enumerate(regions)],
        }


@dataclass(frozen=True)
class FetchResult:
    """A parsed OCRResponse and the exact body it came from (stored raw so nothing is lost)."""

    response: OcrResponse
    body: bytes


class TokenProvider:
    """Client-credentials bearer tokens, cached per process until shortly before expiry.

    Thread-safe; the lock is held while a token is requested, so never more than one token request
    is in flight and concurrent callers share its answer.
    """

    #: A token is refreshed this long before it expires (at most half its lifetime before).
    REFRESH_MARGIN_SECONDS = 60.0

    def __init__(
        self,
        token_url: str,
        credentials: CredentialSource,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 10.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token_url = token_url
        self._credentials = credentials
        self._session = session or requests.Session()
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def token(self, deadline: Deadline) -> str:
        with self._lock:
            if self._token is not None and self._clock() < self._expires_at:
                return self._token
            try:
                self._token, lifetime = self._request_token(deadline)
            except AsposeAuthError:
                # The credentials may have been rotated since they were read: read them again
                # and try once more; refused again, they are wrong.
                self._credentials.forget()
                self._token, lifetime = self._request_token(deadline)
            # Refresh a margin before expiry, but never treat a short-lived token as expired.
            margin = min(self.REFRESH_MARGIN_SECONDS, lifetime / 2)
            self._expires_at = self._clock() + lifetime - margin
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (the service refused it), unless another caller already replaced it,
        and read the credentials afresh for the next one (the secret may have been rotated)."""
        with self._lock:
            if self._token == token:
                self._token = None
                self._credentials.forget()

    def _request_token(self, deadline: Deadline) -> tuple[str, float]:
        creds = self._credentials()
        response = _send(
            self._session,
            "POST",
            self._token_url,
            deadline=deadline,
            timeout=self._timeout,
            data={
                "grant_type": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )
        if response.status_code in (400, 401, 403):
            response.close()
            raise AsposeAuthError(
                f"token endpoint refused the client credentials (HTTP {response.status_code})"
            )
        _raise_for_status(response, "token request")
        body = _read_body(response, deadline, "token request", MAX_TOKEN_ANSWER_BYTES)
        try:
            payload = jsonlimits.loads(body, max_bytes=MAX_TOKEN_ANSWER_BYTES, what="token")
            token = payload["access_token"]
            lifetime = float(payload.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise AsposeProtocolError(
                "token endpoint answered 200 without a JSON access_token"
            ) from None
        if not isinstance(token, str) or not token:
            raise AsposeProtocolError("token endpoint answered an empty access_token")
        return token, max(lifetime, 0.0)


class AsposeClient:
    """The region-recognition endpoints of Aspose.OCR Cloud v5.0."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        *,
        session: requests.Session | None = None,
        limits: Limits = Limits(),
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._session = session or requests.Session()
        self._limits = limits

    @classmethod
    def create(
        cls,
        *,
        base_url: str,
        token_url: str,
        credentials: CredentialSource | Credentials,
        session: requests.Session | None = None,
        limits: Limits = Limits(),
    ) -> AsposeClient:
        """A client and its token provider sharing one session and the same timeouts."""
        session = session or requests.Session()
        source = (
            FixedCredentials(credentials) if isinstance(credentials, Credentials) else credentials
        )
        tokens = TokenProvider(token_url, source, session=session, timeout=limits.timeout)
        return cls(base_url, tokens, session=session, limits=limits)

    def fetch_result(self, task_id: str, deadline: Deadline | None = None) -> FetchResult:
        """``GET /v5.0/ocr/RecognizeRegions?id=``: the task's status and, when done, results."""
        body = self._call("GET", RECOGNIZE_REGIONS_PATH, deadline, params={"id": task_id})
        return FetchResult(_parse_ocr_response(body), body)

    def submit_regions(
        self,
        image: bytes,
        regions: Sequence[Rect],
        settings: RecognitionSettings | None = None,
        deadline: Deadline | None = None,
    ) -> str:
        """``POST /v5.0/ocr/RecognizeRegions``: submit an image and regions; return the task id."""
        payload = {
            "image": base64.b64encode(image).decode("ascii"),
            "settings": (settings or RecognitionSettings()).to_json(regions),
        }
        body = self._call("POST", RECOGNIZE_REGIONS_PATH, deadline, json_body=payload)
        task_id = body.decode("utf-8", errors="replace").strip().strip('"')
        if not task_id:
            raise AsposeProtocolError("submit answered 200 without a task id")
        return task_id

    def cancel(self, task_id: str, deadline: Deadline | None = None) -> None:
        """``DELETE /v5.0/ocr/RecognizeRegions?id=``: cancel a task and delete its results."""
        self._call("DELETE", RECOGNIZE_REGIONS_PATH, deadline, params={"id": task_id})

    def _call(
        self,
        method: str,
        path: str,
        deadline: Deadline | None,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> bytes:
        deadline = deadline or Deadline.none()
        request = _Request(method, self._base_url + path, params, json_body)
        token = self._tokens.token(deadline)
        response = self._send_authorised(request, token, deadline)
        if response.status_code == 401:
            # The token expired or was revoked: refresh once, then it is a real auth failure.
            response.close()
            self._tokens.invalidate(token)
            token = self._tokens.token(deadline)
            response = self._send_authorised(request, token, deadline)
            if response.status_code == 401:
                response.close()
                raise AsposeAuthError(f"{method} {path} refused a fresh token (HTTP 401)")
        if response.status_code == 403:
            response.close()
            raise AsposeAuthError(f"{method} {path} is forbidden for these credentials (HTTP 403)")
        _raise_for_status(response, f"{method} {path}")
        return _read_body(response, deadline, f"{method} {path}", self._limits.max_response_bytes)

    def _send_authorised(
        self, request: _Request, token: str, deadline: Deadline
    ) -> requests.Response:
        return _send(
            self._session,
            request.method,
            request.url,
            deadline=deadline,
            timeout=self._limits.timeout,
            params=request.params,
            json=request.json_body,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json, text/plain",
                "User-Agent": USER_AGENT,
            },
        )


@dataclass(frozen=True)
class _Request:
    method: str
    url: str
    params: Mapping[str, str] | None
    json_body: Any


def _send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    deadline: Deadline,
    timeout: tuple[float, float],
    **kwargs: Any,
) -> requests.Response:
    """Send one request; the body is read later, by :func:`_read_body`. No redirect is followed:
    the token request carries the client secret, and no endpoint of this API redirects."""
    what = f"{method} {_path(url)}"
    deadline.timeout(timeout, what)  # no time left: not even a slot is taken
    deadline.admit_call()
    try:
        return session.request(
            method,
            url,
            timeout=deadline.timeout(timeout, what),
            allow_redirects=False,
            stream=True,
            **kwargs,
        )
    except requests.Timeout:
        raise AsposeUnavailableError(f"{what} timed out") from None
    except requests.RequestException:
        # No text of the exception: some quote what the server sent.
        raise AsposeUnavailableError(f"{what} failed before an answer came") from None


def _read_body(response: requests.Response, deadline: Deadline, what: str, cap: int) -> bytes:
    """The whole answer, at most ``cap`` bytes on the wire and once inflated, by the deadline.

    The deadline bounds the whole read, not each chunk: a body trickling in a byte at a time
    would keep each read under its timeout for ever. A timer shuts the connection at the
    deadline (urllib3's ``shutdown`` unblocks a read in progress), and the read ends there.
    """
    try:
        declared = int(response.headers.get("Content-Length", "0") or 0)
    except ValueError:
        declared = 0
    # Written into one buffer whose bytes getvalue() hands over: no second copy of the answer.
    buffer = io.BytesIO()
    received = 0
    try:
        with _shut_at(deadline, response):
            if declared > cap:
                raise ResponseTooLarge(f"{what} answered {declared} bytes, over the {cap}-byte cap")
            for chunk in response.iter_content(chunk_size=_CHUNK_BYTES):
                received += len(chunk)
                if received > cap:
                    raise ResponseTooLarge(f"{what} answered more than the {cap}-byte cap")
                buffer.write(chunk)
    except (requests.RequestException, OSError, ValueError):
        if deadline.remaining() > 0:
            # A dropped, truncated or undecodable answer; its text may quote what was sent.
            raise AsposeUnavailableError(f"{what} answer was cut off or garbled") from None
    finally:
        response.close()
    if deadline.remaining() <= 0:
        # Shut at the deadline, the connection can also look like a short, complete answer.
        raise AsposeUnavailableError(f"{what} answered slower than the time left")
    return buffer.getvalue()


@contextlib.contextmanager
def _shut_at(deadline: Deadline, response: requests.Response) -> Iterator[None]:
    """Shut ``response``'s connection when ``deadline`` passes, unless the block is over."""
    left = deadline.remaining()
    if not math.isfinite(left):
        yield
        return
    timer = threading.Timer(max(left, 0.0), _shut, (response,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _shut(response: requests.Response) -> None:
    """Unblock a read of ``response`` in progress (called by the deadline's timer)."""
    raw = response.raw
    shutdown = getattr(raw, "shutdown", None)
    if callable(shutdown):
        shutdown()
    else:  # not a urllib3 response (a test double): closing is all there is
        response.close()


def _raise_for_status(response: requests.Response, what: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    response.close()  # nothing the service said goes any further than its status
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise AsposeThrottledError(f"{what} was throttled (HTTP 429)", retry_after=retry_after)
    if status >= 500 or status == 408:
        raise AsposeUnavailableError(f"{what} failed with HTTP {status}")
    if 300 <= status < 400:
        raise AsposeProtocolError(f"{what} answered a redirect (HTTP {status}), not followed")
    raise AsposeBadRequestError(f"{what} was rejected with HTTP {status}")


def _parse_ocr_response(body: bytes) -> OcrResponse:
    try:
        # The results' Base64 stays in the body: the answer costs its own size, not four times.
        return OcrResponse.from_body(body)
    except ValueError:
        # A proxy's error page, say: not an answer about the task, so not a final one.
        raise AsposeUnavailableError(
            f"GET {RECOGNIZE_REGIONS_PATH} answered {len(body)} bytes that are not JSON "
            "within bounds"
        ) from None


def parse_retry_after(value: str | None, now: Callable[[], datetime] | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date. None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = (now or (lambda: datetime.now(UTC)))()
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - current).total_seconds(), 0.0)


def _path(url: str) -> str:
    return url.split("?", 1)[0]
