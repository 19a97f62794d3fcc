"""A plain ``gevent.pywsgi`` server with a greenserver application.

    python wsgi_server.py --port 8000

Each request runs in a fresh greenlet; the application, started once before
serving, outlives them all. SIGTERM or Ctrl-C stops it cleanly (each
``terminate`` runs), then the process ends as the signal asks.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from counter_app import Counter, counter_app
from gevent.pywsgi import WSGIServer

import greenserver as gs

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    try:
        counter_app()
        if environ["PATH_INFO"] == "/crash":
            Counter.crash()
        body = {"worker": os.getpid(), "count": Counter.increment()}
    except (gs.CallError, gs.StartError) as exc:
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [f"{type(exc).__name__}: {exc}\n".encode()]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    args = parser.parse_args()
    counter_app()
    server = WSGIServer(("127.0.0.1", args.port), application, log=None)
    server.start()
    print(f"listening on 127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
