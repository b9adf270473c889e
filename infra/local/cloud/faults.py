"""Faults the local cloud injects on AWS's side, armed by tests through one interface.

``cloud.faults.inject(kind, target=..., times=N, **params)`` arms a fault for the next ``times``
matching events; each one that hits is used up. The Aspose emulator's faults (the service's side)
are of the same design (``infra.local.faults``): ``aspose.admin.inject(fault, task_id=...,
times=N, **params)``. Both are listed in ``infra/local/cloud/README.md``.

Lambda faults (``target`` is a function's name or logical id, resolved by the cloud):

- ``lambda_timeout``: the invocation runs past the function's ``Timeout`` and is killed
  (``Sandbox.Timedout``); ``at="start"`` (default) before the handler, ``at="end"`` after it did
  its work but before it answered.
- ``lambda_crash``: the runtime process exits (``Runtime.ExitError``), ``at`` as above.
- ``lambda_oom``: the process grows past the function's ``MemorySize`` and is killed
  (``Runtime.OutOfMemory``).
- ``lambda_throttle``: ``Invoke`` answers HTTP 429 ``TooManyRequestsException``.

AWS API faults (``target`` is ``"<service>:<Operation>"``, e.g. ``"dynamodb:UpdateItem"``,
``"s3:PutObject"``, ``"events:PutEvents"``, ``"secretsmanager:GetSecretValue"``; ``"*"`` in either
part matches any):

- ``aws_error``: the call fails with ``code`` (default ``InternalFailure``) and HTTP ``status``
  (default 500), in the service's own error format, as a throttled or failing service answers.
- ``events_failed_entry``: ``PutEvents`` answers 200 with every entry failed (``ErrorCode``
  ``code``, default ``InternalFailure``), as EventBridge reports a transient failure.

Every fault takes ``match``: it then fires only for an invocation or request whose payload (for an
API call, its path and body) contains that text (a task id, say), so concurrent scenarios each get
their own faults.
"""

from __future__ import annotations

import io
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.local.cloud.iam_calls import CallLog, SignedRequest, credential_scope
from infra.local.faults import Fault, FaultRegistry

LAMBDA_FAULTS = frozenset({"lambda_timeout", "lambda_crash", "lambda_oom", "lambda_throttle"})
AWS_FAULTS = frozenset({"aws_error", "events_failed_entry"})
KINDS = LAMBDA_FAULTS | AWS_FAULTS


@dataclass
class AwsFault(Fault):
    """A fault armed in the local cloud, aimed at a function (its name or logical id) or an API
    operation (``"<service>:<Operation>"``, ``*`` in either part matching any)."""

    target: str = ""

    def aims_at(self, kinds: frozenset[str], targets: tuple[str, ...], text: str) -> bool:
        """Whether it hits an event of one of ``kinds`` at one of ``targets``, whose payload is
        ``text`` (its ``match``, when it has one, must be in it)."""
        if self.kind not in kinds or not _matches(self.target, targets):
            return False
        return "match" not in self.params or str(self.params["match"]) in text


class Faults(FaultRegistry[AwsFault]):
    """The armed faults of the local cloud; the runtime and the API layer take from it."""

    def inject(self, kind: str, *, target: str, times: int = 1, **params: Any) -> AwsFault:
        """Arm ``kind`` for the next ``times`` events matching ``target``."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(sorted(KINDS))}")
        if not isinstance(times, int) or times < 1:
            raise ValueError("times must be a positive integer")
        if kind in AWS_FAULTS and target.count(":") != 1:
            raise ValueError(f"{kind} targets '<service>:<Operation>', got {target!r}")
        if kind in {"lambda_timeout", "lambda_crash"} and params.get("at", "start") not in {
            "start",
            "end",
        }:
            raise ValueError("at must be 'start' or 'end'")
        return self.arm(AwsFault(kind, dict(params), times, target=target))

    def hit(
        self,
        kinds: frozenset[str],
        targets: tuple[str, ...],
        payload: Callable[[], str] | None = None,
    ) -> AwsFault | None:
        """Use up one hit of the oldest armed fault of ``kinds`` aimed at any of ``targets``
        (and, for a fault with ``match``, whose text is in ``payload()``, read only then and
        outside the registry's lock: it may be a request body still arriving)."""
        wanted = payload is not None and any(
            f.kind in kinds and "match" in f.params for f in self.armed()
        )
        text = payload() if wanted and payload is not None else ""
        taken = self.take(lambda f: f.aims_at(kinds, targets, text), limit=1)
        return taken[0] if taken else None


def _matches(pattern: str, targets: tuple[str, ...]) -> bool:
    if pattern in targets:
        return True
    if ":" not in pattern:
        return False
    service, operation = pattern.split(":", 1)
    for target in targets:
        got_service, _, got_operation = target.partition(":")
        if service in ("*", got_service) and operation in ("*", got_operation):
            return True
    return False


# --- AWS API faults, in front of the local AWS ------------------------------------------------
_ADMIN_PATH = "/_localcloud/faults"
_S3_OPERATIONS = {
    ("PUT", True): "PutObject",
    ("GET", True): "GetObject",
    ("HEAD", True): "HeadObject",
    ("DELETE", True): "DeleteObject",
    ("GET", False): "ListObjects",
    ("PUT", False): "CreateBucket",
    ("HEAD", False): "HeadBucket",
}


def signed_request(environ: dict[str, Any]) -> SignedRequest:
    """What a WSGI request shows of the AWS call it is (the body read only when asked for)."""
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    headers["content-type"] = str(environ.get("CONTENT_TYPE", ""))
    # WSGI gives the path percent-decoded, as Latin-1 characters standing for its bytes.
    path = str(environ.get("PATH_INFO", "")).encode("latin-1").decode("utf-8", errors="replace")
    return SignedRequest(
        method=str(environ.get("REQUEST_METHOD", "")),
        path=path,
        query=str(environ.get("QUERY_STRING", "")),
        headers=headers,
        body=lambda: _body_bytes(environ),
    )


def operation_of(environ: dict[str, Any]) -> str:
    """``"<service>:<Operation>"`` of a signed AWS request, as far as the request shows it."""
    scope = credential_scope(signed_request(environ))
    service = scope.service if scope is not None else ""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    path = str(environ.get("PATH_INFO", ""))
    method = str(environ.get("REQUEST_METHOD", ""))
    if service == "s3":
        has_key = len(path.strip("/").split("/", 1)) == 2  # path style: /bucket/key
        return f"s3:{_S3_OPERATIONS.get((method, has_key), method)}"
    if service == "lambda" and path.endswith("/invocations"):
        return "lambda:Invoke"
    return f"{service}:{method}"


class FaultInjectingApp:
    """WSGI layer in front of the local AWS: records each call in ``calls`` (who asked for which
    action on which resources), fails calls that an ``aws_error`` fault targets, in the service's
    own error format, and serves the fault registry at ``/_localcloud/faults`` (``GET`` lists,
    ``POST {"kind", "target", "times", "params"}`` arms, ``DELETE`` clears) for tools outside
    this process."""

    def __init__(self, app: Any, faults: Faults, calls: CallLog | None = None) -> None:
        self._app = app
        self._faults = faults
        self._calls = calls

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if str(environ.get("PATH_INFO", "")).startswith(_ADMIN_PATH):
            return self._admin(environ, start_response)
        if self._calls is not None:  # a call failed by a fault was made all the same
            self._calls.observe(signed_request(environ))
        operation = operation_of(environ)
        fault = self._faults.hit(AWS_FAULTS, (operation,), lambda: _request_text(environ))
        if fault is None:
            return self._app(environ, start_response)
        if fault.kind == "events_failed_entry":
            return _failed_entries(fault, _read_body(environ), start_response)
        return _error_response(operation, fault, start_response)

    def _admin(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        method = environ.get("REQUEST_METHOD")
        status, body = "200 OK", None
        try:
            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                request = json.loads(environ["wsgi.input"].read(length) or b"{}")
                fault = self.inject_from_json(request)
                status, body = "201 Created", fault.to_json()
            elif method == "DELETE":
                self._faults.clear()
                body = {"faults": []}
            else:
                body = {"faults": [f.to_json() for f in self._faults.armed()]}
        except (ValueError, TypeError, KeyError) as error:
            status, body = "400 Bad Request", {"error": str(error)}
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json")])
        return [data]

    def inject_from_json(self, request: dict[str, Any]) -> AwsFault:
        params = request.get("params") or {}
        if not isinstance(params, dict):
            raise TypeError("params must be an object")
        return self._faults.inject(
            str(request["kind"]),
            target=str(request["target"]),
            times=int(request.get("times", 1)),
            **params,
        )


def _request_text(environ: dict[str, Any]) -> str:
    """What ``match`` looks in: the path (an S3 key holds the task id) and the body."""
    where = f"{environ.get('PATH_INFO', '')}?{environ.get('QUERY_STRING', '')}"
    return f"{urllib.parse.unquote(where)}\n{_read_body(environ)}"


def _read_body(environ: dict[str, Any]) -> str:
    return _body_bytes(environ).decode("utf-8", errors="replace")


def _body_bytes(environ: dict[str, Any]) -> bytes:
    """The request body, read once and put back for the application behind."""
    cached = environ.get("localcloud.body")
    if cached is None:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        cached = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(cached)
        environ["localcloud.body"] = cached
    return bytes(cached)


def _failed_entries(fault: AwsFault, body: str, start_response: Any) -> list[bytes]:
    try:
        count = len(json.loads(body).get("Entries", []))
    except (ValueError, AttributeError):
        count = 1
    code = str(fault.params.get("code", "InternalFailure"))
    answer = {
        "FailedEntryCount": count,
        "Entries": [
            {"ErrorCode": code, "ErrorMessage": f"injected by the local cloud (fault {fault.id})"}
        ]
        * count,
    }
    data = json.dumps(answer).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))],
    )
    return [data]


def _error_response(operation: str, fault: AwsFault, start_response: Any) -> list[bytes]:
    code = str(fault.params.get("code", "InternalFailure"))
    status = int(fault.params.get("status", 500))
    message = f"injected by the local cloud (fault {fault.id})"
    reason = _REASONS.get(status, "Error")
    if operation.startswith("s3:"):
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>fault-{fault.id}</RequestId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml")]
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{status} {reason}", headers)
    return [body]


_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
