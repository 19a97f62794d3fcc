"""N loadgen clients against the KV server, each side an OS process of its own.

    PYTHONPATH=examples python -m bench._loadgen_scale N SECONDS
    PYTHONPATH=examples python -m bench._loadgen_scale --serve   (the server; started by the above)

The first form starts the second as a subprocess: ``examples/kv_server.py``
(4 shards) listening on a free port of 127.0.0.1. Then, in this interpreter,
N of ``examples/loadgen.py``'s client processes (a GenServer and a socket
each, under a DynamicSupervisor) load it for SECONDS. The two sides are
separate OS processes so that each gets one of the machine's two cores, the
RSS growth of this process is the clients' alone, and each side needs only N
of the descriptors its limit allows.

The clients are ``loadgen.Client``, held after connecting until all N are
connected, then released together; the SECONDS start then. That is why this
does not call ``loadgen.run``, whose clients start loading as soon as each
connects, on a clock that starts before the first: every start then waits
behind the traffic of those already running (with 500 running, about 50
starts a second here), so 10,000 clients would never all run at once.

Both processes raise their soft ``RLIMIT_NOFILE`` to the hard limit. If
that is too low for N sockets plus a margin, N is cut to what fits, and the
JSON says so (``n_asked``, ``n``, ``nofile``).

Prints one JSON line: requests, seconds, requests/s and p50/p90/p99/max
latency (``loadgen.percentile``: each an upper bucket edge, within about
4%), the clients' RSS growth per client once all are connected (as
``loadgen.run`` measures it) and at its peak while they run, ``ramp_s``
(connecting all N), the least and most requests one client made (read back
from the server: each client INCRs a counter of its own once per 4
requests), and the server's peak RSS growth during the run per client (its
connection processes and sockets, and the 17 keys each client writes).

The server is stopped (SIGTERM, then SIGKILL) whatever happens, and it also
stops by itself when this process dies: it watches its stdin, a pipe from here.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any, final

import structlog

import greenserver as gs
import kv_server
import loadgen

_ROOT = Path(__file__).resolve().parent.parent  # the directory holding bench/
_EXAMPLES = _ROOT / "examples"
_HOST = "127.0.0.1"
# Descriptors one side needs besides its N sockets: stdio, the hub's epoll and
# wakeup pipe, the listening socket, /proc reads, the server's pipes.
_FD_MARGIN = 64
_SHARDS = 4
_WARMUP_CLIENTS = 50
_START_TIMEOUT = 30.0  # seconds for the server to say where it listens
_STOP_TIMEOUT = 15.0  # seconds for it to stop after SIGTERM, before SIGKILL


def raise_nofile() -> int:
    """Raise this process's soft RLIMIT_NOFILE to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY:
        # Linux refuses an infinite soft limit; fs.nr_open is the real ceiling.
        try:
            target = int(Path("/proc/sys/fs/nr_open").read_text())
        except (OSError, ValueError):
            target = 1 << 20
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft if soft != resource.RLIM_INFINITY else target


def clients_that_fit(nofile: int) -> int:
    """Return how many client sockets a process with *nofile* descriptors can hold."""
    return max(0, nofile - _FD_MARGIN)


# --- the server side ------------------------------------------------------------------


def _exit_with_parent() -> None:
    """Stop the server (as SIGTERM does) once stdin, the parent's pipe, reaches EOF."""
    from gevent import os as gos

    fd = sys.stdin.fileno()
    gos.make_nonblocking(fd)
    while gos.nb_read(fd, 4096):
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def serve() -> int:
    """Run examples/kv_server.py on a free port, after raising the descriptor limit."""
    import gevent

    nofile = raise_nofile()
    print(f"nofile {nofile}", flush=True)
    gevent.spawn(_exit_with_parent)  # first runs once kv_server has its signal handlers
    return kv_server.main(["--host", _HOST, "--port", "0", "--shards", str(_SHARDS)])


def _start_server(stderr: IO[bytes]) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(_ROOT), str(_EXAMPLES), *filter(None, [env.get("PYTHONPATH")])]
    )
    return subprocess.Popen(
        [sys.executable, "-m", "bench._loadgen_scale", "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        cwd=_ROOT,
        env=env,
    )


def _handshake(server: subprocess.Popen[bytes]) -> tuple[int, int]:
    """Read the server's first lines; return its descriptor limit and its port."""
    assert server.stdout is not None
    out = server.stdout
    deadline = time.monotonic() + _START_TIMEOUT
    nofile: int | None = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([out], [], [], left)[0]:
            raise TimeoutError(f"the KV server said nothing for {_START_TIMEOUT}s")
        line = out.readline().decode(errors="replace").strip()
        if not line:
            raise RuntimeError(f"the KV server exited (status {server.wait()}) before listening")
        if line.startswith("nofile "):
            nofile = int(line.split()[1])
        elif line.startswith("kv_server: listening on "):
            if nofile is None:
                raise RuntimeError("the KV server did not report its descriptor limit")
            return nofile, int(line.rsplit(":", 1)[1])


def _stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server, wait for it, SIGKILL it if it lingers; close its pipes."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    for pipe in (server.stdin, server.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def _command(port: int, *args: str) -> Any:
    """Send one command to the server over a connection of its own; return the reply."""
    with socket.create_connection((_HOST, port), timeout=30) as sock:
        sock.sendall(kv_server.encode_command(*args))
        buf = b""
        while True:
            parsed = kv_server.parse_reply(buf) if buf else None
            if parsed is not None:
                return parsed[0]
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError(f"the KV server closed the connection during {args[0]}")
            buf += chunk


def _proc_status(pid: int | str, field: str) -> int:
    """Return a kB field of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(f"no {field} in /proc/{pid}/status")


# --- the client side ------------------------------------------------------------------


@final
class _Go:
    __slots__ = ("deadline",)

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline


class HeldClient(loadgen.Client):
    """``loadgen.Client``, held after connecting until ``_Go`` says until when to run."""

    def init(self, arg: tuple[Any, ...]) -> gs.Ok[loadgen.ClientState]:
        return gs.Ok(super().init(arg).state)  # connected; no timeout=0: wait

    def handle_info(self, msg: Any, state: loadgen.ClientState) -> Any:
        if type(msg) is _Go:
            state.deadline = msg.deadline
            state.last_report = time.monotonic()
            return gs.NoReply(state, timeout=0)  # the timeout runs the script
        return super().handle_info(msg, state)


def _collect(watched: dict[gs.Ref, gs.Pid]) -> tuple[Counter[int], int, int]:
    """Gather the clients' progress and histograms until each has finished or died."""
    histogram: Counter[int] = Counter()
    total = errors = 0
    finished: set[gs.Pid] = set()
    running = len(watched)

    def is_news(m: object) -> bool:
        kind = type(m)
        return kind is loadgen.Progress or kind is loadgen.Finished or kind is gs.Down

    while running:
        msg = gs.receive(is_news)
        if type(msg) is loadgen.Progress:
            total += msg.done
            errors += msg.errors
        elif type(msg) is loadgen.Finished:
            histogram.update(msg.histogram)
            finished.add(msg.pid)
            running -= 1
        elif type(msg) is gs.Down:
            pid = watched.pop(msg.ref, None)
            if pid is not None and pid not in finished:  # it crashed: its report says why
                errors += 1
                running -= 1
    for ref in watched:
        gs.demonitor(ref, flush=True)
    return histogram, total, errors


def load(port: int, n: int, seconds: float) -> dict[str, float]:
    """Connect *n* held clients, release them for *seconds*; return the clients' figures."""
    me = gs.self()
    gc.collect()
    rss0 = loadgen.rss_bytes()
    sup = gs.DynamicSupervisor.start_link()
    watched: dict[gs.Ref, gs.Pid] = {}
    try:
        t0 = time.perf_counter()
        for i in range(n):
            spec = gs.ChildSpec(
                ("client", i),
                (HeldClient.start_link, ((_HOST, port, i, me, None, None),), {}),
                restart="temporary",
            )
            pid = gs.DynamicSupervisor.start_child(sup, spec)
            assert pid is not None
            watched[gs.monitor(pid)] = pid
        ramp = time.perf_counter() - t0
        gc.collect()
        rss_connected = loadgen.rss_bytes()
        started = time.monotonic()
        go = _Go(started + seconds)
        for pid in watched.values():
            gs.send(pid, go)
        histogram, total, errors = _collect(watched)
        elapsed = time.monotonic() - started
        rss_peak = _proc_status("self", "VmHWM")
    finally:
        gs.DynamicSupervisor.stop(sup)
    return {
        "ramp_s": ramp,
        "seconds": elapsed,
        "requests": total,
        "errors": errors,
        "requests_per_s": total / elapsed,
        "s_per_request": elapsed / total if total else float("nan"),
        "p50_s": loadgen.percentile(histogram, 0.50) / 1e6,
        "p90_s": loadgen.percentile(histogram, 0.90) / 1e6,
        "p99_s": loadgen.percentile(histogram, 0.99) / 1e6,
        "max_s": loadgen.bucket_top(max(histogram)) / 1e6 if histogram else 0.0,
        "bytes_per_client": (rss_connected - rss0) / n,
        "bytes_per_client_peak": (rss_peak - rss0) / n,
    }


def run(n_asked: int, seconds: float) -> dict[str, object]:
    """Start the server, load it with *n_asked* clients (or as many as fit); return figures."""
    # Client crash reports go to stderr (shown when the bench case fails);
    # debug-level progress reports would be a line per client started.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )
    nofile = raise_nofile()
    me = gs.self()
    with tempfile.TemporaryFile() as server_err:
        server = _start_server(server_err)
        try:
            server_nofile, port = _handshake(server)
            n = min(n_asked, clients_that_fit(nofile), clients_that_fit(server_nofile))
            if n < 1:
                raise RuntimeError(
                    f"a descriptor limit of {min(nofile, server_nofile)} fits no client"
                )
            # Warm up imports, caches and allocator pools; then forget the keys.
            loadgen.run(_HOST, port, clients=min(_WARMUP_CLIENTS, n), requests=20, out=None)
            _command(port, "FLUSHDB")
            server_rss0 = _proc_status(server.pid, "VmRSS")
            figures = load(port, n, seconds)
            server_peak = _proc_status(server.pid, "VmHWM")
            counters = _command(port, "MGET", *(f"loadgen:{i}:counter" for i in range(n)))
        except BaseException:
            _stop_server(server)
            server_err.seek(0)
            sys.stderr.write(server_err.read().decode(errors="replace")[-4000:])
            raise
        _stop_server(server)
    left = [pid for pid in gs.processes() if pid != me]
    if left:
        raise AssertionError(f"{len(left)} process(es) alive after the clients' supervisor stopped")
    rounds = [int(c) for c in counters if c is not None]
    return {
        "n_asked": n_asked,
        "n": n,
        "nofile": min(nofile, server_nofile),
        "seconds_asked": seconds,
        **figures,
        "clients_active": len(rounds),
        "min_requests_per_client": 4 * min(rounds) if len(rounds) == n else 0,
        "max_requests_per_client": 4 * max(rounds) if rounds else 0,
        "server_rss_before": server_rss0,
        "server_rss_peak": server_peak,
        "server_bytes_per_client": (server_peak - server_rss0) / n,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._loadgen_scale", description=__doc__)
    parser.add_argument("n", type=int, nargs="?", help="clients")
    parser.add_argument("seconds", type=float, nargs="?", help="how long they run")
    parser.add_argument("--serve", action="store_true", help="be the KV server (internal)")
    args = parser.parse_args(argv)
    if args.serve:
        sys.exit(serve())
    if args.n is None or args.seconds is None:
        parser.error("give N and SECONDS")
    doc = run(args.n, args.seconds)
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()
    os._exit(0)  # the server is gone; tearing down the interpreter measures nothing


if __name__ == "__main__":
    main()
