"""An Elixir node and this Python node call each other's GenServers.

    python examples/elixir_node.py     # needs Elixir (Debian: apt install elixir)

Elixir calls the Python ``Stack`` registered as ``"stack"`` with
``GenServer.call({:stack, :"py@host"}, :pop)``; Python casts to and calls
the Elixir ``Counter`` registered as ``:counter``. Both sides use OTP's
gen_server wire format; atoms are ``gs.Atom`` on the Python side.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import gevent.subprocess as subprocess
import structlog

import greenserver as gs

sys.path.insert(0, str(Path(__file__).parent))
from stack import Stack

ELIXIR = """
defmodule Counter do
  use GenServer
  def init(n), do: {:ok, n}
  def handle_call(:get, _from, n), do: {:reply, n, n}
  def handle_cast({:add, k}, n), do: {:noreply, n + k}
end

{:ok, _} = GenServer.start(Counter, 40, name: :counter)
IO.puts("Elixir got " <> GenServer.call({:stack, :"PYNODE"}, :pop))
Process.sleep(:infinity)
"""


def main() -> None:
    # Warnings and crash reports to stderr; debug reports (progress) unshown.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    me = gs.node.start("py", cookie="elixir-example")
    Stack.start(["a string from Python"], name="stack")
    elixir = subprocess.Popen(
        [
            "elixir",
            "--sname",
            "ex",
            "--cookie",
            "elixir-example",
            "-e",
            ELIXIR.replace("PYNODE", me),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert elixir.stdout is not None
        print(elixir.stdout.readline().strip())  # Elixir got a string from Python

        ex = "ex@" + me.partition("@")[2]
        gs.GenServer.cast(("counter", ex), (gs.Atom("add"), 2))
        print("Python got", gs.GenServer.call(("counter", ex), gs.Atom("get")))  # 42
    finally:
        elixir.kill()
        elixir.wait()
    gs.GenServer.stop("stack")
    gs.node.stop()


if __name__ == "__main__":
    main()
