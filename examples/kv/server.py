"""The processes: shards, the sweeper, one connection process per client."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final, final

import greenserver as gs
from greenserver import net
from kv.commands import (
    EXEC,
    KEY,
    LOCAL,
    REPLY,
    Fn,
    Plan,
    Transaction,
    lookup,
    unknown_command,
)
from kv.protocol import Parser, error
from kv.store import SWEEP_BUDGET, Store

# --- the processes ---------------------------------------------------------------------


@final
class ShardTable:
    """Where each shard runs now: ``pids[i]``, updated by a shard as it starts.

    The connections read it on every request, so a restarted shard is used
    at once (the role a named ETS table or ``persistent_term`` plays in Erlang).
    """

    __slots__ = ("clock", "pids")

    def __init__(self, shards: int, clock: Callable[[], float]) -> None:
        self.pids: list[gs.Pid | None] = [None] * shards
        self.clock = clock


# The fast path: a batch whose keys live in one shard is cast to it, and the
# shard writes the replies to the client itself. Nobody waits for anybody, and
# a shard drains many clients' batches per wake-up.


@final
class Session:
    """What a connection and the shards writing for it share.

    ``pending`` counts the batches cast to ``shard`` (or the ``plan`` out to
    several shards) whose replies are not written yet; while it is non-zero
    only that shard (or the plan's last shard) writes, in order.
    ``unsent`` counts ``Unsent`` messages (replies a shard could not write
    without blocking) the connection has still to write; while it is non-zero
    the shard hands every reply over instead of writing it.
    """

    __slots__ = ("conn", "pending", "pid", "plan", "shard", "shard_pid", "unsent", "waiting")

    def __init__(self, conn: net.Conn, pid: gs.Pid) -> None:
        self.conn = conn
        self.pid = pid
        self.pending = 0
        self.shard = -1  # GATHERING while a Plan is out
        self.shard_pid: gs.Pid | None = None
        self.plan: Plan | None = None
        self.unsent = 0
        self.waiting = False


@final
class Write:
    """Cast to a shard: run the jobs and write their replies to the session's client.

    A job whose function is None carries its reply already (PING, an error).
    """

    __slots__ = ("jobs", "session")

    def __init__(self, session: Session, jobs: list[tuple[Fn | None, Any]]) -> None:
        self.session = session
        self.jobs = jobs


@final
class Unsent:
    """From a shard: reply bytes the client's socket would not take at once."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


DRAINED: Final = "kv.drained"  # from a shard: the last pending batch is written


GATHERING: Final = -2  # Session.shard while a Plan visits several shards


@final
class PlanPart:
    """Sent to each shard a Plan needs: run your jobs, fill them in; the last one writes."""

    __slots__ = ("plan", "shard")

    def __init__(self, plan: Plan, shard: int) -> None:
        self.plan = plan
        self.shard = shard


def deliver(session: Session, out: bytes) -> None:
    """Write *out* to the session's client without blocking; hand the rest over."""
    conn = session.conn
    if conn.closed:
        return
    try:
        if session.unsent:  # the connection writes: keep the order
            session.unsent += 1
            gs.send(session.pid, Unsent(out))
        else:
            written = conn.send_nowait(out)
            if written < len(out):
                session.unsent += 1
                gs.send(session.pid, Unsent(out[written:]))
    except OSError:
        pass  # the client is gone; its connection process is on its way out


def written(session: Session) -> None:
    """One batch of the session's is written: tell a waiting connection when none is left."""
    session.pending -= 1
    if session.pending == 0 and session.waiting:
        gs.send(session.pid, DRAINED)


def shard_write(store: Store, write: Write) -> None:
    """Run a Write in its shard and write (or hand over) the replies."""
    deliver(write.session, b"".join([a if fn is None else fn(store, a) for fn, a in write.jobs]))
    written(write.session)


def complete(plan: Plan) -> None:
    """Every shard filled in its part: write the replies."""
    session = plan.session
    assert session is not None
    session.plan = None
    deliver(session, plan.finish())
    written(session)


def shard_plan_part(store: Store, part: PlanPart) -> None:
    """Run a shard's part of a Plan; the last shard to do so writes the replies."""
    plan = part.plan
    if plan.waiting.pop(part.shard, None) is None:
        return  # the connection gave up on this shard already
    plan.fill(part.shard, [fn(store, a) for fn, a in plan.jobs[part.shard]])
    if plan.remaining == 0:
        complete(plan)


class Shard(gs.GenServer[Store]):
    """Owns the keys that hash to it; runs the jobs connections send."""

    @classmethod
    def child_spec(cls, arg: object) -> gs.ChildSpec:
        assert isinstance(arg, tuple)
        return gs.ChildSpec(("shard", arg[1]), (cls.start_link, (arg,), {}))

    def init(self, arg: tuple[ShardTable, int]) -> gs.Ok[Store]:
        table, index = arg
        table.pids[index] = gs.self()
        return gs.Ok(Store(table.clock))

    def handle_info(self, msg: Any, store: Store) -> gs.NoReply[Store]:
        kind = type(msg)
        if kind is Write:
            shard_write(store, msg)
            return gs.NoReply(store)
        if kind is PlanPart:
            shard_plan_part(store, msg)
            return gs.NoReply(store)
        return super().handle_info(msg, store)  # type: ignore[return-value]

    def handle_call(self, request: Any, from_: gs.Ref, store: Store) -> gs.Reply[Store]:
        if request == "sweep":
            return gs.Reply(store.sweep(), store)
        return super().handle_call(request, from_, store)  # type: ignore[return-value]

    def handle_cast(self, request: Any, store: Store) -> gs.NoReply[Store]:
        if request == "sweep":
            if store.sweep() >= SWEEP_BUDGET:  # more are due: go on after what is queued
                gs.GenServer.cast(gs.self(), "sweep")
            return gs.NoReply(store)
        return super().handle_cast(request, store)  # type: ignore[return-value]


class Sweeper(gs.GenServer[tuple[ShardTable, float]]):
    """Every *interval* seconds without a message (``timeout=``), has the shards sweep."""

    def init(self, arg: tuple[ShardTable, float]) -> gs.Ok[tuple[ShardTable, float]]:
        return gs.Ok(arg, timeout=arg[1])

    def handle_info(
        self, msg: Any, state: tuple[ShardTable, float]
    ) -> gs.NoReply[tuple[ShardTable, float]]:
        if msg == "timeout":
            for pid in state[0].pids:
                gs.GenServer.cast(pid, "sweep")
            return gs.NoReply(state, timeout=state[1])
        return super().handle_info(msg, state)  # type: ignore[return-value]

    def handle_call(
        self, request: Any, from_: gs.Ref, state: tuple[ShardTable, float]
    ) -> gs.Reply[tuple[ShardTable, float]]:
        if request == "sweep":  # sweep now and say how many keys went
            dropped = sum(gs.GenServer.call(pid, "sweep") for pid in state[0].pids)
            return gs.Reply(dropped, state, timeout=state[1])
        return super().handle_call(request, from_, state)  # type: ignore[return-value]


@final
class Client:
    """A connection's state: its socket, unparsed bytes, what the shards owe it."""

    __slots__ = ("conn", "monitors", "nshards", "parser", "session", "table", "tx")

    def __init__(self, conn: net.Conn, table: ShardTable) -> None:
        self.conn = conn
        self.table = table
        self.nshards = len(table.pids)
        self.session = Session(conn, gs.self())
        self.monitors: dict[gs.Pid, gs.Ref] = {}  # each shard used, monitored once
        self.parser = Parser()
        self.tx = Transaction()

    def watch(self, pid: gs.Pid) -> None:
        """Monitor shard *pid* (once): if it dies owing replies, its Down tells."""
        if pid not in self.monitors:
            self.monitors[pid] = gs.monitor(pid)


class Closing(Exception):
    """Raised inside a connection to end it: QUIT, a protocol error, a dead peer."""


class KVConnection(gs.GenServer[Client]):
    """One client, in active mode: each Data message is a batch of commands.

    A batch whose keys all live in one shard is cast to that shard, which
    writes the replies itself (``shard_write``); a batch that spans shards is
    a ``Plan`` each of them fills in, and the last one writes (``send_plan``).
    What a shard cannot write without blocking comes back as ``Unsent`` for
    this process to write. The client gets its replies in request order: a
    batch that could overtake replies still owed waits for them (``drain``).
    """

    def init(self, arg: tuple[net.Conn, ShardTable]) -> gs.Ok[Client]:
        conn, table = arg
        conn.set_active("once")
        return gs.Ok(Client(conn, table))

    def handle_info(self, msg: Any, client: Client) -> gs.NoReply[Client] | gs.Stop[Client]:
        kind = type(msg)
        try:
            if kind is net.Data:
                on_data(client, msg.data)
                client.conn.set_active("once")
            elif kind is Unsent:
                write_unsent(client, msg)
            elif kind is gs.Down:
                on_shard_down(client, msg)
            elif kind is net.Closed:
                return gs.Stop("normal", client)
            elif msg != DRAINED:  # a late one is harmless
                return super().handle_info(msg, client)
        except (Closing, OSError):  # OSError: the peer reset the connection
            client.conn.close()
            return gs.Stop("normal", client)
        return gs.NoReply(client)


def write_unsent(client: Client, unsent: Unsent) -> None:
    client.conn.send(unsent.data)  # blocks this client's process only
    client.session.unsent -= 1


def on_shard_down(client: Client, down: gs.Down) -> None:
    """A shard died: what it owed this client becomes error replies."""
    if client.monitors.get(down.pid) is down.ref:  # type: ignore[call-overload]
        del client.monitors[down.pid]  # type: ignore[arg-type]
    session = client.session
    problem = "exited while running the command"
    if session.pending and session.shard >= 0 and session.shard_pid == down.pid:
        # Its Unsent messages came before its Down, and were written.
        lost, session.pending = session.pending, 0
        client.conn.send(error(f"ERR shard {session.shard} {problem}") * lost)
    plan = session.plan
    if plan is not None:
        lost_parts = [shard for shard, pid in plan.waiting.items() if pid == down.pid]
        for shard in lost_parts:
            del plan.waiting[shard]
            plan.fail(shard, f"shard {shard} {problem}")
        if lost_parts and plan.remaining == 0:
            complete(plan)


def _is_for_barrier(msg: object) -> bool:
    return type(msg) is Unsent or msg == DRAINED or type(msg) is gs.Down


def drain(client: Client) -> None:
    """Wait until the shard has written (or handed over) every reply it owes."""
    session = client.session
    while session.pending or session.unsent:
        session.waiting = True
        try:
            msg = gs.receive(_is_for_barrier)
        finally:
            session.waiting = False
        if type(msg) is Unsent:
            write_unsent(client, msg)
        elif type(msg) is gs.Down:
            on_shard_down(client, msg)


def on_data(client: Client, data: bytes) -> None:
    commands, problem = client.parser.feed(data)
    if commands and run_batch(client, commands):
        drain(client)  # QUIT: once the replies are out, close
        raise Closing
    if problem is not None:
        drain(client)
        client.conn.send(problem.reply())
        raise Closing


def run_batch(client: Client, commands: list[list[bytes]]) -> bool:
    """Run a batch of pipelined commands; True when a QUIT ends the connection."""
    if client.tx.queued is None and cast_batch(client, commands):
        return False  # the common case: one shard's keys, no MULTI
    for kind, what in client.tx.steps(commands):
        if kind == REPLY:  # MULTI's +OK, +QUEUED, errors: after what is owed
            drain(client)
            client.conn.send(what)
        elif send_plan(client, what, transaction=kind == EXEC):
            return True
    return False


def send_plan(client: Client, commands: list[list[bytes]], *, transaction: bool = False) -> bool:
    """Send each shard its part of *commands*; the last shard writes. True on QUIT."""
    drain(client)  # a Plan's writer is not known in advance: nothing may be owed
    plan = Plan(commands, client.nshards, transaction=transaction)
    if not plan.jobs:
        client.conn.send(plan.finish())
        return plan.close
    session = client.session
    plan.session = session
    session.plan = plan
    session.shard = GATHERING
    session.pending += 1
    pids = client.table.pids
    for shard in plan.jobs:
        pid = pids[shard]
        if pid is None:
            plan.fail(shard, f"shard {shard} is unavailable")
            continue
        client.watch(pid)  # a dead shard answers with its Down
        plan.waiting[shard] = pid
        gs.send(pid, PlanPart(plan, shard))
    if plan.remaining == 0:  # no shard to ask
        complete(plan)
    return plan.close


def cast_batch(client: Client, commands: list[list[bytes]]) -> bool:
    """Cast *commands* to the one shard their keys live in; False if they need more.

    PINGs and errors ride along as ready replies. Keys in several shards,
    multi-key commands and QUIT return False (``send_plan`` then).
    """
    nshards = client.nshards
    session = client.session
    shard = -1
    jobs: list[tuple[Fn | None, Any]] = []
    for args in commands:
        command = lookup(args[0])
        if command is None:
            jobs.append((None, unknown_command(args)))
            continue
        arity = command.arity
        if not (len(args) == arity or (arity < 0 and len(args) >= -arity)):
            jobs.append((None, command.arity_error()))
            continue
        route = command.route
        if route == KEY:
            target = hash(args[1]) % nshards if nshards > 1 else 0
            if shard < 0:
                shard = target
            elif target != shard:
                return False
            jobs.append((command.fn, args))
        elif route == LOCAL and command.name != "quit":
            assert command.local is not None
            jobs.append((None, command.local(args)))
        else:
            return False
    if shard < 0:  # nothing for a shard
        if session.pending and session.shard >= 0:
            shard = session.shard  # behind what a shard is writing: it writes these too
        else:
            drain(client)
            client.conn.send(b"".join(reply for _, reply in jobs))
            return True
    pid = client.table.pids[shard]
    if session.pending and (shard != session.shard or pid != session.shard_pid):
        drain(client)  # another shard (or a dead one) owes replies: let it finish first
    if pid is None or not gs.alive(pid):
        return False  # the Plan path reports the shard unavailable
    client.watch(pid)
    session.pending += 1
    session.shard = shard
    session.shard_pid = pid
    gs.send(pid, Write(session, jobs))
    return True


class KVServer:
    """A running KV server: its supervisor and the listener's port."""

    def __init__(self, pid: gs.Pid, listener: net.Listener, table: ShardTable) -> None:
        self.pid = pid
        self.listener = listener
        self.table = table

    @property
    def port(self) -> int:
        return self.listener.port

    def sweep(self) -> int:
        """Sweep every shard now; return how many expired keys were dropped."""
        for child_id, pid, _ in gs.Supervisor.which_children(self.pid):
            if child_id == "sweeper":
                return gs.GenServer.call(pid, "sweep")  # type: ignore[no-any-return]
        raise RuntimeError("the KV server has no sweeper")

    def stop(self, grace: float = 1.0) -> None:
        """Stop accepting, give clients *grace* seconds to finish, then stop everything."""
        if not gs.alive(self.pid):
            return
        self.listener.suspend()
        self.listener.wait_drained(grace)
        gs.Supervisor.stop(self.pid)


def start(
    host: str = "127.0.0.1",
    port: int = 6380,
    *,
    shards: int = 4,
    acceptors: int = 4,
    sweep_interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
) -> KVServer:
    """Start the KV server's supervision tree, linked to the caller."""
    table = ShardTable(shards, clock)
    children: list[object] = [
        gs.ChildSpec(
            "shards",
            (
                gs.Supervisor.start_link,
                ([(Shard, (table, i)) for i in range(shards)],),
                {"strategy": "one_for_one", "max_restarts": 10, "max_seconds": 5.0},
            ),
            type="supervisor",
        ),
        gs.ChildSpec("sweeper", (Sweeper.start_link, ((table, sweep_interval),), {})),
        net.child_spec(
            KVConnection, table, id="listener", host=host, port=port, acceptors=acceptors
        ),
    ]
    pid = gs.Supervisor.start_link(children, strategy="rest_for_one")
    assert pid is not None
    for child_id, child, _ in gs.Supervisor.which_children(pid):
        if child_id == "listener":
            assert type(child) is gs.Pid
            return KVServer(pid, net.Listener.of(child), table)
    raise AssertionError("unreachable: the listener is a child")
