"""The token endpoint's rules: client credentials, expiring bearer tokens, lockout."""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Issued:
    access_token: str
    expires_in: int


@dataclass(frozen=True)
class Rejected:
    """Wrong credentials (400) or, with retry_after set, a locked-out client id (429)."""

    error: str
    description: str
    retry_after: int | None = None


class TokenIssuer:
    """Issues and checks tokens; locks a client id out after `max_failures` bad attempts."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        max_failures: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._max_failures = max_failures
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._issued: list[str] = []
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}

    def issue(
        self, client_id: str, client_secret: str, lifetime_s: float, lockout_s: float
    ) -> Issued | Rejected:
        now = self._clock()
        with self._lock:
            until = self._locked_until.get(client_id)
            if until is not None and now < until:
                return Rejected(
                    "too_many_requests",
                    "Too many failed attempts; try again later.",
                    retry_after=max(1, math.ceil(until - now)),
                )
            if until is not None:
                del self._locked_until[client_id]
                self._failures.pop(client_id, None)
            # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, once
            # a 500), and an id or secret may hold any.
            good = hmac.compare_digest(_utf8(client_id), _utf8(self._client_id)) and (
                hmac.compare_digest(_utf8(client_secret), _utf8(self._client_secret))
            )
            if not good:
                failures = self._failures.get(client_id, 0) + 1
                self._failures[client_id] = failures
                if failures >= self._max_failures:
                    self._locked_until[client_id] = now + lockout_s
                return Rejected("invalid_client", "The client credentials are invalid.")
            self._failures.pop(client_id, None)
            token = secrets.token_urlsafe(32)
            self._tokens[token] = now + lifetime_s
            self._issued.append(token)
            # Forget expired tokens so a long benchmark does not grow the table forever.
            if len(self._tokens) > 1024:
                self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            return Issued(token, math.ceil(lifetime_s))

    def is_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._tokens.get(token)
        return expiry is not None and self._clock() < expiry

    def issued(self) -> list[str]:
        """Every token issued, expired and revoked ones included."""
        with self._lock:
            return list(self._issued)

    def rotate_secret(self, client_secret: str) -> None:
        """From now on only ``client_secret`` is accepted (issued tokens stay valid)."""
        with self._lock:
            self._client_secret = client_secret

    def revoke_all(self) -> None:
        with self._lock:
            self._tokens.clear()

    def reset_lockouts(self) -> None:
        with self._lock:
            self._failures.clear()
            self._locked_until.clear()


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")
