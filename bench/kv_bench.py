"""``python -m bench.kv_bench``: the KV server under redis-benchmark, beside baselines.

Three servers run side by side, each as its own subprocess on 127.0.0.1 with
a port of its own:

* ``kv``: ``examples/kv_server.py``, greenserver processes all the way
  (acceptors, a process per connection, shard servers owning the data);
* ``plain``: a plain ``gevent.server.StreamServer`` doing the same work with
  no processes: a greenlet per connection running the same parser, the same
  command code and the same store (one shard, called directly);
* ``redis``: Debian's ``redis-server``, as the reference.

For each, ``redis-benchmark`` measures requests/s of PING, SET, GET and INCR
with 50 clients (``-c 50``), without and with pipelining (``-P 16``); every
figure is the median of 3 runs, the runs interleaved across servers. The
table shows the figures and the ratios kv/plain and kv/redis; the JSON goes
to ``bench/results/kv-latest.json``.

``python -m bench.kv_bench --serve-plain --port N`` runs the plain server alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
RESULTS = Path(__file__).resolve().parent / "results"
TESTS = ("ping", "set", "get", "incr")
SERVERS = ("kv", "plain", "redis")


# --- the plain gevent server -------------------------------------------------------


def serve_plain(host: str, port: int) -> None:
    """Run the same RESP server with gevent alone: one greenlet per connection."""
    import gevent
    from gevent.server import StreamServer

    sys.path.insert(0, str(EXAMPLES))
    import kv

    store = kv.Store()

    def run(jobs: dict[int, list[Any]]) -> dict[int, Any]:
        return {shard: [fn(store, args) for fn, args in js] for shard, js in jobs.items()}

    def handle(sock: Any, address: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        recv = sock.recv
        send = sock.sendall
        parser = kv.Parser()
        try:
            while True:
                data = recv(65536)
                if not data:
                    return
                commands, problem = parser.feed(data)
                out, close = kv.execute(commands, 1, run) if commands else (b"", False)
                if problem is not None:
                    out += problem.reply()
                    close = True
                if out:
                    send(out)
                if close:
                    return
        except OSError:
            return
        finally:
            sock.close()

    def sweep() -> None:
        while True:
            gevent.sleep(1.0)
            store.sweep()

    server = StreamServer((host, port), handle, backlog=1024)
    server.init_socket()
    sweeper = gevent.spawn(sweep)
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    server.start()
    print(f"plain: listening on {host}:{port}", flush=True)
    stop.wait()
    server.stop(timeout=1.0)
    sweeper.kill()


# --- running the comparison ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered PING on port {port} within {timeout}s")


def _start(kind: str, port: int) -> subprocess.Popen[bytes]:
    if kind == "kv":
        cmd = [sys.executable, str(EXAMPLES / "kv_server.py"), "--port", str(port)]
    elif kind == "plain":
        cmd = [sys.executable, "-m", "bench.kv_bench", "--serve-plain", "--port", str(port)]
    else:
        cmd = [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, proc)
    except BaseException:
        _stop(proc)
        raise
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _benchmark(port: int, clients: int, pipeline: int, requests: int) -> dict[str, float]:
    """Run redis-benchmark once; return requests/s per test."""
    done = subprocess.run(
        [
            "redis-benchmark",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-c",
            str(clients),
            "-n",
            str(requests),
            "-P",
            str(pipeline),
            "-t",
            ",".join(TESTS),
            "-r",
            "100000",
            "--csv",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    rps: dict[str, float] = {}
    for line in done.stdout.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if len(cells) < 2 or cells[0] == "test":
            continue
        name = cells[0].lower()
        # -t ping runs PING_INLINE and PING_MBULK; the table shows PING_MBULK.
        key = "ping" if name == "ping_mbulk" else name
        if key in TESTS:
            rps[key] = float(cells[1])
    missing = [t for t in TESTS if t not in rps]
    if missing:
        raise RuntimeError(f"redis-benchmark printed no figure for {missing}: {done.stdout!r}")
    return rps


def run(runs: int, requests: int, clients: int, pipelines: list[int]) -> dict[str, Any]:
    for tool in ("redis-benchmark", "redis-server"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: run `make sysdeps` (Debian redis-tools)")
    ports = {kind: _free_port() for kind in SERVERS}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    samples: dict[str, dict[int, dict[str, list[float]]]] = {
        kind: {p: {t: [] for t in TESTS} for p in pipelines} for kind in SERVERS
    }
    try:
        for kind in SERVERS:
            procs[kind] = _start(kind, ports[kind])
        for r in range(runs):
            for pipeline in pipelines:
                for kind in SERVERS:
                    n = requests * (4 if pipeline > 1 else 1)
                    figures = _benchmark(ports[kind], clients, pipeline, n)
                    for test, value in figures.items():
                        samples[kind][pipeline][test].append(value)
                    print(
                        f"run {r + 1}/{runs} -P {pipeline:<2} {kind:5} "
                        + " ".join(f"{t}={figures[t]:,.0f}" for t in TESTS),
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        for proc in procs.values():
            _stop(proc)
    medians = {
        kind: {
            str(p): {t: statistics.median(samples[kind][p][t]) for t in TESTS} for p in pipelines
        }
        for kind in SERVERS
    }
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "clients": clients,
        "requests": requests,
        "runs": runs,
        "unit": "requests/s (median)",
        "medians": medians,
        "samples": {kind: {str(p): samples[kind][p] for p in pipelines} for kind in SERVERS},
        "ratios": {
            str(p): {
                t: {
                    "kv/plain": medians["kv"][str(p)][t] / medians["plain"][str(p)][t],
                    "kv/redis": medians["kv"][str(p)][t] / medians["redis"][str(p)][t],
                }
                for t in TESTS
            }
            for p in pipelines
        },
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"redis-benchmark -c {result['clients']}, requests/s, median of {result['runs']} runs",
        f"{'test':6} {'-P':>3} {'kv':>10} {'plain':>10} {'redis':>10} "
        f"{'kv/plain':>9} {'kv/redis':>9}",
    ]
    for p, per_test in result["ratios"].items():
        for t in TESTS:
            m = result["medians"]
            lines.append(
                f"{t.upper():6} {p:>3} {m['kv'][p][t]:>10,.0f} {m['plain'][p][t]:>10,.0f} "
                f"{m['redis'][p][t]:>10,.0f} {per_test[t]['kv/plain']:>8.2f}x "
                f"{per_test[t]['kv/redis']:>8.2f}x"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kv_bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--requests", type=int, default=100_000, help="requests per test (-n)")
    parser.add_argument("--clients", type=int, default=50, help="connections (-c)")
    parser.add_argument("--quick", action="store_true", help="fewer requests (smoke test)")
    parser.add_argument("--no-save", action="store_true", help="do not write the JSON")
    parser.add_argument("--serve-plain", action="store_true", help="run the plain server only")
    parser.add_argument("--port", type=int, default=6381, help="with --serve-plain")
    args = parser.parse_args(argv)
    if args.serve_plain:
        serve_plain("127.0.0.1", args.port)
        return 0
    requests = 10_000 if args.quick else args.requests
    result = run(args.runs, requests, args.clients, [1, 16])
    print(table(result))
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / "kv-latest.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"saved {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
