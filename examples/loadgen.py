"""A miniature Locust built from processes: N client processes load a KV server.

Run it against ``examples/kv_server.py``::

    python examples/loadgen.py --clients 200 --seconds 10 --port 6380
    python examples/loadgen.py --clients 20 --requests 1000   # per client
    python examples/loadgen.py --clients 200 --nodes 2        # on 2 peer nodes

Each client is a small GenServer holding one connection and a script of
commands (SET, GET, INCR, PING on keys of its own), started under a
``gs.DynamicSupervisor``. It runs its script a chunk at a time (between
chunks it answers system messages), reports progress to the coordinator,
and at the end sends its latency histogram and exits. The coordinator prints
a live progress line, then throughput, p50/p90/p99 latencies, a histogram,
and the memory each client process costs (RSS growth / N).

With ``--nodes N`` the clients run on N peer nodes (``gs.node.Peer``: OS
processes of their own, under a supervisor here), so the load uses every
core; each node runs its share and sends back its histogram, and the
coordinator merges them into one report.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import secrets
import socket as stdlib_socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final, TextIO, final

import structlog
from gevent import socket

import greenserver as gs
from kv_server import ReplyError, encode_command, parse_reply

_SUB_BUCKETS: Final = 16  # per power of two: about 4% precision
_CHUNK: Final = 50  # requests between two looks at the mailbox
_PROGRESS_EVERY: Final = 0.25  # seconds


def bucket_of(micros: float) -> int:
    """Return the histogram bucket of a latency in microseconds."""
    return 0 if micros < 1 else int(math.log2(micros) * _SUB_BUCKETS) + 1


def bucket_top(bucket: int) -> float:
    """Return the upper edge of *bucket*, in microseconds."""
    return 1.0 if bucket == 0 else 2 ** (bucket / _SUB_BUCKETS)


def percentile(histogram: Counter[int], fraction: float) -> float:
    """Return the latency (µs, a bucket's upper edge) under which *fraction* of requests fall."""
    total = sum(histogram.values())
    if total == 0:
        return 0.0
    rank = fraction * total
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket_top(bucket)
    return bucket_top(max(histogram))


def script_for(client: int, length: int = 64) -> list[bytes]:
    """The commands client *client* cycles through, encoded once."""
    commands: list[bytes] = []
    for i in range(length // 4):
        key = f"loadgen:{client}:{i}"
        commands += [
            encode_command("SET", key, f"value-{i}"),
            encode_command("GET", key),
            encode_command("INCR", f"loadgen:{client}:counter"),
            encode_command("PING"),
        ]
    return commands


@final
class Progress:
    __slots__ = ("done", "errors", "pid")

    def __init__(self, pid: gs.Pid, done: int, errors: int) -> None:
        self.pid = pid
        self.done = done
        self.errors = errors


@final
class Finished:
    __slots__ = ("histogram", "pid")

    def __init__(self, pid: gs.Pid, histogram: Counter[int]) -> None:
        self.pid = pid
        self.histogram = histogram


@dataclass
class ClientState:
    sock: socket.socket
    script: list[bytes]
    coordinator: gs.Pid
    requests: int | None  # per client; None: until the deadline
    deadline: float | None
    done: int = 0
    errors: int = 0
    reported: int = 0
    reported_errors: int = 0
    last_report: float = 0.0
    buf: bytes = b""
    histogram: Counter[int] = field(default_factory=Counter)


class Client(gs.GenServer[ClientState]):
    """One simulated user: a connection and a script, run a chunk at a time."""

    def init(self, arg: tuple[Any, ...]) -> gs.Ok[ClientState]:
        host, port, index, coordinator, requests, deadline = arg
        sock = socket.create_connection((host, port), timeout=30)
        sock.setsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY, 1)
        state = ClientState(sock, script_for(index), coordinator, requests, deadline)
        state.last_report = time.monotonic()
        return gs.Ok(state, timeout=0)  # start at once, after any queued message

    def handle_info(self, msg: Any, state: ClientState) -> Any:
        if msg != "timeout":
            return super().handle_info(msg, state)
        finished = _run_chunk(state)
        now = time.monotonic()
        if finished or now - state.last_report >= _PROGRESS_EVERY:
            news = Progress(
                gs.self(), state.done - state.reported, state.errors - state.reported_errors
            )
            gs.send(state.coordinator, news)
            state.reported, state.reported_errors = state.done, state.errors
            state.last_report = now
        if finished:
            gs.send(state.coordinator, Finished(gs.self(), state.histogram))
            return gs.Stop("normal", state)
        return gs.NoReply(state, timeout=0)

    def terminate(self, reason: object, state: ClientState) -> None:
        state.sock.close()


def _run_chunk(state: ClientState) -> bool:
    """Send up to _CHUNK requests, one at a time; return whether the client is done."""
    sock, script, histogram = state.sock, state.script, state.histogram
    clock = time.perf_counter
    for _ in range(_CHUNK):
        if state.requests is not None and state.done >= state.requests:
            return True
        if state.deadline is not None and time.monotonic() >= state.deadline:
            return True
        command = script[state.done % len(script)]
        started = clock()
        sock.sendall(command)
        while True:
            parsed = parse_reply(state.buf) if state.buf else None
            if parsed is not None:
                reply, end = parsed
                state.buf = state.buf[end:]
                break
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            state.buf += chunk
        histogram[bucket_of((clock() - started) * 1e6)] += 1
        state.done += 1
        if isinstance(reply, ReplyError):
            state.errors += 1
    return False


def rss_bytes() -> int:
    """Resident memory of this OS process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Report:
    clients: int
    requests: int
    errors: int
    seconds: float
    p50_us: float
    p90_us: float
    p99_us: float
    max_us: float
    bytes_per_client: float
    histogram: Counter[int]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def make_report(
    clients: int,
    requests: int,
    errors: int,
    seconds: float,
    histogram: Counter[int],
    bytes_per_client: float,
) -> Report:
    """Summarize a run: the percentiles come from the histogram of latencies."""
    return Report(
        clients=clients,
        requests=requests,
        errors=errors,
        seconds=seconds,
        p50_us=percentile(histogram, 0.50),
        p90_us=percentile(histogram, 0.90),
        p99_us=percentile(histogram, 0.99),
        max_us=bucket_top(max(histogram)) if histogram else 0.0,
        bytes_per_client=bytes_per_client,
        histogram=histogram,
    )


def run(
    host: str = "127.0.0.1",
    port: int = 6380,
    *,
    clients: int = 50,
    requests: int | None = None,
    seconds: float | None = 10.0,
    out: TextIO | None = sys.stderr,
) -> Report:
    """Run *clients* client processes until each has made *requests* (or *seconds* pass).

    Prints a live progress line to *out* (None: quiet). Returns the report;
    every process it started has exited by then.
    """
    if requests is None and seconds is None:
        raise ValueError("give requests (per client) or seconds")
    me = gs.self()
    rss_before = rss_bytes()
    sup = gs.DynamicSupervisor.start_link()
    watched: dict[gs.Ref, gs.Pid] = {}
    try:
        started = time.monotonic()
        deadline = None if seconds is None or requests is not None else started + seconds
        for index in range(clients):
            spec = gs.ChildSpec(
                ("client", index),
                (Client.start_link, ((host, port, index, me, requests, deadline),), {}),
                restart="temporary",
            )
            pid = gs.DynamicSupervisor.start_child(sup, spec)
            assert pid is not None
            watched[gs.monitor(pid)] = pid
        per_client = (rss_bytes() - rss_before) / clients if clients else 0.0
        histogram, total, errors = _collect(watched, started, out)
        elapsed = time.monotonic() - started
    finally:
        gs.DynamicSupervisor.stop(sup)
    report = make_report(clients, total, errors, elapsed, histogram, per_client)
    if out is not None:
        print(file=out)
        print(format_report(report), file=out)
    return report


def run_on_nodes(
    host: str = "127.0.0.1",
    port: int = 6380,
    *,
    nodes: int = 2,
    clients: int = 50,
    requests: int | None = None,
    seconds: float | None = 10.0,
    out: TextIO | None = sys.stderr,
) -> Report:
    """Run :func:`run` on *nodes* peer nodes, *clients* split among them; merge the reports.

    Makes this OS process a node first if it is not one (and stops it
    again at the end). Every peer has exited when this returns.
    """
    if nodes < 1:
        raise ValueError(f"nodes must be at least 1; got {nodes!r}")
    started_here = gs.node.name() is None
    if started_here:
        gs.node.start(f"loadgen{os.getpid()}", cookie=secrets.token_hex(16))
    me = gs.self()
    names = [f"loadgen{os.getpid()}n{i}" for i in range(nodes)]
    shares = [clients // nodes + (1 if i < clients % nodes else 0) for i in range(nodes)]
    rss_per_client: list[float] = []
    histogram: Counter[int] = Counter()
    total = errors = 0
    sup = gs.Supervisor.start_link([gs.node.Peer(name) for name in names], strategy="one_for_one")
    try:
        started = time.monotonic()
        host_part = (gs.node.name() or "").partition("@")[2]
        for name, share in zip(names, shares, strict=True):
            args = (host, port, share, requests, seconds, me)
            gs.node.spawn(f"{name}@{host_part}", "loadgen:node_worker", args)
        for _ in names:
            msg = gs.receive(lambda m: isinstance(m, tuple) and m[:1] == ("loadgen_report",))
            assert isinstance(msg, tuple)
            _tag, node, share, done, failed, node_histogram, bytes_per_client = msg
            total += done
            errors += failed
            histogram.update(node_histogram)
            rss_per_client.append(bytes_per_client)
            if out is not None:
                print(f"{node}: {share} clients, {done:,} requests, {failed} errors", file=out)
        elapsed = time.monotonic() - started
    finally:
        gs.Supervisor.stop(sup)
        if started_here:
            gs.node.stop()
    per_client = sum(rss_per_client) / len(rss_per_client) if rss_per_client else 0.0
    report = make_report(clients, total, errors, elapsed, histogram, per_client)
    if out is not None:
        print(format_report(report), file=out)
    return report


def node_worker(
    host: str,
    port: int,
    clients: int,
    requests: int | None,
    seconds: float | None,
    coordinator: gs.Pid,
) -> None:
    """Runs on a peer node: its share of the clients, then its numbers to *coordinator*."""
    report = run(host, port, clients=clients, requests=requests, seconds=seconds, out=None)
    summary = (
        gs.Atom("loadgen_report"),
        gs.node.name(),
        clients,
        report.requests,
        report.errors,
        dict(report.histogram),  # a plain dict travels as a map; a Counter has no twin
        report.bytes_per_client,
    )
    gs.send(coordinator, summary)


def _collect(
    watched: dict[gs.Ref, gs.Pid], started: float, out: TextIO | None
) -> tuple[Counter[int], int, int]:
    """Gather progress and results until every client has finished (or died)."""
    histogram: Counter[int] = Counter()
    total = errors = 0
    finished: set[gs.Pid] = set()
    running = len(watched)
    next_line = started

    def is_news(m: object) -> bool:
        return (
            type(m) is Progress or type(m) is Finished or (type(m) is gs.Down and m.ref in watched)
        )

    while running:
        msg = gs.receive(is_news)
        if type(msg) is Progress:
            total += msg.done
            errors += msg.errors
        elif type(msg) is Finished:
            histogram.update(msg.histogram)
            finished.add(msg.pid)
            running -= 1
        elif isinstance(msg, gs.Down):
            pid = watched.pop(msg.ref)
            if pid not in finished:  # it crashed: its report says why
                errors += 1
                running -= 1
        now = time.monotonic()
        if out is not None and (now >= next_line or not running):
            elapsed = max(now - started, 1e-9)
            out.write(
                f"\r{elapsed:6.1f}s  {total:>9,} requests  {total / elapsed:>9,.0f}/s  "
                f"errors {errors}  clients running {running}   "
            )
            out.flush()
            next_line = now + 0.5
    for ref in watched:
        gs.demonitor(ref, flush=True)
    return histogram, total, errors


def format_report(report: Report) -> str:
    lines = [
        f"{report.clients} clients, {report.requests:,} requests in {report.seconds:.2f}s: "
        f"{report.throughput:,.0f} requests/s, {report.errors} errors",
        f"latency p50 {report.p50_us:,.0f} µs, p90 {report.p90_us:,.0f} µs, "
        f"p99 {report.p99_us:,.0f} µs, max {report.max_us:,.0f} µs",
        f"memory: {report.bytes_per_client / 1024:,.1f} KiB per client process (RSS growth / N)",
        "histogram (µs, up to):",
    ]
    if report.histogram:
        # Coarse rows: one per power of two.
        rows: Counter[int] = Counter()
        for bucket, count in report.histogram.items():
            rows[(bucket - 1) // _SUB_BUCKETS if bucket else -1] += count
        peak = max(rows.values())
        for row in sorted(rows):
            top = 2 ** (row + 1) if row >= 0 else 1
            bar = "#" * max(1, round(40 * rows[row] / peak))
            lines.append(f"  {top:>9,} {rows[row]:>9,} {bar}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load a Redis-protocol server with processes.")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--requests", type=int, default=None, help="per client (overrides --seconds)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6380)
    parser.add_argument(
        "--nodes", type=int, default=0, help="run the clients on this many peer nodes"
    )
    args = parser.parse_args(argv)
    # Crash reports go to stderr; progress reports are debug-level noise here.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )
    if args.nodes:
        report = run_on_nodes(
            args.host,
            args.port,
            nodes=args.nodes,
            clients=args.clients,
            requests=args.requests,
            seconds=args.seconds,
            out=sys.stdout,
        )
    else:
        report = run(
            args.host,
            args.port,
            clients=args.clients,
            requests=args.requests,
            seconds=args.seconds,
            out=sys.stdout,
        )
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
