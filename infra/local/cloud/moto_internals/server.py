"""moto served with a WSGI layer in front of it (the local cloud's faults and its record of every
call): ``ThreadedMotoServer`` takes no middleware."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


# --- the server ----------------------------------------------------------------------------------
def make_moto_server(host: str, port: int, wrap: Callable[[Any], Any]) -> Any:
    """A threaded werkzeug server serving moto's dispatcher wrapped by ``wrap(app)``.

    The same pieces ``ThreadedMotoServer`` assembles, which offers no way to add a WSGI layer.
    """
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    return make_server(host, port, wrap(app), threaded=True, request_handler=MotoRequestHandler)
