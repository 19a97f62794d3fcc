"""``python -m bench.nodes_bench``: distribution round trips, same run, as ratios.

Call round trips over loopback: Elixir->Elixir (the baseline), Elixir->greenserver,
greenserver->Elixir, greenserver->greenserver (a ``gs.node.Peer``), casts/s between
two greenserver nodes, and the term codec against erlang-py (when installed).
Each figure is the median of several runs; ratios are against Elixir->Elixir.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import gevent
import gevent.subprocess as subprocess

import greenserver as gs
from greenserver._dist_terms import Atom, ImproperList, decode, encode

# examples/cpu_nodes.py, for this process and for the peers it starts.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "examples"))

N = 1000
RUNS = 11
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


_ORDER = [
    "Elixir -> Elixir",
    "Elixir -> greenserver",
    "greenserver -> Elixir",
    "greenserver -> greenserver",
]
CLIENT_EX = """
[_, host] = String.split(Atom.to_string(node()), "@")
Process.register(self(), :bench_client)
req = {:get, "key", 42}
loop = fn loop ->
  receive do
    {:go, from, dests} ->
      times = for dest <- dests do
        for _ <- 1..200, do: GenServer.call(dest, :warm)
        {us, _} = :timer.tc(fn -> for _ <- 1..@N@, do: GenServer.call(dest, req) end)
        us / @N@
      end
      send(from, {:times, times})
      loop.(loop)
    :stop -> :ok
  end
end
loop.(loop)
"""


def _elixir_node(name: str, code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["elixir", "--sname", name, "--cookie", COOKIE, "-e", code])


def _wait_for(node: str, name: str) -> None:
    """Wait until *node* is up and has a process registered as *name*."""
    deadline = time.monotonic() + 60
    while not gs.node.connect(node) and time.monotonic() < deadline:
        gevent.sleep(0.2)
    while time.monotonic() < deadline:
        ref = gs.monitor((name, node))  # a name nobody holds: Down noproc at once
        try:
            gs.receive(lambda m, ref=ref: isinstance(m, gs.Down) and m.ref is ref, timeout=0.5)
        except TimeoutError:
            gs.demonitor(ref, flush=True)
            return
    raise TimeoutError(f"no process {name!r} on {node} within 60s")


def _rounds(
    fns: dict[str, Callable[[], None]], elixir: tuple[str, str, str] | None
) -> dict[str, float]:
    """Median us per call of each case; every round runs every case once.

    Taking turns round by round (the Elixir client's two cases included),
    a change in the machine's load hits every case alike.
    """
    samples: dict[str, list[float]] = {label: [] for label in fns}
    if elixir is not None:
        samples["Elixir -> Elixir"] = []
        samples["Elixir -> greenserver"] = []
    for _ in range(RUNS):
        for label, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[label].append((time.perf_counter() - t0) / N * 1e6)
        if elixir is not None:
            client, twin, me = elixir
            dests = [(Atom("echo"), Atom(twin)), (Atom("echo"), Atom(me))]
            gs.send(("bench_client", client), (Atom("go"), gs.self(), dests))
            reply = gs.receive(lambda m: isinstance(m, tuple) and m[0] == "times", timeout=300)
            assert isinstance(reply, tuple)
            samples["Elixir -> Elixir"].append(reply[1][0])
            samples["Elixir -> greenserver"].append(reply[1][1])
    return {label: statistics.median(values) for label, values in samples.items()}


def main() -> None:
    home = tempfile.mkdtemp()
    os.environ["HOME"] = home
    # Names of this run only: benches in other checkouts share the machine's epmd.
    tag = os.getpid()
    me = gs.node.start(f"gsbench{tag}", cookie=COOKIE)
    host = me.partition("@")[2]
    codec()
    pid = Echo.start(None)
    gs.register("echo", pid)
    sup = gs.Supervisor.start_link([gs.node.Peer(f"gspeer{tag}")], strategy="one_for_one")
    peer = f"gspeer{tag}@{host}"
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

    fns: dict[str, Callable[[], None]] = {"greenserver -> greenserver": gs_calls}
    cast_us = _median_us(gs_casts)
    beams: list[subprocess.Popen[bytes]] = []
    elixir = None
    try:
        if shutil.which("elixir"):
            serve = SERVER_EX + "GenServer.start(Echo, nil, name: :echo); Process.sleep(:infinity)"
            beams.append(_elixir_node(f"exb{tag}", serve))
            beams.append(_elixir_node(f"exa{tag}", CLIENT_EX.replace("@N@", str(N))))
            twin, client = f"exb{tag}@{host}", f"exa{tag}@{host}"
            _wait_for(twin, "echo")
            _wait_for(client, "bench_client")
            elixir = (client, twin, me)

            def to_elixir() -> None:
                for _ in range(N):
                    gs.GenServer.call(("echo", twin), ("get", "key", 42))

            fns["greenserver -> Elixir"] = to_elixir
        rows = _rounds(fns, elixir)
    finally:
        for beam in beams:
            beam.kill()
            beam.wait()
    rows = {label: rows[label] for label in sorted(rows, key=_ORDER.index)}
    base = rows.get("Elixir -> Elixir")
    print(f"call round trips over loopback, median of {RUNS} runs of {N}:")
    for label, us in rows.items():
        ratio = f"{us / base:5.2f}x" if base else "  n/a"
        print(f"  {label:28s} {us:8.1f} us   {ratio} Elixir->Elixir")
    print(f"  casts greenserver -> greenserver: {1e6 / cast_us:,.0f}/s")
    gs.Supervisor.stop(sup)
    gs.GenServer.stop(pid)
    cpu_scaling()
    gs.node.stop()


def _plain_processes(jobs: list[tuple[str, int]], count: int) -> float:
    """Seconds for *count* plain OS processes to each run *jobs* (no greenserver at all)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(count) as pool:
        t0 = time.perf_counter()
        pool.starmap(_compute_all, [(jobs,)] * count)
        return time.perf_counter() - t0


def _compute_all(jobs: list[tuple[str, int]]) -> None:
    import cpu_nodes

    for kind, size in jobs:
        cpu_nodes.compute(kind, size)


def cpu_scaling(jobs: int = 96, runs: int = 3) -> None:
    """examples/cpu_nodes.py's job mix on 1 node and on 2, rounds taking turns.

    The ceiling beside it: the same work in 2 plain OS processes against 1,
    in the same run: what this machine's cores give right now (they are
    shared, so it is often far below 2).
    """
    import cpu_nodes

    mix = cpu_nodes.job_mix(jobs)
    one, two, ceiling = [], [], []
    for _ in range(runs):
        one.append(cpu_nodes.run_on(1, mix).throughput)
        two.append(cpu_nodes.run_on(2, mix).throughput)
        ceiling.append(_plain_processes(mix, 1) * 2 / _plain_processes(mix, 2))
    ratio = statistics.median(t / o for t, o in zip(two, one, strict=True))
    print(f"CPU-bound jobs (examples/cpu_nodes.py, {jobs} jobs, median of {runs} rounds):")
    print(f"  1 node:  {statistics.median(one):6.1f} jobs/s")
    print(
        f"  2 nodes: {statistics.median(two):6.1f} jobs/s   {ratio:.2f}x one node (target >= 1.6x)"
    )
    print(f"  ceiling now: 2 plain OS processes give {statistics.median(ceiling):.2f}x one")


def serve_echo(reply_to: gs.Pid) -> None:
    """Runs on the peer: an echo server for the gs->gs round trips."""
    gs.send(reply_to, Echo.start_link(None))
    gs.receive()


if __name__ == "__main__":
    sys.exit(main())
