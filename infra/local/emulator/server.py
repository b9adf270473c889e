"""The HTTP face of the emulator: Aspose.OCR Cloud v5.0 region endpoints and /_emulator admin."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import socket
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from infra.local.emulator.auth import Issued, TokenIssuer
from infra.local.emulator.config import EmulatorConfig, Timing
from infra.local.emulator.endpoint import TOKEN_PATH, Endpoint
from infra.local.emulator.faults import (
    REQUEST_FAULTS,
    STATE_FAULTS,
    AsposeFault,
    FaultBook,
    FaultSpecError,
    Target,
)
from infra.local.emulator.ocr import MemoRecognizer, RapidOcrRecognizer, Recognizer
from infra.local.emulator.replies import Call, Reply, json_reply, problem
from infra.local.emulator.request_faults import answer_with_fault
from infra.local.emulator.tasks import (
    COMPLETED,
    ERROR,
    NOT_EXIST,
    Task,
    TaskQueue,
    describe,
    response_code,
)
from infra.local.emulator.validation import ValidationError, parse_submission
from infra.stack.serving import ServerThread

logger = logging.getLogger(__name__)

REGIONS_PATH = "/v5.0/ocr/recognizeregions"
STATUS_PATH = "/v5.0/ocr/utilities/gettaskstatus"
ADMIN_PREFIX = "/_emulator"
_REQUEST_LOG_LIMIT = 100_000


@dataclass
class _AdminCall:
    """One request to the admin API: the route under /_emulator, single-valued query, JSON body."""

    method: str
    path: str
    route: str
    query: dict[str, str]
    payload: dict[str, Any]


def _unauthorised(path: str) -> Reply:
    reply = problem(401, "A valid, unexpired bearer token is required.", path)
    reply.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return reply


def _missing_id(path: str) -> Reply:
    return problem(400, "The id query parameter is required.", path, {"id": ["required"]})


def _admin_not_found(call: _AdminCall) -> Reply:
    return problem(404, f"No admin endpoint {call.method} {call.path}.", call.path)


class Emulator:
    """The state of one emulated service: tokens, tasks, faults, and the request log."""

    def __init__(self, config: EmulatorConfig, recognizer: Recognizer) -> None:
        self.config = config
        inner = recognizer.inner if isinstance(recognizer, MemoRecognizer) else recognizer
        self.recognizer_name = type(inner).__name__
        self.timing = config.timing
        self.tokens = TokenIssuer(config.client_id, config.client_secret, config.lockout_failures)
        self.queue = TaskQueue(recognizer, workers=config.workers)
        self.faults = FaultBook()
        self._log_lock = threading.Lock()
        self._log: deque[dict[str, Any]] = deque(maxlen=_REQUEST_LOG_LIMIT)
        # (lower-case path, method) -> endpoint, once the bearer token has been checked.
        self._ocr_routes: dict[tuple[str, str], Callable[[Call], Reply]] = {
            (REGIONS_PATH, "POST"): self._submit,
            (REGIONS_PATH, "GET"): self._fetch,
            (REGIONS_PATH, "DELETE"): self._cancel,
            (STATUS_PATH, "GET"): self._status,
        }
        # route under /_emulator ("tasks/*" for one task) -> handler; each checks its methods.
        self._admin_routes: dict[str, Callable[[_AdminCall], Reply]] = {
            "health": self._admin_health,
            "timing": self._admin_timing,
            "faults": self._admin_faults,
            "requests": self._admin_requests,
            "tasks": self._admin_tasks,
            "tasks/*": self._admin_task,
            "tasks/*/results": self._admin_task_results,
            "reset": self._admin_reset,
            "tokens/revoke": self._admin_revoke,
            "tokens": self._admin_tokens,
            "credentials": self._admin_credentials,
        }

    # ----- entry point -------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Reply:
        url = urllib.parse.urlsplit(raw_path)
        path = url.path.rstrip("/") or "/"
        query = urllib.parse.parse_qs(url.query)
        if path.startswith(ADMIN_PREFIX):
            return self._admin(method, path, query, body)
        ids = query.get("id")
        call = Call(method, path, headers, body, task_id=ids[0] if ids else None)
        started = time.time()
        reply = self._answer(call)
        entry = {
            "method": method,
            "path": path,
            "task_id": call.task_id,
            "time": started,
            "status": None if reply.drop else reply.status,
            "faults": call.faults,
            "duration_s": round(time.time() - started, 4),
            # What the client was told of the task: a truncated answer never arrived whole.
            "answer": None if "truncate" in call.faults else call.answer,
        }
        with self._log_lock:
            self._log.append(entry)
        return reply

    def _answer(self, call: Call) -> Reply:
        """The answer to `call`, through the request fault (at most one) that hits it."""
        hits = self.faults.hitting(REQUEST_FAULTS, call.method, call.path, call.task_id, limit=1)
        if not hits:
            return self._route(call)
        call.faults.append(hits[0].kind)
        return answer_with_fault(hits[0], call, lambda: self._route(call))

    def _route(self, call: Call) -> Reply:
        if call.lowered == TOKEN_PATH:
            return (
                self._token(call) if call.method == "POST" else problem(405, "Use POST.", call.path)
            )
        if call.lowered not in (REGIONS_PATH, STATUS_PATH):
            return problem(404, f"No endpoint at {call.path}.", call.path)
        if not self._authorised(call.headers):
            return _unauthorised(call.path)
        endpoint = self._ocr_routes.get((call.lowered, call.method))
        if endpoint is None:
            return problem(405, f"{call.method} is not allowed on {call.path}.", call.path)
        return endpoint(call)

    # ----- endpoints ---------------------------------------------------------------------
    def _token(self, call: Call) -> Reply:
        form = urllib.parse.parse_qs(call.body.decode("utf-8", "replace"))
        grant = (form.get("grant_type") or [""])[0]
        client_id = (form.get("client_id") or [""])[0]
        client_secret = (form.get("client_secret") or [""])[0]
        basic = call.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(basic[6:].strip(), validate=True).decode()
                client_id, _, client_secret = decoded.partition(":")
            except (binascii.Error, UnicodeDecodeError):
                pass
        if grant != "client_credentials":
            return json_reply(400, {"error": "unsupported_grant_type"})
        timing = self.timing
        outcome = self.tokens.issue(
            client_id, client_secret, timing.token_lifetime_s, timing.lockout_s
        )
        if isinstance(outcome, Issued):
            return json_reply(
                200,
                {
                    "access_token": outcome.access_token,
                    "expires_in": outcome.expires_in,
                    "token_type": "Bearer",
                },
            )
        document = {"error": outcome.error, "error_description": outcome.description}
        if outcome.retry_after is not None:
            reply = json_reply(429, document)
            reply.headers["Retry-After"] = str(outcome.retry_after)
            return reply
        return json_reply(400, document)

    def _authorised(self, headers: dict[str, str]) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.tokens.is_valid(token.strip())

    def _submit(self, call: Call) -> Reply:
        try:
            submission = parse_submission(call.body)
        except ValidationError as error:
            return problem(400, error.message, call.path, {error.field: [error.message]})
        timing = self.timing
        self.queue.purge(timing.retention_s)
        task = self.queue.submit(submission, timing.queue_delay_s, timing.per_region_s)
        for fault in self.faults.bind_new_task(task.id):
            if fault.kind in STATE_FAULTS:
                self._apply_state_fault(task, fault)
        self.queue.start(task)
        call.task_id = task.id  # the submit is logged with the new task's id
        return Reply(200, task.id.encode(), "text/plain; charset=utf-8")

    def _cancel(self, call: Call) -> Reply:
        if not call.task_id:
            return _missing_id(call.path)
        task = self.queue.get(call.task_id)
        if task is not None:
            task.cancelled = True
        return Reply(200)

    def _fetch(self, call: Call) -> Reply:
        return self._ocr_response(call, with_results=True)

    def _status(self, call: Call) -> Reply:
        return self._ocr_response(call, with_results=False)

    def _ocr_response(self, call: Call, *, with_results: bool) -> Reply:
        task_id = call.task_id
        if not task_id:
            return _missing_id(call.path)
        task = self.queue.get(task_id)
        status = (
            NOT_EXIST if task is None else task.status(self.queue.now(), self.timing.retention_s)
        )
        document: dict[str, Any] = {
            "id": task_id,
            "taskStatus": status,
            "responseStatusCode": response_code(status),
            "results": None,
            "error": None,
        }
        if task is not None and status == COMPLETED and with_results:
            document["results"] = [dict(entry) for entry in task.results or []]
        if task is not None and status == ERROR:
            document["error"] = task.error_document()
        kinds = {"unknown_status", "response_code"}
        if document["results"] is not None:
            kinds |= {"corrupt_base64", "result_count"}
        for fault in self.faults.hitting(frozenset(kinds), call.method, call.path, task_id):
            call.faults.append(fault.kind)
            _apply_response_fault(document, fault)
        call.answer = str(document["taskStatus"])
        return json_reply(200, document)

    # ----- admin ---------------------------------------------------------------------------
    def _admin(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Reply:
        try:
            payload: Any = json.loads(body) if body.strip() else {}
        except json.JSONDecodeError:
            return problem(400, "The admin request body must be JSON.", path)
        if not isinstance(payload, dict):
            return problem(400, "The admin request body must be a JSON object.", path)
        route = path.removeprefix(ADMIN_PREFIX).strip("/")
        one = {key: values[0] for key, values in query.items()}
        call = _AdminCall(method, path, route, one, payload)
        key = route
        if route.startswith("tasks/"):
            key = "tasks/*/results" if route.endswith("/results") else "tasks/*"
        return self._admin_routes.get(key, _admin_not_found)(call)

    def _admin_health(self, call: _AdminCall) -> Reply:
        if call.method != "GET":
            return _admin_not_found(call)
        return json_reply(200, {"ok": True, "recognizer": self.recognizer_name})

    def _admin_timing(self, call: _AdminCall) -> Reply:
        if call.method in ("PUT", "POST", "PATCH"):
            try:
                self.timing = self.timing.updated(call.payload)
            except ValueError as error:
                return problem(400, str(error), call.path)
        return json_reply(200, self.timing.as_dict())

    def _admin_faults(self, call: _AdminCall) -> Reply:
        if call.method == "POST":
            return self._inject(call.payload, call.path)
        if call.method == "DELETE":
            self.faults.clear()
        return json_reply(200, {"faults": [f.to_json() for f in self.faults.armed()]})

    def _admin_requests(self, call: _AdminCall) -> Reply:
        if call.method == "DELETE":
            with self._log_lock:
                self._log.clear()
        return json_reply(200, {"requests": self.requests(**call.query)})

    def _admin_tasks(self, call: _AdminCall) -> Reply:
        if call.method != "GET":
            return _admin_not_found(call)
        now, retention = self.queue.now(), self.timing.retention_s
        return json_reply(200, {"tasks": [describe(t, now, retention) for t in self.queue.all()]})

    def _admin_task(self, call: _AdminCall) -> Reply:
        if call.method != "GET":
            return _admin_not_found(call)
        task = self.queue.get(call.route.removeprefix("tasks/"))
        if task is None:
            return problem(404, "No such task.", call.path)
        return json_reply(200, describe(task, self.queue.now(), self.timing.retention_s))

    def _admin_task_results(self, call: _AdminCall) -> Reply:
        """What the task recognised, per result entry, as a Completed answer carries it before
        any response fault: the ground truth a soak checks stored bytes against (``null`` while
        not recognised, or for a task whose recognition never ran: Error, stuck)."""
        if call.method != "GET":
            return _admin_not_found(call)
        task = self.queue.get(call.route.removeprefix("tasks/").removesuffix("/results"))
        if task is None:
            return problem(404, "No such task.", call.path)
        results = None if task.results is None else [dict(entry) for entry in task.results]
        return json_reply(200, {"id": task.id, "results": results})

    def _admin_reset(self, call: _AdminCall) -> Reply:
        if call.method != "POST":
            return _admin_not_found(call)
        self.reset()
        return json_reply(200, {"ok": True})

    def _admin_tokens(self, call: _AdminCall) -> Reply:
        """Every token issued so far (for a test that scans outputs for leaked tokens)."""
        if call.method != "GET":
            return _admin_not_found(call)
        return json_reply(200, {"tokens": self.tokens.issued()})

    def _admin_credentials(self, call: _AdminCall) -> Reply:
        """Rotate the client secret: ``PUT {"client_secret": "..."}``; tokens issued stay valid."""
        if call.method != "PUT":
            return _admin_not_found(call)
        secret = call.payload.get("client_secret")
        if not isinstance(secret, str) or not secret:
            return problem(400, "client_secret must be a non-empty string.", call.path)
        self.tokens.rotate_secret(secret)
        return json_reply(200, {"ok": True})

    def _admin_revoke(self, call: _AdminCall) -> Reply:
        if call.method != "POST":
            return _admin_not_found(call)
        self.tokens.revoke_all()
        return json_reply(200, {"ok": True})

    def _inject(self, spec: dict[str, Any], path: str) -> Reply:
        spec = dict(spec)
        kind = spec.pop("fault", None)
        params = spec.pop("params", None) or {}
        unknown = set(spec) - set(Target.names())
        if not isinstance(kind, str) or unknown or not isinstance(params, dict):
            detail = "Body: {fault, params?, " + ", ".join(sorted(Target.names())) + "}"
            if unknown:
                detail += f"; unknown member(s) {sorted(unknown)}"
            return problem(400, detail, path)
        try:
            fault = FaultBook.build(kind, params, Target.from_spec(spec))
        except FaultSpecError as error:
            return problem(400, str(error), path)
        if fault.task_id is not None:
            task = self.queue.get(fault.task_id)
            if task is None:
                return problem(404, f"No task {fault.task_id}.", path)
            if fault.kind in STATE_FAULTS:
                self._apply_state_fault(task, fault)
                return json_reply(201, fault.to_json())
        self.faults.arm(fault)
        return json_reply(201, fault.to_json())

    def _apply_state_fault(self, task: Task, fault: AsposeFault) -> None:
        if fault.kind == "error":
            task.error_messages = list(fault.params["messages"])
        elif fault.kind == "stuck":
            task.stuck = True
        elif fault.kind == "expire":
            bound_at = self.queue.now() - task.submitted
            task.expire_after_s = bound_at + float(fault.params["after_s"])

    def requests(
        self, task_id: str | None = None, path: str | None = None, method: str | None = None
    ) -> list[dict[str, Any]]:
        """The logged OCR and token requests, oldest first, optionally filtered."""
        with self._log_lock:
            entries = list(self._log)
        return [
            e
            for e in entries
            if (task_id is None or e["task_id"] == task_id)
            and (path is None or str(e["path"]).lower().startswith(path.lower()))
            and (method is None or e["method"] == method.upper())
        ]

    def reset(self) -> None:
        """Forget tasks, faults, logs and lockouts; timing back to the configured values."""
        self.queue.clear()
        self.faults.clear()
        self.tokens.reset_lockouts()
        with self._log_lock:
            self._log.clear()
        self.timing = self.config.timing


def _apply_response_fault(document: dict[str, Any], fault: AsposeFault) -> None:
    if fault.kind == "unknown_status":
        document["taskStatus"] = fault.params["value"]
    elif fault.kind == "response_code":
        document["responseStatusCode"] = fault.params["value"]
    elif fault.kind == "corrupt_base64":
        indexes = fault.params["indexes"]
        for index, entry in enumerate(document["results"]):
            if indexes is not None and index not in indexes:
                continue
            # '%' is outside the alphabet (strict decoders fail) and the symbols left once a
            # lenient decoder drops it are one more than a multiple of four (lenient ones fail).
            data = entry["data"].rstrip("=")
            entry["data"] = "%" + data + "A" * ((1 - len(data)) % 4) + "%"
    elif fault.kind == "result_count":
        results: list[dict[str, str]] = document["results"]
        count = fault.params["count"]
        if count is None:
            count = max(0, len(results) - 1) if results else 1
        filler = results[-1] if results else {"type": "Text", "data": ""}
        document["results"] = (results + [dict(filler) for _ in range(count)])[:count]


def _bodyless(status: int) -> bool:
    """1xx, 204 and 304 answers end with their headers (RFC 9110 6.4.1)."""
    return status < 200 or status in (204, 304)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AsposeOcrCloudEmulator/1.0"
    server: _HTTPServer

    def _serve(self) -> None:
        emulator = self.server.emulator
        length = int(self.headers.get("Content-Length") or 0)
        if length > emulator.config.max_body_bytes:
            self._send(problem(413, "The request body is too large.", self.path))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length > 0 else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        try:
            reply = emulator.handle(self.command, self.path, headers, body)
        except Exception:  # a bug here must not kill the server thread silently
            logger.exception("request failed", extra={"path": self.path})
            reply = problem(500, "The emulator failed to answer.", self.path)
        if reply.drop:
            self._hang_up()
            return
        try:
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading: its right
            self.close_connection = True
            return
        if reply.close:
            self._hang_up()

    def _hang_up(self) -> None:
        """Close the connection now: no (further) answer on it."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        chunked = self._send_framing(reply)
        self.end_headers()
        if self.command == "HEAD" or _bodyless(reply.status):
            return
        self.wfile.write(reply.body)
        for chunk in reply.stream or ():
            if chunked and chunk:
                self.wfile.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            elif chunk:
                self.wfile.write(chunk)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _send_framing(self, reply: Reply) -> bool:
        """Send Content-Length or Transfer-Encoding; True when the body goes chunked."""
        if _bodyless(reply.status):
            return False
        if reply.stream is not None and reply.length is None:
            self.send_header("Transfer-Encoding", "chunked")
            return True
        length = reply.length if reply.length is not None else len(reply.body)
        self.send_header("Content-Length", str(length))
        return False

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("http %s", format % args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)


class EmulatorServer(Endpoint):
    """An Aspose.OCR Cloud v5.0 imitation on a local port; `with EmulatorServer() as s: ...`."""

    def __init__(
        self, config: EmulatorConfig | None = None, recognizer: Recognizer | None = None
    ) -> None:
        self.config = config or EmulatorConfig()
        self.recognizer: Recognizer = recognizer or RapidOcrRecognizer()
        if self.config.memo_recognition:
            self.recognizer = MemoRecognizer(self.recognizer)
        self.emulator = Emulator(self.config, self.recognizer)
        self._serving: ServerThread | None = None

    def _start(self) -> None:
        server = _HTTPServer((self.config.host, self.config.port), self.emulator)
        self._serving = ServerThread(server, "aspose-emulator", poll_interval=0.1)
        self._serving.start()
        logger.info("emulator listening", extra={"base_url": self.base_url})

    def _stop(self) -> None:
        serving, self._serving = self._serving, None
        if serving is None:
            return
        serving.stop()
        self.emulator.queue.shutdown()

    def serve_forever(self) -> None:
        """Block until stopped (Ctrl-C raises KeyboardInterrupt in the caller)."""
        if self._serving is None:
            raise RuntimeError("start() the server first")
        self._serving.wait()

    @property
    def port(self) -> int:
        if self._serving is None:
            raise RuntimeError("the emulator is not running")
        return self._serving.port

    @property
    def timing(self) -> Timing:
        return self.emulator.timing
