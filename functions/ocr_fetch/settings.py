"""One typed settings object, built from the environment once per process.

Domain code never reads ``os.environ``; handlers call :func:`get_settings`. A missing or malformed
variable raises :class:`ConfigurationError` naming it, at the first invocation of a cold start.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

from ocr_fetch.errors import ConfigurationError
from ocr_fetch.learning import PlanSettings
from ocr_fetch.polling import PollingPolicy

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.aspose.cloud"
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class Settings:
    """Configuration shared by every handler. Optional fields are needed by one handler only."""

    results_bucket: str
    results_table: str
    aspose_secret_name: str
    aspose_base_url: str = DEFAULT_BASE_URL
    aspose_token_url: str = DEFAULT_BASE_URL + "/connect/token"
    state_machine_arn: str | None = None
    dead_letter_queue_url: str | None = None
    connect_timeout_seconds: float = 3.05
    read_timeout_seconds: float = 20.0
    max_response_bytes: int = 64 * 1024 * 1024
    cancel_on_give_up: bool = False
    start_queue_max_receives: int = 5
    secret_cache_seconds: int = 300
    max_region_bytes: int = 10 * 1024 * 1024
    retention_days: int = 30
    polling: PollingPolicy = field(default_factory=PollingPolicy)
    #: Learning (:mod:`ocr_fetch.learning`): off when no history table is set.
    polling_history_table: str | None = None
    planning: PlanSettings = field(default_factory=PlanSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        base_url = reader.url("ASPOSE_BASE_URL", DEFAULT_BASE_URL)
        defaults = PollingPolicy()
        polling = PollingPolicy(
            initial_seconds=reader.number("POLL_INITIAL_SECONDS", defaults.initial_seconds, float),
            multiplier=reader.number("POLL_MULTIPLIER", defaults.multiplier, float),
            max_interval_seconds=reader.number(
                "POLL_MAX_INTERVAL_SECONDS", defaults.max_interval_seconds, float
            ),
            jitter=reader.number("POLL_JITTER", defaults.jitter, float),
            deadline_seconds=reader.number(
                "POLL_DEADLINE_SECONDS", defaults.deadline_seconds, float
            ),
            max_polls=reader.number("POLL_MAX_POLLS", defaults.max_polls, int),
        )
        settings = cls(
            results_bucket=reader.required("RESULTS_BUCKET"),
            results_table=reader.required("RESULTS_TABLE"),
            aspose_secret_name=reader.required("ASPOSE_SECRET_NAME"),
            aspose_base_url=base_url,
            aspose_token_url=reader.url("ASPOSE_TOKEN_URL", base_url + "/connect/token"),
            state_machine_arn=reader.optional("STATE_MACHINE_ARN"),
            dead_letter_queue_url=reader.optional("DEAD_LETTER_QUEUE_URL"),
            connect_timeout_seconds=reader.number("HTTP_CONNECT_TIMEOUT_SECONDS", 3.05, float),
            read_timeout_seconds=reader.number("HTTP_READ_TIMEOUT_SECONDS", 20.0, float),
            max_response_bytes=reader.number("MAX_RESPONSE_BYTES", 64 * 1024 * 1024, int),
            cancel_on_give_up=reader.flag("CANCEL_ON_GIVE_UP"),
            start_queue_max_receives=reader.number("START_QUEUE_MAX_RECEIVES", 5, int),
            secret_cache_seconds=reader.number("SECRET_CACHE_SECONDS", 300, int),
            max_region_bytes=reader.number("MAX_REGION_BYTES", 10 * 1024 * 1024, int),
            retention_days=reader.number("RESULTS_RETENTION_DAYS", 30, int),
            polling=polling,
            polling_history_table=reader.optional("POLLING_HISTORY_TABLE"),
            planning=PlanSettings(
                poll_worth_seconds=reader.number("POLL_WORTH_SECONDS", 2.0, float),
                max_first_wait_seconds=reader.number("POLL_MAX_FIRST_WAIT_SECONDS", 60, int),
                policy=polling,
            ),
        )
        reader.raise_errors()
        try:
            polling.validate()
        except ValueError as exc:
            raise ConfigurationError(f"POLL_* settings are inconsistent: {exc}") from exc
        return settings

    def require_starter(self) -> tuple[str, str]:
        """The state machine ARN and dead-letter queue URL, which only the starter needs."""
        missing = [
            name
            for name, value in (
                ("STATE_MACHINE_ARN", self.state_machine_arn),
                ("DEAD_LETTER_QUEUE_URL", self.dead_letter_queue_url),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(f"{' and '.join(missing)} required by the starter but not set")
        return self.state_machine_arn or "", self.dead_letter_queue_url or ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, built on first use."""
    return Settings.from_env()


class _Reader:
    """Reads variables, collecting every problem so one error names them all."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._errors: list[str] = []

    def optional(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def required(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            self._errors.append(f"{name} is required but not set")
            return ""
        return value

    def url(self, name: str, default: str) -> str:
        """An https URL; plain http only to this machine (a local emulator): the token request
        carries the client secret and every other request a bearer token."""
        value = self.optional(name) or default
        parts = urllib.parse.urlsplit(value)
        local = parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
        if parts.scheme != "https" and not local:
            self._errors.append(
                f"{name} must be an https URL (plain http only for localhost), got {value!r}"
            )
        elif not parts.hostname:
            self._errors.append(f"{name} has no host, got {value!r}")
        return value.rstrip("/")

    def flag(self, name: str) -> bool:
        raw = (self.optional(name) or "false").lower()
        if raw not in ("true", "false"):
            self._errors.append(f"{name} must be true or false, got {raw!r}")
        return raw == "true"

    def number(self, name: str, default: T, kind: Callable[[str], T]) -> T:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = kind(raw)
        except ValueError:
            kind_name = getattr(kind, "__name__", "number")
            self._errors.append(f"{name} must be a {kind_name}, got {raw!r}")
            return default
        if isinstance(value, int | float) and value < 0:
            self._errors.append(f"{name} must not be negative, got {raw!r}")
            return default
        return value

    def raise_errors(self) -> None:
        if self._errors:
            raise ConfigurationError("; ".join(self._errors))
