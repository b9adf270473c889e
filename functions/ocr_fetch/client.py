"""Aspose.OCR Cloud v5.0 client: bearer tokens, region-recognition submit, fetch and cancel.

Every call has connect and read timeouts. HTTP failures become the typed errors of
:mod:`ocr_fetch.errors`; their messages name the status and the service's problem title, never a
token, a secret or a response body that could hold recognised text.
"""

from __future__ import annotations

import base64
import email.utils
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from ocr_fetch.errors import (
    MAX_PROBLEM_CHARS,
    AsposeAuthError,
    AsposeBadRequestError,
    AsposeProtocolError,
    AsposeThrottledError,
    AsposeUnavailableError,
    ConfigurationError,
    clip,
)
from ocr_fetch.model import OcrResponse

RECOGNIZE_REGIONS_PATH = "/v5.0/ocr/RecognizeRegions"
USER_AGENT = "ocr-region-results/0.1"
#: (connect, read) seconds, as requests takes them.
DEFAULT_TIMEOUT = (3.05, 20.0)


@dataclass(frozen=True)
class Credentials:
    """Aspose client credentials. ``repr`` never shows the secret."""

    client_id: str
    client_secret: str = field(repr=False)

    @classmethod
    def from_mapping(cls, value: Mapping[str, Any], source: str) -> Credentials:
        client_id = value.get("clientId") or value.get("client_id")
        secret = value.get("clientSecret") or value.get("client_secret")
        if not isinstance(client_id, str) or not client_id:
            raise ConfigurationError(f"{source} has no clientId")
        if not isinstance(secret, str) or not secret:
            raise ConfigurationError(f"{source} has no clientSecret")
        return cls(client_id, secret)


def secret_credentials(
    secret_name: str, max_age_seconds: int = 300, provider: Any = None
) -> Callable[[], Credentials]:
    """A loader reading ``{"clientId", "clientSecret"}`` from Secrets Manager, cached.

    Each loader has its own Powertools provider (and so its own client and cache), bound to the
    environment it was created in, rather than the process-wide default provider.
    """
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    secrets = provider or SecretsProvider()

    def load() -> Credentials:
        value = secrets.get(secret_name, transform="json", max_age=max_age_seconds)
        if not isinstance(value, dict):
            raise ConfigurationError(f"secret {secret_name} must hold a JSON object")
        return Credentials.from_mapping(value, f"secret {secret_name}")

    return load


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
        credentials: Callable[[], Credentials],
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

    def token(self) -> str:
        with self._lock:
            if self._token is not None and self._clock() < self._expires_at:
                return self._token
            self._token, lifetime = self._request_token()
            # Refresh a margin before expiry, but never treat a short-lived token as expired.
            margin = min(self.REFRESH_MARGIN_SECONDS, lifetime / 2)
            self._expires_at = self._clock() + lifetime - margin
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (the service refused it), unless another caller already replaced it."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _request_token(self) -> tuple[str, float]:
        creds = self._credentials()
        response = _send(
            self._session,
            "POST",
            self._token_url,
            timeout=self._timeout,
            data={
                "grant_type": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )
        if response.status_code in (400, 401, 403):
            raise AsposeAuthError(
                f"token endpoint refused the client credentials (HTTP {response.status_code})"
            )
        _raise_for_status(response, "token request")
        try:
            payload = response.json()
            token = payload["access_token"]
            lifetime = float(payload.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise AsposeProtocolError(
                "token endpoint answered 200 without a JSON access_token"
            ) from exc
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
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._session = session or requests.Session()
        self._timeout = timeout

    @classmethod
    def create(
        cls,
        *,
        base_url: str,
        token_url: str,
        credentials: Callable[[], Credentials],
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> AsposeClient:
        """A client and its token provider sharing one session and the same timeouts."""
        session = session or requests.Session()
        tokens = TokenProvider(token_url, credentials, session=session, timeout=timeout)
        return cls(base_url, tokens, session=session, timeout=timeout)

    def fetch_result(self, task_id: str) -> FetchResult:
        """``GET /v5.0/ocr/RecognizeRegions?id=``: the task's status and, when done, results."""
        response = self._call("GET", RECOGNIZE_REGIONS_PATH, params={"id": task_id})
        return FetchResult(_parse_ocr_response(response), response.content)

    def submit_regions(
        self,
        image: bytes,
        regions: Sequence[Rect],
        settings: RecognitionSettings | None = None,
    ) -> str:
        """``POST /v5.0/ocr/RecognizeRegions``: submit an image and regions; return the task id."""
        body = {
            "image": base64.b64encode(image).decode("ascii"),
            "settings": (settings or RecognitionSettings()).to_json(regions),
        }
        response = self._call("POST", RECOGNIZE_REGIONS_PATH, json_body=body)
        task_id = response.text.strip().strip('"')
        if not task_id:
            raise AsposeProtocolError("submit answered 200 without a task id")
        return task_id

    def cancel(self, task_id: str) -> None:
        """``DELETE /v5.0/ocr/RecognizeRegions?id=``: cancel a task and delete its results."""
        self._call("DELETE", RECOGNIZE_REGIONS_PATH, params={"id": task_id})

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> requests.Response:
        url = self._base_url + path
        token = self._tokens.token()
        response = self._send_authorised(method, url, token, params, json_body)
        if response.status_code == 401:
            # The token expired or was revoked: refresh once, then it is a real auth failure.
            self._tokens.invalidate(token)
            token = self._tokens.token()
            response = self._send_authorised(method, url, token, params, json_body)
            if response.status_code == 401:
                raise AsposeAuthError(f"{method} {path} refused a fresh token (HTTP 401)")
        if response.status_code == 403:
            raise AsposeAuthError(f"{method} {path} is forbidden for these credentials (HTTP 403)")
        _raise_for_status(response, f"{method} {path}")
        return response

    def _send_authorised(
        self,
        method: str,
        url: str,
        token: str,
        params: Mapping[str, str] | None,
        json_body: Any,
    ) -> requests.Response:
        return _send(
            self._session,
            method,
            url,
            timeout=self._timeout,
            params=params,
            json=json_body,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json, text/plain",
                "User-Agent": USER_AGENT,
            },
        )


def _send(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    try:
        return session.request(method, url, **kwargs)
    except requests.Timeout as exc:
        raise AsposeUnavailableError(f"{method} {_path(url)} timed out") from exc
    except requests.ConnectionError as exc:
        raise AsposeUnavailableError(f"{method} {_path(url)} could not connect") from exc


def _raise_for_status(response: requests.Response, what: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise AsposeThrottledError(f"{what} was throttled (HTTP 429)", retry_after=retry_after)
    if status >= 500 or status == 408:
        raise AsposeUnavailableError(f"{what} failed with HTTP {status}")
    raise AsposeBadRequestError(f"{what} was rejected with HTTP {status}{_problem_title(response)}")


def _problem_title(response: requests.Response) -> str:
    """The ProblemDetails title and detail, which describe the request, never the results."""
    try:
        problem = response.json()
    except ValueError:
        return ""
    if not isinstance(problem, dict):
        return ""
    parts = [str(problem[k]) for k in ("title", "detail") if isinstance(problem.get(k), str)]
    text = clip(": ".join(parts), MAX_PROBLEM_CHARS)
    return f" ({text})" if text else ""


def _parse_ocr_response(response: requests.Response) -> OcrResponse:
    try:
        payload = json.loads(response.content)
    except ValueError as exc:
        content_type = response.headers.get("Content-Type", "unknown")
        raise AsposeProtocolError(
            f"expected an OCRResponse JSON body, got {len(response.content)} bytes of "
            f"{content_type} that is not JSON"
        ) from exc
    return OcrResponse.from_json(payload)


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
