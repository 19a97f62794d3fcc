"""Elixir's key-value tutorial ("Mix and OTP"), step by step, in greenserver.

Buckets of keys are processes; a registry names them and forgets the ones
that die; supervisors restart what crashes; a TCP server speaks a small text
protocol. Run it, then type into ``nc 127.0.0.1 4040``::

    python examples/kv_tutorial.py

    CREATE shopping
    OK
    PUT shopping milk 1
    OK
    GET shopping milk
    1
    OK
    DELETE shopping milk
    OK

It is written for reading; ``examples/kv/`` grows the same idea into a
Redis-protocol server.
"""

from __future__ import annotations

import sys
from typing import Any

import greenserver as gs
from greenserver import net

# --- 1. A bucket is an Agent: a process holding a dict --------------------------
# The functions passed to an Agent run inside the bucket's process, one at a
# time, so they may change the dict in place: no other process touches it.


def bucket_get(bucket: gs.Pid, key: str) -> str | None:
    value: str | None = gs.Agent.get(bucket, lambda data: data.get(key))
    return value


def bucket_put(bucket: gs.Pid, key: str, value: str) -> None:
    def put(data: dict[str, str]) -> dict[str, str]:
        data[key] = value
        return data

    gs.Agent.update(bucket, put)


def bucket_delete(bucket: gs.Pid, key: str) -> str | None:
    value: str | None = gs.Agent.get_and_update(bucket, lambda data: (data.pop(key, None), data))
    return value


# --- 2. The registry: bucket names to pids, forgetting dead buckets -------------
# A GenServer whose state is two dicts: names to pids, and the monitor of
# each bucket to its name. When a bucket dies, its monitor's Down message
# arrives in handle_info and the name is dropped.

REGISTRY = "kv.registry"
BUCKETS = "kv.buckets"
Names = tuple[dict[str, gs.Pid], dict[gs.Ref, str]]


class Registry(gs.GenServer[Names]):
    @classmethod
    def lookup(cls, server: object, name: str) -> gs.Pid | None:
        return gs.GenServer.call(server, ("lookup", name))  # type: ignore[no-any-return]

    @classmethod
    def create(cls, server: object, name: str) -> gs.Pid:
        return gs.GenServer.call(server, ("create", name))  # type: ignore[no-any-return]

    def init(self, arg: object) -> gs.Ok[Names]:
        return gs.Ok(({}, {}))

    def handle_call(self, request: Any, from_: gs.Ref, state: Names) -> gs.Reply[Names]:
        names, refs = state
        match request:
            case ("lookup", name):
                return gs.Reply(names.get(name), state)
            case ("create", name) if name in names:
                return gs.Reply(names[name], state)
            case ("create", name):
                # Buckets are "temporary" children: a dead bucket stays dead,
                # and its Down tells us to forget its name.
                spec = gs.ChildSpec(name, (gs.Agent.start_link, (dict,), {}), restart="temporary")
                bucket = gs.DynamicSupervisor.start_child(BUCKETS, spec)
                assert bucket is not None
                refs[gs.monitor(bucket)] = name
                names[name] = bucket
                return gs.Reply(bucket, state)
        return super().handle_call(request, from_, state)  # type: ignore[return-value]

    def handle_info(self, msg: Any, state: Names) -> gs.NoReply[Names]:
        names, refs = state
        if isinstance(msg, gs.Down) and msg.ref in refs:
            del names[refs.pop(msg.ref)]
        return gs.NoReply(state)


# --- 3. The server: one process per client, one command per line ----------------


def parse(line: str) -> tuple[str, ...] | None:
    """Split a command line; None if it is not a command."""
    match line.split():
        case ["CREATE", _] | ["GET", _, _] | ["PUT", _, _, _] | ["DELETE", _, _] as words:
            return tuple(words)
    return None


def run(command: tuple[str, ...]) -> str:
    """Run a parsed command and return the reply."""
    if command[0] == "CREATE":
        Registry.create(REGISTRY, command[1])
        return "OK\r\n"
    bucket = Registry.lookup(REGISTRY, command[1])
    if bucket is None:
        return "NOT FOUND\r\n"
    match command:
        case ("GET", _, key):
            return f"{bucket_get(bucket, key) or ''}\r\nOK\r\n"
        case ("PUT", _, key, value):
            bucket_put(bucket, key, value)
        case ("DELETE", _, key):
            bucket_delete(bucket, key)
    return "OK\r\n"


class Connection(gs.GenServer[tuple[net.Conn, bytes]]):
    """Serves one client: its bytes arrive as messages, one batch at a time."""

    def init(self, arg: tuple[net.Conn, object]) -> gs.Ok[tuple[net.Conn, bytes]]:
        conn, _ = arg
        conn.set_active("once")
        return gs.Ok((conn, b""))

    def handle_info(self, msg: Any, state: tuple[net.Conn, bytes]) -> Any:
        conn, buf = state
        match msg:
            case net.Data(_, data):
                *lines, rest = (buf + data).split(b"\n")
                for line in lines:
                    command = parse(line.decode(errors="replace"))
                    conn.send((run(command) if command else "UNKNOWN COMMAND\r\n").encode())
                conn.set_active("once")
                return gs.NoReply((conn, rest))
            case net.Closed():
                return gs.Stop("normal", state)
        return gs.NoReply(state)


# --- 4. The supervision tree ------------------------------------------------------
#   top (rest_for_one)
#     "kv" (one_for_all): "kv.buckets" (DynamicSupervisor), "kv.registry"
#     "server": the TCP listener
# If the registry crashes, the buckets go too (one_for_all): no bucket is
# left that no name leads to. If "kv" restarts, so does the server.


def start(port: int = 4040) -> gs.Pid:
    """Start the tree, linked to the caller; return the top supervisor."""
    buckets = gs.ChildSpec(
        BUCKETS,
        (gs.DynamicSupervisor.start_link, (), {"name": BUCKETS}),
        type="supervisor",
    )
    registry = gs.ChildSpec(REGISTRY, (Registry.start_link, (None,), {"name": REGISTRY}))
    kv = gs.ChildSpec(
        "kv",
        (gs.Supervisor.start_link, ([buckets, registry],), {"strategy": "one_for_all"}),
        type="supervisor",
    )
    server = net.child_spec(Connection, id="server", port=port)
    return gs.Supervisor.start_link([kv, server], strategy="rest_for_one")


def port_of(top: gs.Pid) -> int:
    """The port the server listens on (useful after ``start(port=0)``)."""
    [listener] = [pid for id_, pid, _ in gs.Supervisor.which_children(top) if id_ == "server"]
    assert isinstance(listener, gs.Pid)
    return net.Listener.of(listener).port


if __name__ == "__main__":
    top = start(int(sys.argv[1]) if len(sys.argv) > 1 else 4040)
    print(f"kv_tutorial: try `nc 127.0.0.1 {port_of(top)}`; Ctrl-C stops it")
    try:
        gs.receive()  # nothing will come: serve until Ctrl-C
    except KeyboardInterrupt:
        gs.Supervisor.stop(top)
