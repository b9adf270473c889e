"""Settings of one emulator instance."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

DEFAULT_PORT = 8085
DEFAULT_CLIENT_ID = "local-client"
DEFAULT_CLIENT_SECRET = "local-secret"  # noqa: S105 - a documented local-only default


@dataclass(frozen=True)
class Timing:
    """The clock of the imitation; changeable at runtime through the admin API."""

    queue_delay_s: float = 1.0
    per_region_s: float = 0.5
    token_lifetime_s: float = 3600.0
    retention_s: float = 86400.0
    lockout_s: float = 600.0

    def updated(self, changes: Mapping[str, object]) -> Timing:
        """A copy with `changes` applied; unknown names or negative values raise ValueError."""
        known = {f.name for f in fields(self)}
        values: dict[str, float] = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown timing setting {name!r}; known: {sorted(known)}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a number >= 0")
            values[name] = float(value)
        return replace(self, **values)

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class EmulatorConfig:
    """How to run the emulator. Port 0 picks a free port."""

    host: str = "127.0.0.1"
    port: int = 0
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    timing: Timing = Timing()
    lockout_failures: int = 5
    workers: int = 1
    max_body_bytes: int = 32 * 1024 * 1024
    #: Remember what each distinct region image read as (:class:`~infra.local.emulator.ocr.
    #: MemoRecognizer`): for soaks that submit the same samples many times.
    memo_recognition: bool = False

    def to_json(self) -> str:
        """The whole configuration, for another process (``EMULATOR_CONFIG``)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["timing"] = self.timing.as_dict()
        return json.dumps(values)

    @classmethod
    def from_json(cls, text: str) -> EmulatorConfig:
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError("EMULATOR_CONFIG must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"EMULATOR_CONFIG has unknown settings {sorted(unknown)}")
        timing = Timing().updated(values.pop("timing", {}) or {})
        return cls(timing=timing, **values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmulatorConfig:
        """``EMULATOR_CONFIG`` (JSON, as :meth:`to_json` writes) when set; else PORT,
        CLIENT_ID, CLIENT_SECRET (defaults 8085, local-client, local-secret)."""
        env = os.environ if environ is None else environ
        if env.get("EMULATOR_CONFIG"):
            return cls.from_json(env["EMULATOR_CONFIG"])
        raw_port = env.get("PORT", str(DEFAULT_PORT))
        try:
            port = int(raw_port)
        except ValueError:
            raise ValueError(f"PORT must be an integer, got {raw_port!r}") from None
        return cls(
            port=port,
            client_id=env.get("CLIENT_ID", DEFAULT_CLIENT_ID),
            client_secret=env.get("CLIENT_SECRET", DEFAULT_CLIENT_SECRET),
        )
