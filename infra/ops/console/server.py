"""The console's HTTP server: 127.0.0.1 only, GET and HEAD only, one stack's session.

``/`` lists the executions (``?q=`` a task id or part of one, ``?status=``, ``?limit=``);
``/executions/<name>`` shows one. Anything else is a 404, any other method a 405. Requests whose
``Host`` is not this address are refused (a page elsewhere cannot read the console through DNS
rebinding), and every answer forbids scripts, framing and caching.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import parse_qs, unquote, urlsplit

from infra.ops.console import model, pages
from infra.ops.console.markup import Html
from infra.stack.serving import HOST, Running, ServerThread
from infra.stack.session import StackSession

#: Step Functions' execution names: 1 to 80 of these characters.
_EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_EXECUTION_PATH = "/executions/"
_SECURITY_HEADERS = {
    "Content-Security-Policy": pages.CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, session: StackSession, verbose: bool) -> None:
        super().__init__((HOST, port), _Handler)
        self.session = session
        self.verbose = verbose
        bound = self.server_address[1]
        self.hosts = {f"{HOST}:{bound}", f"localhost:{bound}"}


class ConsoleServer(Running):
    """The console of one stack, served from a thread of its own until :meth:`stop`."""

    def __init__(self, session: StackSession, port: int = 0, *, verbose: bool = False) -> None:
        self._serving = ServerThread(_Server(port, session, verbose), "console")

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._serving.server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._serving.port}/"

    def _start(self) -> None:
        self._serving.start()

    def _stop(self) -> None:
        self._serving.stop()


class _Handler(BaseHTTPRequestHandler):
    server_version = "ocr-results-console"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _refuse(self) -> None:
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED,
            self._error_page(
                HTTPStatus.METHOD_NOT_ALLOWED, "The console is read-only: GET and HEAD only."
            ),
            with_body=True,
            extra={"Allow": "GET, HEAD"},
        )

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse

    @property
    def _console(self) -> _Server:
        return cast(_Server, self.server)

    def _answer(self, *, with_body: bool) -> None:
        host = self.headers.get("Host")
        if host is not None and host.lower() not in self._console.hosts:
            status, body = (
                HTTPStatus.FORBIDDEN,
                self._error_page(
                    HTTPStatus.FORBIDDEN, f"This console answers to {HOST} and localhost only."
                ),
            )
        else:
            status, body = self._page()
        self._send(status, body, with_body=with_body)

    def _page(self) -> tuple[HTTPStatus, Html]:
        now = datetime.now(UTC)
        url = urlsplit(self.path)
        try:
            if url.path == "/":
                search = model.Search.parse(parse_qs(url.query, keep_blank_values=True))
                listing = model.recent(self._console.session, search)
                return HTTPStatus.OK, pages.listing_page(listing, search, now)
            if url.path.startswith(_EXECUTION_PATH):
                return self._execution(unquote(url.path.removeprefix(_EXECUTION_PATH)), now)
        except model.BadQuery as error:
            return HTTPStatus.BAD_REQUEST, self._error_page(HTTPStatus.BAD_REQUEST, str(error))
        except Exception as error:  # the stack did not answer: say so on the page, and here
            print(f"console: {self.path}: {type(error).__name__}: {error}", file=sys.stderr)
            return HTTPStatus.BAD_GATEWAY, self._error_page(
                HTTPStatus.BAD_GATEWAY,
                f"The stack did not answer: {type(error).__name__}: {error}",
            )
        return HTTPStatus.NOT_FOUND, self._error_page(
            HTTPStatus.NOT_FOUND, f"There is no page at {url.path}."
        )

    def _execution(self, name: str, now: datetime) -> tuple[HTTPStatus, Html]:
        found = model.detail(self._console.session, name) if _EXECUTION_NAME.match(name) else None
        if found is None:
            return HTTPStatus.NOT_FOUND, self._error_page(
                HTTPStatus.NOT_FOUND,
                f"The state machine has no execution named “{name}”. Search the list for the "
                "task id: a task's executions are named after it.",
            )
        return HTTPStatus.OK, pages.detail_page(found, now)

    def _error_page(self, status: HTTPStatus, message: str) -> Html:
        return pages.error_page(status.value, status.phrase, message, datetime.now(UTC))

    def _send(
        self,
        status: HTTPStatus,
        body: Html,
        *,
        with_body: bool,
        extra: dict[str, str] | None = None,
    ) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in {**_SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        if self._console.verbose:
            super().log_message(format, *args)
