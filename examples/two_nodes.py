"""Two greenserver nodes: this one, and a peer node it starts under a supervisor.

    python examples/two_nodes.py

The peer is an OS process of its own (so it has a core of its own). A
Counter GenServer is started there by remote spawn and called from here by
``(name, node)`` and by pid; monitors and stops work across as they do
locally. Needs only Python (greenserver starts an epmd if the machine has none).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import structlog

import greenserver as gs

sys.path.insert(0, str(Path(__file__).parent))  # node_tasks, for this node and its peer


def main() -> None:
    # Warnings and crash reports to stderr; debug reports (progress) unshown.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    me = gs.node.start("main", cookie="two-nodes-example")
    peer = "worker@" + me.partition("@")[2]
    sup = gs.Supervisor.start_link([gs.node.Peer("worker")], strategy="one_for_one")

    # A Counter GenServer on the peer (remote spawn), called by name and by pid.
    gs.node.spawn(peer, "node_tasks:start_counter", ("counter", gs.self()))
    reply = gs.receive(lambda m: m[0] == "counter")  # ("counter", pid)
    assert isinstance(reply, tuple)
    counter = reply[1]
    print(gs.GenServer.call(("counter", peer), ("add", 40)))  # 40
    print(gs.GenServer.call(counter, ("add", 2)))  # 42
    print(counter.node == peer)  # True

    ref = gs.monitor(counter)
    gs.GenServer.stop(counter)
    down = gs.receive(lambda m: isinstance(m, gs.Down) and m.ref is ref)
    print(down)  # Down(ref=..., pid=<worker@....>, reason='normal')

    gs.Supervisor.stop(sup)  # the peer node halts with its supervisor
    gs.node.stop()


if __name__ == "__main__":
    main()
