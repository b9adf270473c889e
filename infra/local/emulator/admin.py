"""A small client for the emulator's /_emulator admin API, usable from any process."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from infra.stack.waiting import wait_until

# How a fault is targeted; the admin API's own names (see faults.Target).
TARGET_OPTIONS = frozenset(
    ["task_id", "next_tasks", "next_requests", "method", "path", "times", "for_s"]
)


class EmulatorAdminError(RuntimeError):
    """The admin API refused a call; the message carries its ProblemDetails detail."""


class EmulatorAdmin:
    """Arms faults, reads the request log, changes timing and resets an emulator at base_url."""

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def _call(self, verb: str, route: str, body: Any = None, **query: Any) -> Any:
        url = f"{self.base_url}/_emulator/{route}"
        params = {key: value for key, value in query.items() if value is not None}
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is the emulator's own http URL
            url, data=data, method=verb, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            try:
                detail = json.loads(text).get("detail", text)
            except (json.JSONDecodeError, AttributeError):
                detail = text
            raise EmulatorAdminError(f"{verb} {route}: {error.code} {detail}") from None

    def inject(self, fault: str, **options: Any) -> dict[str, Any]:
        """Arm `fault` (see the README for names and params); returns the armed fault.

        The target options are `task_id`, `next_tasks`, `next_requests`, `method`, `path`,
        `times` and `for_s` (armed for that many seconds: alone, every request meanwhile); every
        other keyword is a parameter of the fault (`retry_after=3`, `bytes=...`).
        """
        spec: dict[str, Any] = {"fault": fault, "params": {}}
        for name, value in options.items():
            if name in TARGET_OPTIONS:
                if value is not None:
                    spec[name] = value
            else:
                spec["params"][name] = value
        result: dict[str, Any] = self._call("POST", "faults", spec)
        return result

    def faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "faults")["faults"])

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def requests(
        self, task_id: str | None = None, path: str | None = None, method: str | None = None
    ) -> list[dict[str, Any]]:
        """Logged requests (method, path, task_id, time, status, faults), oldest first."""
        return list(
            self._call("GET", "requests", task_id=task_id, path=path, method=method)["requests"]
        )

    def clear_requests(self) -> None:
        """Forget the request log (a measurement starts from here)."""
        self._call("DELETE", "requests")

    def requests_for(self, task_id: str) -> list[dict[str, Any]]:
        """Every request that named `task_id`: its submit, polls and cancel."""
        return self.requests(task_id=task_id)

    def tasks(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "tasks")["tasks"])

    def task(self, task_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"tasks/{urllib.parse.quote(task_id)}")
        return result

    def results(self, task_id: str) -> list[dict[str, str]] | None:
        """The result entries the task recognised (``type``, Base64 ``data``), before any
        response fault; None while it has none (not yet recognised, Error, stuck)."""
        answer = self._call("GET", f"tasks/{urllib.parse.quote(task_id)}/results")
        results = answer.get("results")
        return None if results is None else [dict(entry) for entry in results]

    def timing(self) -> dict[str, float]:
        return dict(self._call("GET", "timing"))

    def set_timing(self, **changes: float) -> dict[str, float]:
        """Change queue_delay_s, per_region_s, token_lifetime_s, retention_s or lockout_s."""
        return dict(self._call("PUT", "timing", changes))

    def issued_tokens(self) -> list[str]:
        """Every bearer token the emulator has issued (to scan outputs for leaks)."""
        return list(self._call("GET", "tokens")["tokens"])

    def rotate_secret(self, client_secret: str) -> None:
        """Accept only ``client_secret`` from now on, as a rotated secret is."""
        self._call("PUT", "credentials", {"client_secret": client_secret})

    def revoke_tokens(self) -> None:
        self._call("POST", "tokens/revoke")

    def reset(self) -> None:
        """Forget tasks, faults, the request log and lockouts; restore the configured timing."""
        self._call("POST", "reset")

    def health(self) -> dict[str, Any]:
        """``{"ok": true, "recognizer": <its class name>}`` while the emulator answers."""
        answer: dict[str, Any] = self._call("GET", "health")
        return answer

    def wait_until_up(self, deadline_s: float = 10.0) -> None:
        """Return once the emulator answers its health check; WaitTimeout after the deadline."""

        def healthy() -> bool:
            self.health()
            return True

        wait_until(
            healthy,
            timeout=deadline_s,
            what=f"the emulator at {self.base_url}",
            every=0.05,
            ignore=(urllib.error.URLError, ConnectionError),
        )
