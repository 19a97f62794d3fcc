"""CPU-bound work on 1 node, then on 2: one OS process per core, as the BEAM would use them.

A greenserver node is one OS process, so its processes share one core.
CPU-bound work scales across cores by running more nodes: here the same
job mix runs on 1 peer node and then on 2 (``gs.node.Peer``, supervised
OS processes), and the program prints the throughput of each and their
ratio::

    python examples/cpu_nodes.py              # 48 jobs
    python examples/cpu_nodes.py --jobs 200   # a longer run, steadier figures

Workers pull jobs from a coordinator process here, one at a time (a job
queue balances itself: a node that is slowed down just takes fewer jobs);
each job is ``(kind, size)``, a pure-Python computation, and its result
comes back with it, so the two runs can be checked against each other.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import time
from dataclasses import dataclass

import structlog

import greenserver as gs

KINDS = ("squares", "primes", "collatz")


def job_mix(jobs: int, scale: int = 100) -> list[tuple[str, int]]:
    """The same list of jobs for every run: each kind in turn, sizes varying."""
    return [(KINDS[i % 3], scale * (60 + 40 * (i % 5))) for i in range(jobs)]


def compute(kind: str, size: int) -> int:
    """One CPU-bound job (pure Python: the GIL keeps it on one core)."""
    if kind == "squares":
        return sum(i * i for i in range(size * 60))
    if kind == "primes":  # count primes below size * 2 by trial division
        limit = size * 2
        return sum(1 for n in range(2, limit) if all(n % d for d in range(2, int(n**0.5) + 1)))
    if kind == "collatz":  # total steps of the numbers below size
        steps = 0
        for n in range(1, size):
            while n != 1:
                n = n // 2 if n % 2 == 0 else 3 * n + 1
                steps += 1
        return steps
    raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")


def worker(coordinator: gs.Pid, tag: gs.Ref) -> None:
    """Runs on a peer node: ask for a job, do it, send back the result; until told to stop.

    Every message carries *tag*, the run's own ref: a late message of an
    earlier run can never be taken for one of this run.
    """
    me = gs.self()
    while True:
        gs.send(coordinator, (gs.Atom("more"), tag, me))
        job = gs.receive()
        if job == "stop":
            return
        assert isinstance(job, tuple)
        index, kind, size = job
        gs.send(coordinator, (gs.Atom("done"), tag, index, compute(kind, size)))


@dataclass
class Run:
    nodes: int
    jobs: int
    seconds: float
    results: list[int]

    @property
    def throughput(self) -> float:
        return self.jobs / self.seconds


def run_on(nodes: int, jobs: list[tuple[str, int]], *, workers_per_node: int = 1) -> Run:
    """Run *jobs* on *nodes* fresh peer nodes; return the time and the results.

    The peers are started before the clock starts and stopped after it
    stops. This OS process must be a node already.
    """
    host = (gs.node.name() or "").partition("@")[2]
    names = [f"cpu{os.getpid()}n{nodes}x{i}" for i in range(nodes)]
    tag = gs.Ref()

    def ours(msg: object) -> bool:
        return isinstance(msg, tuple) and len(msg) > 2 and msg[1] == tag

    sup = gs.Supervisor.start_link([gs.node.Peer(name) for name in names], strategy="one_for_one")
    try:
        me = gs.self()
        results: list[int | None] = [None] * len(jobs)
        started = time.perf_counter()
        for name in names:
            for _ in range(workers_per_node):
                gs.node.spawn(f"{name}@{host}", "cpu_nodes:worker", (me, tag))
        pending = list(enumerate(jobs))
        pending.reverse()
        outstanding = 0
        while pending or outstanding:
            msg = gs.receive(ours)
            assert isinstance(msg, tuple)
            if msg[0] == "done":
                results[msg[2]] = msg[3]
                outstanding -= 1
            elif pending:  # "more"
                index, (kind, size) = pending.pop()
                gs.send(msg[2], (index, kind, size))
                outstanding += 1
            else:
                gs.send(msg[2], gs.Atom("stop"))
        seconds = time.perf_counter() - started
    finally:
        gs.Supervisor.stop(sup)
        while True:  # the workers' last requests for more
            try:
                gs.receive(ours, timeout=0)
            except TimeoutError:
                break
    assert all(r is not None for r in results)
    return Run(nodes, len(jobs), seconds, [r for r in results if r is not None])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The same CPU-bound jobs on 1 node and 2.")
    parser.add_argument("--jobs", type=int, default=48)
    parser.add_argument("--scale", type=int, default=100, help="work per job")
    args = parser.parse_args(argv)
    # Crash reports go to stderr; progress reports are debug-level noise here.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )
    started_here = gs.node.name() is None
    if started_here:
        gs.node.start(f"cpunodes{os.getpid()}", cookie=secrets.token_hex(16))
    try:
        jobs = job_mix(args.jobs, args.scale)
        one = run_on(1, jobs)
        print(f"1 node:  {one.jobs} jobs in {one.seconds:.2f}s, {one.throughput:.1f} jobs/s")
        two = run_on(2, jobs)
        print(f"2 nodes: {two.jobs} jobs in {two.seconds:.2f}s, {two.throughput:.1f} jobs/s")
        same = one.results == two.results
        print(f"results agree: {same}")
        print(f"throughput ratio, 2 nodes / 1 node: {two.throughput / one.throughput:.2f}x")
        print(f"(this machine has {os.cpu_count()} cores)")
    finally:
        if started_here:
            gs.node.stop()
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
