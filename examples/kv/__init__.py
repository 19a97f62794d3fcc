"""A Redis-protocol (RESP2) key-value server on greenserver.net.

Run it with ``python examples/kv_server.py --port 6380`` and talk to it with
``redis-cli -p 6380`` or any Redis client. Four modules, read in this order:

    protocol  RESP: parsing commands (linear in the bytes received, however
              they are cut) and encoding replies
    store     one shard's keys, values and deadlines
    commands  what each command does, and how a pipelined batch is planned
    server    the processes: shards, the sweeper, one process per client

For a first reading, ``examples/kv_tutorial.py`` builds a much smaller one.

The supervision tree::

    KV server (Supervisor, rest_for_one)
      "shards"    Supervisor of N Shard servers; each owns the keys that hash to it
      "sweeper"   Sweeper: every ``sweep_interval`` (a GenServer timeout=) it
                  tells each shard to drop its expired keys
      "listener"  greenserver.net listener: one KVConnection process per client

A ``KVConnection`` gets its client's bytes as messages (active mode, one
at a time), parses every command that arrived (pipelining) and, when their
keys all live in one shard, casts the whole batch to that shard, which runs
it and writes the replies to the client itself: nobody waits for anybody, and
a shard serves many clients' batches in one go. A batch that spans shards
becomes a ``Plan`` each of them fills in; the last one writes the replies.
Either way they go out in request order.

Commands: PING, ECHO, GET, SET (EX/PX/NX/XX/KEEPTTL/GET), DEL, EXISTS, INCR,
DECR, INCRBY, DECRBY, MGET, MSET, EXPIRE/PEXPIRE (NX/XX/GT/LT), TTL, PTTL,
PERSIST, KEYS, DBSIZE, FLUSHDB, MULTI/EXEC/DISCARD (redis-py's pipelines
send them by default; no WATCH), QUIT, plus the few that clients send on
connecting (CONFIG GET, COMMAND, CLIENT, SELECT 0, HELLO 2). It speaks RESP2
only: a client asking for RESP3 (``HELLO 3``, redis-py 8's default) gets
Redis's ``NOPROTO`` error; pass ``protocol=2`` to such clients. Commands on
keys of different shards are not atomic together (MSET, DEL of many keys, a
transaction): each shard applies its part in one go.

Keys expire lazily (a read finds them dead) and in a periodic sweep, so
memory is given back even for keys nobody reads again. A client that breaks
the protocol gets Redis's error and is disconnected; nobody else notices.

The parser, the store and ``execute`` know nothing of processes: the
benchmark's plain gevent server (``bench/kv_bench.py``) runs them too.
"""

from __future__ import annotations

from kv.commands import COMMANDS, Command, Plan, execute, lookup
from kv.protocol import (
    Parser,
    ProtocolError,
    Reply,
    ReplyError,
    encode_command,
    parse_reply,
)
from kv.server import KVConnection, KVServer, PlanPart, Shard, Sweeper, Write, start
from kv.store import Store

__all__ = [
    "COMMANDS",
    "Command",
    "KVConnection",
    "KVServer",
    "Parser",
    "Plan",
    "PlanPart",
    "ProtocolError",
    "Reply",
    "ReplyError",
    "Shard",
    "Store",
    "Sweeper",
    "Write",
    "encode_command",
    "execute",
    "lookup",
    "parse_reply",
    "start",
]
