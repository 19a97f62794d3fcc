"""A live web page of the running node, as Erlang's observer: ``gs.observer.serve()``.

The node serves the page itself, from gevent's WSGI server on 127.0.0.1:
its supervision trees, a sortable, paged table of every process (pid, name,
class or function, status, mailbox length, messages in and per second, a
memory estimate, links, monitors), one process in detail (a behaviour's
state through ``sys``), and the system monitor's warnings. The page updates
live over server-sent events.

It only reads. The figures come from the kernel's process table; a
behaviour is asked for its state through ``sys`` (a system message, handled
between callbacks); a plain process is never sent anything. The collector is
a process of its own (``gs.observer.Collector``, visible in the table); it
builds rows only for the page shown and spaces its snapshots so that it
takes at most 3% of the node's time, which keeps a node of 100,000
processes responsive while a page is open.

``python -m greenserver.observer URL`` shows the same table in a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from time import monotonic
from typing import Any, Final, final
from urllib.parse import parse_qs

from gevent import Timeout, socket
from gevent.event import AsyncResult, Event
from gevent.pywsgi import WSGIServer

# The private modules, not ``greenserver``: this module is imported while
# the package itself is still being initialised.
from greenserver._gen_server import GenServer
from greenserver._messages import send
from greenserver._pid import Pid
from greenserver._process import alive
from greenserver._results import NoReply, Ok, Stop
from greenserver.sys import get_state

from . import _collect
from ._page import PAGE

__all__ = ["Collector", "Observer", "ObserverStatistics", "serve"]

SHARE: Final = 0.03  # the collector's budget: this share of the node's time
MIN_INTERVAL: Final = 1.0  # seconds between two snapshots of one page, at least
TREES_EVERY: Final = 2.0  # seconds a tree snapshot is reused
_ASK_TIMEOUT: Final = 10.0


class _CollectorState:
    """What the collector keeps between snapshots."""

    def __init__(self) -> None:
        self.activity = _collect.Activity()
        self.trees: list[dict[str, Any]] = []
        self.trees_at = -TREES_EVERY
        self.window_at = monotonic()  # the collector's share is measured per window
        self.window_busy = 0.0
        self.share = 0.0
        self.last = 0.0  # seconds the last snapshot took
        self.started = monotonic()
        self.snapshots = 0
        self.busy = 0.0  # seconds spent collecting, in all


class Collector(GenServer[_CollectorState]):
    """The observer's process: it takes snapshots of the node for the page.

    Requests arrive as plain messages ``(kind, params, result)`` from the web
    server's greenlets, which are not processes; the answer goes back through
    *result*, a gevent ``AsyncResult``.
    """

    def init(self, arg: None) -> Ok[_CollectorState]:
        return Ok(_CollectorState())

    def handle_info(
        self, msg: Any, state: _CollectorState
    ) -> NoReply[_CollectorState] | Stop[_CollectorState]:
        match msg:
            case ("snapshot", dict() as params, AsyncResult() as result):
                began = monotonic()
                try:
                    snapshot = _snapshot(state, params)
                except Exception as exc:
                    result.set_exception(exc)
                else:
                    state.last = monotonic() - began
                    state.window_busy += state.last
                    state.busy += state.last
                    state.snapshots += 1
                    snapshot["collector"] = _cost(state)
                    result.set(snapshot)
            case _:
                return super().handle_info(msg, state)
        return NoReply(state)


def _cost(state: _CollectorState) -> dict[str, float]:
    now = monotonic()
    elapsed = now - state.window_at
    if elapsed >= 10.0:  # the share of the node's time over the last window
        state.share = state.window_busy / elapsed
        state.window_at, state.window_busy = now, 0.0
    elif state.share == 0.0:
        state.share = state.window_busy / max(elapsed, MIN_INTERVAL)
    return {
        "last_ms": state.last * 1000,
        "share": state.share,
        # Space snapshots so that collecting stays under its share of the node.
        "interval": max(MIN_INTERVAL, state.last / SHARE),
    }


def _snapshot(state: _CollectorState, params: dict[str, Any]) -> dict[str, Any]:
    procs = _collect.live_processes()
    now = monotonic()
    if now - state.trees_at >= TREES_EVERY:
        state.trees = _collect.trees(procs)
        state.trees_at = now
    detail = None
    if params["detail"]:
        proc = _collect.find(procs, params["detail"])
        detail = _collect.detail(proc) if proc is not None else None
        if detail is None:
            detail = {"pid": params["detail"], "status": "dead"}
    return {
        "summary": _collect.summary(procs),
        "table": _collect.table(
            procs,
            state.activity,
            sort=params["sort"],
            descending=params["desc"],
            page=params["page"],
            page_size=params["page_size"],
        ),
        "trees": state.trees,
        "detail": detail,
        "warnings": _collect.warnings(),
    }


def _params(query: str) -> dict[str, Any]:
    """Read the page's parameters from a query string; bad values raise ValueError."""
    raw = {key: values[-1] for key, values in parse_qs(query).items()}
    sort = raw.get("sort", "pid")
    if sort not in _collect.SORT_KEYS:
        raise ValueError(f"sort must be one of {', '.join(_collect.SORT_KEYS)}; got {sort!r}")
    page_size = int(raw.get("page_size", _collect.PAGE_SIZE))
    if not 1 <= page_size <= 1000:
        raise ValueError(f"page_size must be between 1 and 1000; got {page_size!r}")
    return {
        "sort": sort,
        "desc": raw.get("desc", "0") in ("1", "true"),
        "page": int(raw.get("page", 0)),
        "page_size": page_size,
        "detail": raw.get("detail", ""),
    }


@final
@dataclass(frozen=True)
class ObserverStatistics:
    """What the collector has done since the observer started."""

    snapshots: int
    busy: float  # seconds spent taking snapshots
    uptime: float  # seconds since the observer started
    share: float  # busy / uptime: the collector's share of the node's time


@final
class Observer:
    """A running observer: its page is at ``url``; ``stop()`` ends it."""

    def __init__(self, host: str, port: int) -> None:
        self._stopping = Event()
        listener = _listen(host, port)
        collector = GenServer.start(Collector, None)
        assert collector is not None  # its init never ignores
        self.collector: Pid = collector
        # SERVER_NAME given: gevent would look the address up in a resolver
        # thread, left running for the rest of the program.
        self._server = WSGIServer(listener, self._app, log=None, environ={"SERVER_NAME": host})
        self._server.start()
        self.host = host
        port_bound = self._server.server_port
        assert port_bound is not None
        self.port: int = port_bound
        self.url = f"http://{host}:{self.port}/"

    def __repr__(self) -> str:
        return f"<Observer {self.url}>"

    def stop(self) -> None:
        """Close the page's streams, stop serving and stop the collector process."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._server.stop(timeout=1.0)
        if alive(self.collector):
            GenServer.stop(self.collector)

    def statistics(self) -> ObserverStatistics:
        """Return what the collector has cost so far (read through ``sys``)."""
        state: _CollectorState = get_state(self.collector)
        uptime = monotonic() - state.started
        return ObserverStatistics(state.snapshots, state.busy, uptime, state.busy / uptime)

    def snapshot(self, **params: Any) -> dict[str, Any]:
        """Return one snapshot as the page gets it (``sort``, ``desc``, ``page``, ``detail``)."""
        query = "&".join(f"{key}={value}" for key, value in params.items())
        return self._ask(_params(query))

    def _ask(self, params: dict[str, Any]) -> dict[str, Any]:
        # A plain send and a gevent result: the web server's greenlets must
        # not become processes (a call would adopt them).
        result: AsyncResult[dict[str, Any]] = AsyncResult()
        send(self.collector, ("snapshot", params, result))
        try:
            snapshot = result.get(timeout=_ASK_TIMEOUT)
        except Timeout:  # a BaseException in gevent: make it an ordinary error
            raise TimeoutError(
                f"the observer's collector did not answer in {_ASK_TIMEOUT}s"
            ) from None
        assert snapshot is not None
        return snapshot

    # --- the WSGI application ------------------------------------------------------

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "/")
        try:
            params = _params(environ.get("QUERY_STRING", ""))
        except ValueError as exc:
            return _reply(start_response, "400 Bad Request", "text/plain", str(exc).encode())
        if path == "/":
            return _reply(start_response, "200 OK", "text/html; charset=utf-8", PAGE.encode())
        if path == "/events":
            start_response(
                "200 OK",
                [
                    ("Content-Type", "text/event-stream"),
                    ("Cache-Control", "no-cache"),
                    ("X-Accel-Buffering", "no"),
                ],
            )
            return self._events(params)
        if path == "/api/snapshot":
            body = json.dumps(self._ask(params)).encode()
            return _reply(start_response, "200 OK", "application/json", body)
        return _reply(start_response, "404 Not Found", "text/plain", b"not found")

    def _events(self, params: dict[str, Any]) -> Iterator[bytes]:
        """Stream snapshots to one page until it goes away or the observer stops."""
        while not self._stopping.is_set():
            try:
                snapshot = self._ask(params)
            except Exception:
                return  # the collector is gone: the page reconnects, or not
            yield b"data: " + json.dumps(snapshot).encode() + b"\n\n"
            self._stopping.wait(snapshot["collector"]["interval"])


def _listen(host: str, port: int) -> socket.socket:
    """Bind and listen, closing the socket if that fails (no fd is left behind)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def _reply(start_response: Any, status: str, kind: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", kind), ("Content-Length", str(len(body)))])
    return [body]


def serve(*, host: str = "127.0.0.1", port: int = 0) -> Observer:
    """Serve the observer's page for this node and return the running ``Observer``.

    Returns at once: the page is served by the node's own hub, so the node
    must run gevent (serve, join, receive) for it to answer. ``port=0``
    picks a free port (``Observer.port``, ``Observer.url``).

    Raises:
        OSError: The address is taken or cannot be bound.
    """
    if not isinstance(host, str) or not host:
        raise TypeError(f"host must be a non-empty str; got {host!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int from 0 to 65535; got {port!r}")
    return Observer(host, port)
