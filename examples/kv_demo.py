"""The socket-server showcase that ``make demo`` runs after ``demo.py``.

It starts the Redis-protocol key-value server (``kv_server.py``), runs the
load generator (``loadgen.py``) against it for a few seconds, crashes a shard
on purpose halfway through — its crash report shows, its supervisor restarts
it, the clients carry on — then prints the supervision tree and the results,
stops everything and exits 0.

Run it: ``python examples/kv_demo.py [--seconds 3] [--clients 50]``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import gevent
import structlog

import greenserver as gs

sys.path.insert(0, str(Path(__file__).parent))
import kv_server
import loadgen


def crash_a_shard(server: kv_server.KVServer, index: int) -> None:
    """Make one shard crash: a cast it does not understand raises in the shard."""
    victim = server.table.pids[index]
    print(f"\n== crashing shard {index} ({victim}) on purpose", flush=True)
    gs.GenServer.cast(victim, "a cast no shard understands")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args(argv)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            ),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )
    me = gs.self()
    baseline = set(gs.processes())

    server = kv_server.start(port=0, shards=4)
    print(f"== KV server listening on 127.0.0.1:{server.port}")
    shard = 2
    before = server.table.pids[shard]
    crash = gevent.spawn_later(args.seconds / 2, crash_a_shard, server, shard)

    print(f"== {args.clients} client processes for {args.seconds}s")
    report = loadgen.run(
        port=server.port, clients=args.clients, seconds=args.seconds, out=sys.stdout
    )
    crash.join()
    gevent.sleep(0.1)  # let the listener's supervisors see the last clients go

    after = server.table.pids[shard]
    print(f"\n== shard {shard} was {before}, is now {after} (restarted: {after != before})")
    print("\n== the supervision tree")
    gs.sys.print_tree(server.pid)

    server.stop()
    leftover = set(gs.processes()) - baseline - {me}
    assert after != before, "the crashed shard was not restarted"
    assert report.requests > 0, "no request was served"
    assert not leftover, f"processes left behind: {leftover}"
    print(f"\nall done: {report.requests} requests, no process left behind")
    return 0


if __name__ == "__main__":
    sys.exit(main())
