"""Run the Redis-protocol key-value server of ``examples/kv/``.

``python examples/kv_server.py --host 127.0.0.1 --port 6380``, then talk to it
with ``redis-cli -p 6380`` or any Redis client (redis-py: ``protocol=2``).
SIGINT and SIGTERM stop it cleanly: it stops accepting, gives open
connections a moment, and exits. The server itself is the package ``kv``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

import gevent
import structlog

import greenserver as gs
from greenserver import net
from kv import (
    KVServer,
    Parser,
    PlanPart,
    Reply,
    ReplyError,
    Store,
    Write,
    encode_command,
    execute,
    parse_reply,
    start,
)

# The tests, the demo and the benchmark use the server through this script.
__all__ = [
    "KVServer",
    "Parser",
    "PlanPart",
    "Reply",
    "ReplyError",
    "Store",
    "Write",
    "encode_command",
    "execute",
    "main",
    "net",
    "parse_reply",
    "start",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A Redis-protocol key-value server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6380)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--grace", type=float, default=1.0, help="seconds clients get on stop")
    args = parser.parse_args(argv)
    # Reports (crashes, restarts) go to stderr; progress reports are debug-level noise.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )
    me = gs.self()

    def on_signal(signum: int) -> None:
        gs.send(me, ("signal", signum))

    handlers = [
        gevent.signal_handler(signal.SIGTERM, on_signal, signal.SIGTERM),
        gevent.signal_handler(signal.SIGINT, on_signal, signal.SIGINT),
    ]
    try:
        server = start(args.host, args.port, shards=args.shards)
    except OSError as exc:
        print(f"kv_server: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"kv_server: listening on {args.host}:{server.port}", flush=True)
    msg = gs.receive(lambda m: type(m) is tuple and m[0] == "signal")
    assert isinstance(msg, tuple)
    print(f"kv_server: got {signal.Signals(msg[1]).name}, stopping", flush=True)
    server.stop(args.grace)
    for handler in handlers:
        handler.cancel()
    print("kv_server: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
