"""The load test: 10,000 concurrent loadgen clients against the KV server.

``bench._loadgen_scale`` runs in a fresh interpreter for each sample. It
starts ``examples/kv_server.py`` as a subprocess of its own, then connects N
(10,000; ``--quick`` 1,000) of ``examples/loadgen.py``'s client processes to
it, each a GenServer with one socket, and once all are connected lets them
run their SET/GET/INCR/PING scripts for a few seconds (5; ``--quick`` 3),
one request in flight per client. Server and clients are separate OS
processes, one per core of a 2-core machine, so the clients' memory is their
own process's RSS growth.

The cases report, from one such run:

* ``loadgen.request``: wall time per request over all clients (1e6 / the
  µs figure = requests/s); ``loadgen.p50`` and ``loadgen.p99``: the
  latency one client sees, send to reply. With every client waiting on one
  request, latency is about N / throughput.
* ``loadgen.rss_per_client``: the load generator's RSS growth / N once all
  are connected (as ``loadgen.run`` measures it), beside ``idle_mem.gs.rss``,
  a bare process blocked in ``receive``; ``loadgen.rss_per_client_peak``: the
  same at its peak while they run (histograms, read buffers).
* ``loadgen.server_rss_per_client``: the server's peak RSS growth during the
  run / N: a connection process, a port process and a socket per client, and
  the 17 keys each client writes.

N needs N descriptors on each side: both processes raise their soft
``RLIMIT_NOFILE`` to the hard limit (``ulimit -Hn``). If that still cannot
hold N sockets, N is cut to what fits and a line on stderr says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ._harness import Context, case

_ROOT = Path(__file__).resolve().parent.parent  # the directory holding bench/

# One subprocess run feeds every loadgen.* case: each takes its figure from
# the latest run, and a case that already took one from it starts the next
# run. The runner calls them round-robin, so a round costs one run.
_latest: dict[str, Any] | None = None
_taken: set[str] = set()


def _load_run(n: int, seconds: float) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(_ROOT), str(_ROOT / "examples"), *filter(None, [env.get("PYTHONPATH")])]
    )
    # On a timeout subprocess.run kills the load generator; the KV server,
    # reading its stdin from it, then stops by itself.
    proc = subprocess.run(
        [sys.executable, "-m", "bench._loadgen_scale", str(n), str(seconds)],
        capture_output=True,
        text=True,
        cwd=_ROOT,
        env=env,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench._loadgen_scale {n} {seconds} failed:\n{proc.stderr}")
    doc: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if doc["errors"]:
        raise RuntimeError(
            f"{doc['errors']} of {doc['requests']} loadgen requests failed:\n{proc.stderr}"
        )
    if doc["n"] < n:
        print(
            f"  loadgen: only {doc['n']:,} of {n:,} clients fit the descriptor limit "
            f"({doc['nofile']:,}; raise `ulimit -Hn`): the loadgen.* figures are for "
            f"{doc['n']:,} clients",
            file=sys.stderr,
            flush=True,
        )
    if doc["clients_active"] != doc["n"]:
        raise RuntimeError(
            f"only {doc['clients_active']:,} of {doc['n']:,} clients got requests through"
        )
    return doc


def _figure(key: str, ctx: Context) -> float:
    global _latest
    n = ctx.n(10_000, 1_000)
    seconds = ctx.n(5, 3)
    if _latest is None or key in _taken or _latest["n_asked"] != n:
        _latest = _load_run(n, seconds)
        _taken.clear()
    _taken.add(key)
    return float(_latest[key])


@case("loadgen.request", warmup=False, max_repeats=3)
def loadgen_request(ctx: Context) -> float:
    """N (10k; --quick 1k) loadgen clients on the KV server; wall time per request, all clients."""
    return _figure("s_per_request", ctx)


@case("loadgen.p50", warmup=False, max_repeats=3)
def loadgen_p50(ctx: Context) -> float:
    """Median latency a client sees, send to reply (about N / requests/s)."""
    return _figure("p50_s", ctx)


@case("loadgen.p99", warmup=False, max_repeats=3)
def loadgen_p99(ctx: Context) -> float:
    """99th percentile latency a client sees."""
    return _figure("p99_s", ctx)


@case(
    "loadgen.rss_per_client",
    unit="B/proc",
    baseline="idle_mem.gs.rss",
    group="loadgen",
    warmup=False,
    max_repeats=3,
)
def loadgen_rss_per_client(ctx: Context) -> float:
    """Load generator's RSS growth / N with all N connected (GenServer + socket each)."""
    return _figure("bytes_per_client", ctx)


@case("loadgen.rss_per_client_peak", unit="B/proc", warmup=False, max_repeats=3)
def loadgen_rss_per_client_peak(ctx: Context) -> float:
    """Load generator's peak RSS growth / N while the clients run."""
    return _figure("bytes_per_client_peak", ctx)


@case("loadgen.server_rss_per_client", unit="B/proc", warmup=False, max_repeats=3)
def loadgen_server_rss_per_client(ctx: Context) -> float:
    """KV server's peak RSS growth / N: connection + port process, socket, 17 keys."""
    return _figure("server_bytes_per_client", ctx)
