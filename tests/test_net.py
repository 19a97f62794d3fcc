"""greenserver.net: listeners, connection processes, passive and active modes, shutdown."""

from __future__ import annotations

import os
import socket as stdlib_socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gevent import socket

import greenserver as gs
from greenserver import net
from greenserver.testing import ReportLog

Start = Callable[..., net.Listener]


@pytest.fixture
def start() -> Iterator[Start]:
    """Start listeners that are stopped (at once) when the test ends."""
    listeners: list[net.Listener] = []

    def start(handler: type[gs.GenServer[Any]], arg: object = None, **opts: Any) -> net.Listener:
        listener = net.start_listener(handler, arg, **opts)
        listeners.append(listener)
        return listener

    yield start
    for listener in listeners:
        listener.stop(grace=0)


@pytest.fixture
def connect() -> Iterator[Callable[[net.Listener], socket.socket]]:
    """Open client sockets (cooperative, so the in-process server runs) closed at the end."""
    clients: list[socket.socket] = []

    def connect(listener: net.Listener) -> socket.socket:
        client = socket.create_connection((listener.host, listener.port), timeout=5)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


@pytest.fixture
def barrier(start: Start, connect: Callable[[net.Listener], socket.socket]) -> Callable[[], None]:
    """A round trip through another listener: afterwards, the hub has polled and
    dispatched every socket event that was pending before the call."""
    client = connect(start(Echo))

    def barrier() -> None:
        client.sendall(b".")
        assert recv_exactly(client, 1) == b"."

    return barrier


def _readlink(fd: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"


def recv_exactly(client: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = client.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def wait_eof(client: socket.socket) -> bytes:
    """Read until the server closes; return what came before."""
    data = b""
    while chunk := client.recv(4096):
        data += chunk
    return data


def expect(match: Callable[[Any], bool], timeout: float = 5.0) -> Any:
    return gs.receive(match, timeout=timeout)


class Echo(gs.GenServer[net.Conn]):
    """Passive: reads its socket in a loop and echoes; stops when the peer closes."""

    def init(self, arg: tuple[net.Conn, object]) -> gs.Ok[net.Conn]:
        conn, _ = arg
        return gs.Ok(conn, continue_="serve")

    def handle_continue(self, _arg: Any, conn: net.Conn) -> gs.Stop[net.Conn]:
        while data := conn.recv():
            conn.send(data)
        return gs.Stop("normal", conn)


class ActiveEcho(gs.GenServer[net.Conn]):
    """Active: echoes each Data message; stops on Closed."""

    def init(self, arg: tuple[net.Conn, object]) -> gs.Ok[net.Conn]:
        return gs.Ok(arg[0])

    def handle_info(self, msg: Any, conn: net.Conn) -> gs.NoReply[net.Conn] | gs.Stop[net.Conn]:
        match msg:
            case net.Data(_, data):
                conn.send(data)
                if conn.owner is not None:
                    conn.set_active("once")
            case net.Closed():
                return gs.Stop("normal", conn)
        return gs.NoReply(conn)


class Forward(gs.GenServer[tuple[net.Conn, gs.Pid]]):
    """Tells the test it started, forwards every message to it, runs functions it calls with.

    Its arg is ``(test_pid, mode)``: *mode* goes to ``set_active`` in init
    (``None``: leave the connection as the listener made it).
    """

    def init(self, arg: tuple[net.Conn, Any]) -> gs.Ok[tuple[net.Conn, gs.Pid]]:
        conn, (test, mode) = arg
        if mode is not None:
            conn.set_active(mode)
        gs.send(test, ("started", gs.self(), conn))
        return gs.Ok((conn, test))

    def handle_info(
        self, msg: Any, state: tuple[net.Conn, gs.Pid]
    ) -> gs.NoReply[tuple[net.Conn, gs.Pid]] | gs.Stop[tuple[net.Conn, gs.Pid]]:
        gs.send(state[1], msg)
        if isinstance(msg, net.Closed):
            return gs.Stop("normal", state)
        return gs.NoReply(state)

    def handle_call(
        self, request: Any, from_: gs.Ref, state: tuple[net.Conn, gs.Pid]
    ) -> gs.Reply[tuple[net.Conn, gs.Pid]] | gs.Stop[tuple[net.Conn, gs.Pid]]:
        if request == "stop":
            return gs.Stop("normal", state, reply="ok")
        return gs.Reply(request(state[0]), state)


def started() -> tuple[gs.Pid, net.Conn]:
    msg = expect(lambda m: type(m) is tuple and m[0] == "started")
    return msg[1], msg[2]


class TestStartListener:
    def test_listens_on_loopback_and_reports_the_chosen_port(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Echo)
        client = connect(listener)
        client.sendall(b"ping")

        assert listener.host == "127.0.0.1"
        assert listener.port > 0
        assert recv_exactly(client, 4) == b"ping"

    def test_handler_init_gets_the_conn_and_the_arg(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Forward, (gs.self(), None))
        client = connect(listener)

        pid, conn = started()
        assert conn.peer == client.getsockname()
        assert conn.sockname == ("127.0.0.1", listener.port)
        assert listener.connections() == [pid]
        assert conn.owner == pid

    def test_a_taken_port_raises_oserror_and_starts_nothing(self) -> None:
        with stdlib_socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            before = set(gs.processes())

            with pytest.raises(OSError, match="Address already in use"):
                net.start_listener(Echo, port=taken.getsockname()[1])

            assert set(gs.processes()) == before

    @pytest.mark.parametrize(
        ("opts", "message"),
        [
            ({"port": 70000}, r"^port must be an int in 0\.\.65535; got 70000$"),
            ({"acceptors": 0}, r"^acceptors must be an int >= 1; got 0$"),
            ({"max_connections": 0}, r"^max_connections must be an int >= 1 or None; got 0$"),
            ({"active": "twice"}, r"^active must be True, False, 'once' or an int; got 'twice'$"),
            ({"backlog": 0}, r"^backlog must be an int >= 1; got 0$"),
            (
                {"shutdown": -1},
                r"^shutdown must be seconds >= 0, 'brutal_kill' or None; got -1$",
            ),
        ],
    )
    def test_bad_options_raise_value_error(self, opts: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            net.start_listener(Echo, **opts)

    def test_handler_must_be_a_gen_server(self) -> None:
        with pytest.raises(TypeError, match=r"^handler must be a GenServer subclass; got <class"):
            net.start_listener(dict)  # type: ignore[arg-type]

    def test_name_registers_the_top_supervisor(self, start: Start) -> None:
        listener = start(Echo, name="echo_listener")

        assert gs.whereis("echo_listener") == listener.pid


class TestPassive:
    def test_the_handler_reads_its_socket_itself(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Echo)
        clients = [connect(listener) for _ in range(3)]
        for i, client in enumerate(clients):
            client.sendall(b"hello %d" % i)

        assert [recv_exactly(c, 7) for c in clients] == [b"hello 0", b"hello 1", b"hello 2"]
        assert len(listener.connections()) == 3

    def test_recv_returns_empty_bytes_when_the_peer_closes(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Forward, (gs.self(), None))
        client = connect(listener)
        pid, _ = started()
        client.sendall(b"bye")
        client.shutdown(stdlib_socket.SHUT_WR)

        assert gs.GenServer.call(pid, lambda conn: conn.recv()) == b"bye"
        assert gs.GenServer.call(pid, lambda conn: conn.recv()) == b""

    def test_recv_timeout_raises_timeout_error(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Forward, (gs.self(), None))
        connect(listener)  # and never send
        pid, _ = started()

        def recv_briefly(conn: net.Conn) -> object:
            try:
                return conn.recv(timeout=0.01)
            except TimeoutError as exc:
                return exc

        assert isinstance(gs.GenServer.call(pid, recv_briefly), TimeoutError)

    def test_send_and_recv_after_close_raise_connection_error(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Forward, (gs.self(), None))
        client = connect(listener)
        _, conn = started()
        conn.close()

        assert conn.closed
        assert wait_eof(client) == b""
        with pytest.raises(ConnectionError, match=r"^send\(\) on <Conn 127\.0\.0\.1:\d+ closed>"):
            conn.send(b"x")
        with pytest.raises(ConnectionError, match=r"^recv\(\) on <Conn 127\.0\.0\.1:\d+ closed>"):
            conn.recv()


class TestActive:
    def test_once_delivers_one_message_then_the_connection_is_passive(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Forward, (gs.self(), "once"))
        client = connect(listener)
        pid, conn = started()
        client.sendall(b"first")

        assert expect(lambda m: isinstance(m, net.Data)) == net.Data(conn, b"first")
        client.sendall(b"second")
        # Passive now: the bytes wait in the socket for recv().
        assert gs.GenServer.call(pid, lambda c: c.recv()) == b"second"

    def test_n_delivers_n_messages_then_passive(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Forward, (gs.self(), 2))
        client = connect(listener)
        pid, conn = started()
        received = []
        for chunk in (b"a", b"b"):
            client.sendall(chunk)
            received.append(expect(lambda m: isinstance(m, (net.Data, net.Passive))))

        assert received == [net.Data(conn, b"a"), net.Data(conn, b"b")]
        assert expect(lambda m: isinstance(m, (net.Data, net.Passive))) == net.Passive(conn)
        client.sendall(b"c")
        assert gs.GenServer.call(pid, lambda c: c.recv()) == b"c"

    def test_n_adds_to_what_is_left_and_a_total_of_zero_turns_passive_at_once(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Forward, (gs.self(), 3))
        connect(listener)
        pid, conn = started()

        gs.GenServer.call(pid, lambda c: c.set_active(-3))

        assert expect(lambda m: isinstance(m, net.Passive)) == net.Passive(conn)

    def test_true_delivers_everything_and_false_stops_at_once(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Forward, (gs.self(), True))
        client = connect(listener)
        pid, _ = started()
        got = b""
        client.sendall(b"x" * 100)
        while len(got) < 100:
            got += expect(lambda m: isinstance(m, net.Data)).data

        assert got == b"x" * 100
        gs.GenServer.call(pid, lambda c: c.set_active(False))
        client.sendall(b"later")
        assert gs.GenServer.call(pid, lambda c: c.recv()) == b"later"

    def test_the_peer_closing_sends_closed(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Forward, (gs.self(), True))
        client = connect(listener)
        pid, conn = started()
        ref = gs.monitor(pid)
        client.close()

        assert expect(lambda m: isinstance(m, net.Closed)) == net.Closed(conn, "closed")
        assert expect(lambda m: isinstance(m, gs.Down) and m.ref is ref).reason == "normal"

    def test_the_listener_active_option_sets_the_initial_mode(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Forward, (gs.self(), None), active="once")
        client = connect(listener)
        _, conn = started()
        client.sendall(b"hi")

        assert expect(lambda m: isinstance(m, net.Data)) == net.Data(conn, b"hi")

    def test_recv_in_active_mode_raises_runtime_error(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Forward, (gs.self(), "once"))
        connect(listener)
        _, conn = started()

        with pytest.raises(
            RuntimeError,
            match=r"^recv\(\) on <Conn 127\.0\.0\.1:\d+> in active mode 'once'; "
            r"call set_active\(False\) first$",
        ):
            conn.recv()

    @pytest.mark.parametrize("mode", ["twice", 40000, 1.5, None])
    def test_set_active_rejects_other_modes(
        self, mode: Any, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Forward, (gs.self(), None))
        connect(listener)
        _, conn = started()

        with pytest.raises(
            ValueError,
            match=r"^active mode must be True, False, 'once' or an int in -32768\.\.32767; got ",
        ):
            conn.set_active(mode)

    def test_a_flooding_client_leaves_at_most_one_message_queued(
        self,
        start: Start,
        connect: Callable[[net.Listener], socket.socket],
        barrier: Callable[[], None],
    ) -> None:
        """With "once", a busy handler's mailbox holds one Data, whatever the peer sends."""
        listener = start(Forward, (gs.self(), "once"))
        client = connect(listener)
        pid, _ = started()
        gs.sys.suspend(pid)  # busy: it takes no message until resumed
        for _ in range(20):
            client.sendall(b"x" * 1000)
        barrier()

        info = gs.info(pid)
        assert info is not None
        assert info["message_queue_len"] == 1
        gs.sys.resume(pid)
        first = expect(lambda m: isinstance(m, net.Data)).data
        rest = b""
        while len(first) + len(rest) < 20_000:
            rest += gs.GenServer.call(pid, lambda c: c.recv())
        assert first + rest == b"x" * 20_000


class TestOwnership:
    def test_the_socket_closes_when_the_handler_stops(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Forward, (gs.self(), None))
        client = connect(listener)
        pid, conn = started()

        assert gs.GenServer.call(pid, "stop") == "ok"
        assert wait_eof(client) == b""
        assert listener.wait_drained(timeout=5)
        assert conn.closed

    def test_the_socket_closes_when_the_handler_is_killed(
        self,
        start: Start,
        connect: Callable[[net.Listener], socket.socket],
        gs_reports: ReportLog,
    ) -> None:
        listener = start(Echo)
        client = connect(listener)
        client.sendall(b"x")
        recv_exactly(client, 1)
        [pid] = listener.connections()
        gs_reports.expect("supervisor_report", pid=pid, reason="'killed'")

        gs.exit(pid, "kill")

        assert wait_eof(client) == b""

    def test_a_crashing_handler_closes_only_its_connection(
        self,
        start: Start,
        connect: Callable[[net.Listener], socket.socket],
        gs_reports: ReportLog,
    ) -> None:
        listener = start(Forward, (gs.self(), None))
        doomed, other = connect(listener), connect(listener)
        doomed_pid, _ = started()
        started()
        gs_reports.expect("crash_report", pid=doomed_pid)
        gs_reports.expect("supervisor_report", pid=doomed_pid, context="child_terminated")

        with pytest.raises(gs.ServerExitError):
            gs.GenServer.call(doomed_pid, lambda conn: 1 / 0)

        assert wait_eof(doomed) == b""
        other.sendall(b"still here")
        [survivor] = listener.connections()
        assert gs.GenServer.call(survivor, lambda c: c.recv()) == b"still here"

    def test_a_handler_that_fails_to_start_closes_its_connection(
        self,
        start: Start,
        connect: Callable[[net.Listener], socket.socket],
        gs_reports: ReportLog,
    ) -> None:
        class Refuse(gs.GenServer[Any]):
            def init(self, arg: Any) -> gs.Stop[Any]:
                return gs.Stop("not_today")

        gs_reports.expect("supervisor_report", context="start_error")
        listener = start(Refuse)
        client = connect(listener)

        assert wait_eof(client) == b""
        assert listener.connections() == []

    def test_controlling_process_hands_the_messages_to_another_process(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Forward, (gs.self(), None))
        client = connect(listener)
        pid, conn = started()
        me = gs.self()

        gs.GenServer.call(pid, lambda c: c.controlling_process(me))
        conn.set_active("once")
        client.sendall(b"to the test")

        assert conn.owner == me
        assert gs.receive(lambda m: isinstance(m, net.Data), timeout=5) == net.Data(
            conn, b"to the test"
        )
        gs.GenServer.call(pid, "stop")  # its exit no longer closes the connection
        client.sendall(b"still open")
        assert conn.recv() == b"still open"
        conn.close()
        assert wait_eof(client) == b""


class TestMaxConnections:
    def test_clients_beyond_the_limit_wait_until_a_connection_closes(
        self,
        start: Start,
        connect: Callable[[net.Listener], socket.socket],
        barrier: Callable[[], None],
    ) -> None:
        listener = start(Forward, (gs.self(), None), max_connections=2, acceptors=2)
        connect(listener), connect(listener)
        first_pid, _ = started()
        started()
        third = connect(listener)  # waits in the backlog: nobody accepts it
        barrier()

        assert listener.statistics().accepted == 2
        gs.GenServer.call(first_pid, "stop")
        _, conn = started()
        assert conn.peer == third.getsockname()
        assert listener.statistics().accepted == 3


class TestStop:
    def test_stop_leaves_no_process_and_no_file_descriptor(
        self, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        fds_before = set(os.listdir("/proc/self/fd"))
        processes_before = set(gs.processes())
        handlers: list[tuple[type[gs.GenServer[Any]], net.Active]] = [
            (Echo, False),
            (ActiveEcho, "once"),
            (ActiveEcho, True),
        ]
        for handler, active in handlers:
            listener = net.start_listener(handler, active=active, acceptors=3)
            clients = [connect(listener) for _ in range(4)]
            for client in clients:
                client.sendall(b"ok")
                assert recv_exactly(client, 2) == b"ok"
            clients[0].close()

            listener.stop(grace=0)

            assert set(gs.processes()) == processes_before
            for client in clients[1:]:
                assert wait_eof(client) == b""
                client.close()
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((listener.host, listener.port), timeout=5)

        left = {fd: _readlink(fd) for fd in set(os.listdir("/proc/self/fd")) - fds_before}
        assert left == {}

    def test_open_connections_get_the_grace_period_to_finish(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        me = gs.self()

        class Busy(gs.GenServer[Any]):
            """Answers "work" only when the test says "go", then closes."""

            def init(self, arg: tuple[net.Conn, Any]) -> gs.Ok[Any]:
                conn, _ = arg
                conn.set_active("once")
                return gs.Ok(conn)

            def handle_info(self, msg: Any, conn: net.Conn) -> Any:
                if isinstance(msg, net.Data):
                    gs.send(me, ("working", gs.self()))
                    gs.receive(lambda m: m == "go")
                    conn.send(b"done")
                    return gs.Stop("normal", conn)
                return gs.NoReply(conn)

        listener = start(Busy)
        client = connect(listener)
        client.sendall(b"work")
        worker = expect(lambda m: type(m) is tuple and m[0] == "working")[1]

        def waiting_for_worker(event: dict[str, Any]) -> None:
            if event["target"] == worker:
                gs.send(me, "stop is waiting")

        handle = gs.trace.add_handler(waiting_for_worker, events=["monitor"])
        try:
            _, ref = gs.spawn_monitor(listener.stop, 30.0)
            expect(lambda m: m == "stop is waiting")
        finally:
            gs.trace.remove_handler(handle)
        with pytest.raises(ConnectionRefusedError):  # it stopped accepting first
            socket.create_connection((listener.host, listener.port), timeout=5)

        gs.send(worker, "go")

        assert wait_eof(client) == b"done"
        assert expect(lambda m: isinstance(m, gs.Down) and m.ref is ref).reason == "normal"
        assert not gs.alive(listener.pid)

    def test_after_the_grace_period_remaining_connections_are_closed(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Echo)
        client = connect(listener)
        client.sendall(b"x")
        recv_exactly(client, 1)
        [pid] = listener.connections()
        ref = gs.monitor(pid)

        listener.stop(grace=0.05)

        assert expect(lambda m: isinstance(m, gs.Down) and m.ref is ref).reason == "shutdown"
        assert wait_eof(client) == b""

    def test_stopping_twice_does_nothing(self) -> None:
        listener = net.start_listener(Echo)
        listener.stop(grace=0)

        listener.stop(grace=0)

    def test_suspend_refuses_clients_and_resume_listens_on_the_same_port(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Echo)
        early = connect(listener)
        early.sendall(b"in")
        assert recv_exactly(early, 2) == b"in"  # accepted before the suspend
        port = listener.port

        listener.suspend()

        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
        early.sendall(b"open")
        assert recv_exactly(early, 4) == b"open"
        listener.resume()
        late = connect(listener)
        late.sendall(b"back")
        assert recv_exactly(late, 4) == b"back"
        assert listener.port == port


class TestSupervision:
    def test_a_killed_acceptor_is_restarted_and_clients_are_served(
        self,
        start: Start,
        connect: Callable[[net.Listener], socket.socket],
        gs_reports: ReportLog,
    ) -> None:
        listener = start(Echo, acceptors=1)
        tree = {cid: pid for cid, pid, _ in gs.Supervisor.which_children(listener.pid)}
        assert list(tree) == ["ports", "connections", "listen_socket", "acceptors"]
        [(_, acceptor, _)] = gs.Supervisor.which_children(tree["acceptors"])
        gs_reports.expect("supervisor_report", pid=acceptor, reason="'killed'")

        gs.exit(acceptor, "kill")  # type: ignore[arg-type]
        client = connect(listener)
        client.sendall(b"again")

        assert recv_exactly(client, 5) == b"again"

    def test_child_spec_runs_a_listener_in_your_own_tree(
        self, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        sup = gs.Supervisor.start_link([net.child_spec(Echo, id="echo")])
        [(child_id, pid, kind)] = gs.Supervisor.which_children(sup)
        assert type(pid) is gs.Pid
        listener = net.Listener.of(pid)
        client = connect(listener)
        client.sendall(b"tree")

        assert (child_id, kind) == ("echo", "supervisor")
        assert recv_exactly(client, 4) == b"tree"
        gs.Supervisor.stop(sup)
        assert wait_eof(client) == b""

    def test_listener_of_another_process_raises_value_error(self) -> None:
        sup = gs.Supervisor.start_link([])

        with pytest.raises(ValueError, match=r"^<0\.\d+\.0> is not a greenserver\.net listener$"):
            net.Listener.of(sup)
        gs.Supervisor.stop(sup)

    def test_statistics_count_connections(
        self, start: Start, connect: Callable[[net.Listener], socket.socket]
    ) -> None:
        listener = start(Forward, (gs.self(), None))
        clients = [connect(listener) for _ in range(3)]
        pids = [started()[0] for _ in clients]
        ref = gs.monitor(pids[0])
        gs.GenServer.call(pids[0], "stop")
        gs.receive(lambda m: isinstance(m, gs.Down) and m.ref is ref, timeout=5)
        assert wait_eof(clients[0]) == b""

        assert listener.statistics() == net.ListenerStatistics(accepted=3, closed=1, open=2)
