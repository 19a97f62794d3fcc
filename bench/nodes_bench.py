"""``python -m bench.nodes_bench``: distribution round trips, same run, as ratios.

Call round trips over loopback: Elixir->Elixir (the baseline), Elixir->greenserver,
greenserver->Elixir, greenserver->greenserver (a ``gs.node.Peer``), casts/s between
two greenserver nodes, and the term codec against erlang-py (when installed).
Each figure is the median of several runs; ratios are against Elixir->Elixir.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import sys
import tempfile
import time

import gevent
import gevent.subprocess as subprocess

import greenserver as gs
from greenserver._dist_terms import Atom, ImproperList, decode, encode

N = 2000
RUNS = 5
COOKIE = "bench-cookie"
SERVER_EX = """
defmodule Echo do
  use GenServer
  def init(s), do: {:ok, s}
  def handle_call(r, _f, s), do: {:reply, r, s}
end
"""


class Echo(gs.GenServer[None]):
    def init(self, arg: None) -> gs.Ok[None]:
        return gs.Ok(None)

    def handle_call(self, request: object, from_: gs.Ref, state: None) -> gs.Reply[None]:
        return gs.Reply(request, state)

    def handle_cast(self, request: object, state: None) -> gs.NoReply[None]:
        if request == "flush":
            pass
        return gs.NoReply(state)


def _median_us(fn: object, runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append((time.perf_counter() - t0) / N * 1e6)
    return statistics.median(samples)


def codec() -> None:
    local = gs.node._node
    assert local is not None
    me = gs.self()
    ref = gs.Ref()
    term = (Atom("$gen_call"), (me, ImproperList([Atom("alias")], ref)), (Atom("get"), "key", 42))
    data = encode(term, local)

    def ours() -> None:
        for _ in range(N):
            decode(encode(term, local), local)

    print(f"codec: encode+decode of a call, greenserver: {_median_us(ours):.1f} us")
    try:
        import erlang  # erlang-py, the bench extra
    except ImportError:
        print("codec: erlang-py not installed (pip install erlang-py==2.0.7)")
        return
    raw = erlang.binary_to_term(data)

    def theirs() -> None:
        for _ in range(N):
            erlang.binary_to_term(erlang.term_to_binary(raw))

    print(
        f"codec: the same with erlang-py (no conversion to our types): {_median_us(theirs):.1f} us"
    )


def elixir_calls(target: str | None) -> float:
    """Median us per call measured by an Elixir node (to its twin, or to *target*)."""
    dest = f'{{:echo, :"{target}"}}' if target else '{:echo, :"exb@#{host}"}'
    code = (
        SERVER_EX
        + f"""
    [_, host] = String.split(Atom.to_string(node()), "@")
    dest = {dest}
    true = Node.connect(elem(dest, 1))
    for _ <- 1..200, do: GenServer.call(dest, :warm)
    times = for _ <- 1..{RUNS} do
      req = {{:get, "key", 42}}
      {{us, _}} = :timer.tc(fn -> for _ <- 1..{N}, do: GenServer.call(dest, req) end)
      us / {N}
    end
    IO.puts("RESULT #{{Enum.at(Enum.sort(times), div({RUNS}, 2))}}")
    """
    )
    out = subprocess.run(
        ["elixir", "--sname", "exa", "--cookie", COOKIE, "-e", code],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    found = re.search(r"RESULT ([\d.]+)", out)
    assert found, out
    return float(found.group(1))


def main() -> None:
    home = tempfile.mkdtemp()
    os.environ["HOME"] = home
    me = gs.node.start("gsbench", cookie=COOKIE)
    host = me.partition("@")[2]
    codec()
    pid = Echo.start(None)
    gs.register("echo", pid)
    sup = gs.Supervisor.start_link([gs.node.Peer("gspeer")], strategy="one_for_one")
    peer = f"gspeer@{host}"
    gs.node.spawn(peer, "bench.nodes_bench:serve_echo", (gs.self(),))
    server = gs.receive(timeout=10)
    for _ in range(200):
        gs.GenServer.call(server, "warm")

    def gs_calls() -> None:
        for _ in range(N):
            gs.GenServer.call(server, ("get", "key", 42))

    def gs_casts() -> None:
        for _ in range(N):
            gs.GenServer.cast(server, ("get", "key", 42))
        gs.GenServer.call(server, "sync")

    rows = {"greenserver -> greenserver": _median_us(gs_calls)}
    cast_us = _median_us(gs_casts)
    ex = None
    if shutil.which("elixir"):
        twin = subprocess.Popen(
            [
                "elixir",
                "--sname",
                "exb",
                "--cookie",
                COOKIE,
                "-e",
                SERVER_EX + "GenServer.start(Echo, nil, name: :echo); Process.sleep(:infinity)",
            ],
        )
        try:
            ex = f"exb@{host}"
            deadline = time.monotonic() + 60
            while not gs.node.connect(ex) and time.monotonic() < deadline:
                gevent.sleep(0.2)
            while gs.GenServer.whereis(("echo", ex)) is None or not _alive(ex):
                gevent.sleep(0.1)
            rows["Elixir -> Elixir"] = elixir_calls(None)
            rows["Elixir -> greenserver"] = elixir_calls(me)

            def to_elixir() -> None:
                for _ in range(N):
                    gs.GenServer.call(("echo", ex), ("get", "key", 42))

            rows["greenserver -> Elixir"] = _median_us(to_elixir)
        finally:
            twin.kill()
            twin.wait()
    base = rows.get("Elixir -> Elixir")
    print(f"call round trips over loopback, median of {RUNS} runs of {N}:")
    for label, us in rows.items():
        ratio = f"{us / base:5.2f}x" if base else "  n/a"
        print(f"  {label:28s} {us:8.1f} us   {ratio} Elixir->Elixir")
    print(f"  casts greenserver -> greenserver: {1e6 / cast_us:,.0f}/s")
    gs.Supervisor.stop(sup)
    gs.GenServer.stop(pid)
    gs.node.stop()


def _alive(node: str) -> bool:
    try:
        gs.GenServer.call(("echo", node), "ping", timeout=2)
    except gs.CallError:
        return False
    return True


def serve_echo(reply_to: gs.Pid) -> None:
    """Runs on the peer: an echo server for the gs->gs round trips."""
    gs.send(reply_to, Echo.start_link(None))
    gs.receive()


if __name__ == "__main__":
    sys.exit(main())
