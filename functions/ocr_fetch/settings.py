"""Each function's settings, read from the environment once per process.

Domain code never reads ``os.environ``; a handler builds its function's settings (one class each,
reading only the variables its template entry sets) and passes them on. A missing or malformed
variable raises :class:`ConfigurationError` naming it, at the first invocation of a cold start.

Every default is stated once: the polling knobs in :class:`~ocr_fetch.polling.PollingPolicy` and
:class:`~ocr_fetch.learning.PlanSettings`, the rest as the field defaults below. The template's
parameter defaults and the README's table are checked against these by
``tests/unit/test_settings.py``.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ocr_fetch.errors import ConfigurationError
from ocr_fetch.learning import PlanSettings
from ocr_fetch.polling import PollingPolicy

T = TypeVar("T")
S = TypeVar("S")

DEFAULT_BASE_URL = "https://api.aspose.cloud"
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}

#: Each polling field and the variable it is read from.
POLLING_VARIABLES = {
    "initial_seconds": "POLL_INITIAL_SECONDS",
    "multiplier": "POLL_MULTIPLIER",
    "max_interval_seconds": "POLL_MAX_INTERVAL_SECONDS",
    "jitter": "POLL_JITTER",
    "deadline_seconds": "POLL_DEADLINE_SECONDS",
    "max_polls": "POLL_MAX_POLLS",
    "lifetime_seconds": "RESULTS_LIFETIME_SECONDS",
}
PLANNING_VARIABLES = {
    "poll_worth_seconds": "POLL_WORTH_SECONDS",
    "max_first_wait_seconds": "POLL_MAX_FIRST_WAIT_SECONDS",
    "first_poll_seconds": "POLL_FIRST_SECONDS",
}


class _FromEnv:
    """Building a settings class from the environment, and knowing which variables it reads."""

    @classmethod
    def _read(cls, read: _Reader) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_env(cls: type[S], environ: Mapping[str, str] | None = None) -> S:
        """The settings from ``environ`` (the process's environment by default); one
        :class:`ConfigurationError` naming every variable that is missing or malformed."""
        reader = _Reader(os.environ if environ is None else environ)
        values = cls._read(reader)  # type: ignore[attr-defined]
        reader.raise_errors()
        settings = cls(**values)
        try:
            for policy in (values.get("polling"), values.get("planning")):
                if policy is not None:
                    policy.validate()
        except ValueError as exc:
            raise ConfigurationError(f"POLL_* settings are inconsistent: {exc}") from exc
        return settings

    @classmethod
    def variables(cls) -> frozenset[str]:
        """Every variable this function's settings read: exactly what its template entry sets."""
        reader = _Reader({})
        cls._read(reader)
        return frozenset(reader.names)


@dataclass(frozen=True)
class StoreSettings(_FromEnv):
    """Decode And Store Results: the bucket and table, how long results are kept, the largest
    region accepted."""

    results_bucket: str
    results_table: str
    retention_days: int = 30
    max_region_bytes: int = 10 * 1024 * 1024

    @classmethod
    def _read(cls, read: _Reader) -> dict[str, Any]:
        return {
            **RecordSettings._read(read),
            "max_region_bytes": read.number("MAX_REGION_BYTES", cls.max_region_bytes, int),
        }


@dataclass(frozen=True)
class RecordSettings(_FromEnv):
    """The recording function: the table (and the bucket its outcomes point into)."""

    results_bucket: str
    results_table: str
    retention_days: int = 30

    @classmethod
    def _read(cls, read: _Reader) -> dict[str, Any]:
        return {
            "results_bucket": read.required("RESULTS_BUCKET"),
            "results_table": read.required("RESULTS_TABLE"),
            "retention_days": read.number("RESULTS_RETENTION_DAYS", cls.retention_days, int),
        }


@dataclass(frozen=True)
class CheckSettings(_FromEnv):
    """Check Task Status: the service, its credentials and limits, the polling policy."""

    results_bucket: str
    aspose_secret_name: str
    aspose_base_url: str = DEFAULT_BASE_URL
    aspose_token_url: str = DEFAULT_BASE_URL + "/connect/token"
    #: Fixed, not configured: (connect, read) seconds of each request, and how long the secret
    #: is cached (a refused token reads it again at once).
    connect_timeout_seconds: float = 3.05
    read_timeout_seconds: float = 20.0
    secret_cache_seconds: int = 300
    max_response_bytes: int = 64 * 1024 * 1024
    cancel_on_give_up: bool = False
    polling: PollingPolicy = field(default_factory=PollingPolicy)
    #: Where completed tasks' durations are learnt (None: not learning).
    polling_history_table: str | None = None
    #: The fleet's breaker and budget (:mod:`ocr_fetch.fleet`; None: each task on its own).
    fleet_table: str | None = None
    #: Calls to Aspose per second across the fleet (0: no budget).
    aspose_calls_per_second: float = 0.0
    #: One probe of an open breaker per this many seconds, across the fleet.
    breaker_probe_seconds: float = 30.0

    @classmethod
    def _read(cls, read: _Reader) -> dict[str, Any]:
        base_url = read.url("ASPOSE_BASE_URL", cls.aspose_base_url)
        return {
            "results_bucket": read.required("RESULTS_BUCKET"),
            "aspose_secret_name": read.required("ASPOSE_SECRET_NAME"),
            "aspose_base_url": base_url,
            "aspose_token_url": read.url("ASPOSE_TOKEN_URL", base_url + "/connect/token"),
            "max_response_bytes": read.number("MAX_RESPONSE_BYTES", cls.max_response_bytes, int),
            "cancel_on_give_up": read.flag("CANCEL_ON_GIVE_UP"),
            "polling": read_polling(read),
            "polling_history_table": read.optional("POLLING_HISTORY_TABLE"),
            "fleet_table": read.optional("FLEET_TABLE"),
            "aspose_calls_per_second": read.number(
                "ASPOSE_CALLS_PER_SECOND", cls.aspose_calls_per_second, float
            ),
            "breaker_probe_seconds": read.number(
                "BREAKER_PROBE_SECONDS", cls.breaker_probe_seconds, float
            ),
        }


@dataclass(frozen=True)
class StarterSettings(_FromEnv):
    """The starter: the state machine, the dead letters, the submitted facts, the planner."""

    state_machine_arn: str
    dead_letter_queue_url: str
    results_bucket: str
    #: The start queue's maxReceiveCount (the template's Limits mapping), and where a throttled
    #: event is sent again.
    start_queue_max_receives: int = 5
    start_queue_url: str | None = None
    polling_history_table: str | None = None
    planning: PlanSettings = field(default_factory=PlanSettings)

    @classmethod
    def _read(cls, read: _Reader) -> dict[str, Any]:
        return {
            "state_machine_arn": read.required("STATE_MACHINE_ARN"),
            "dead_letter_queue_url": read.required("DEAD_LETTER_QUEUE_URL"),
            "results_bucket": read.required("RESULTS_BUCKET"),
            "start_queue_max_receives": read.number(
                "START_QUEUE_MAX_RECEIVES", cls.start_queue_max_receives, int
            ),
            "start_queue_url": read.optional("START_QUEUE_URL"),
            "polling_history_table": read.optional("POLLING_HISTORY_TABLE"),
            "planning": read_planning(read, read_polling(read)),
        }


def read_polling(read: _Reader) -> PollingPolicy:
    """The polling policy from its variables, each defaulting to the policy's own default."""
    defaults = PollingPolicy()
    values = {
        name: read.number(variable, getattr(defaults, name), type(getattr(defaults, name)))
        for name, variable in POLLING_VARIABLES.items()
    }
    return PollingPolicy(**values)


def read_planning(read: _Reader, policy: PollingPolicy) -> PlanSettings:
    defaults = PlanSettings()
    values = {
        name: read.number(variable, getattr(defaults, name), type(getattr(defaults, name)))
        for name, variable in PLANNING_VARIABLES.items()
    }
    return PlanSettings(policy=policy, **values)


class _Reader:
    """Reads variables, collecting every problem so one error names them all."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._errors: list[str] = []
        #: Every variable asked for, set or not.
        self.names: set[str] = set()

    def optional(self, name: str) -> str | None:
        self.names.add(name)
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
