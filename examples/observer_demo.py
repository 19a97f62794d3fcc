"""A small system to look at with ``gs.observer``: run it and open the printed URL.

It starts a supervision tree (a named Stack, an Agent, a pool of workers
under a DynamicSupervisor, a TaskSupervisor, two plain ``spawn_link``
workers), a process whose mailbox piles up and one legacy call to the real
``time.sleep``, so that the system monitor has something to say, plus
``--processes N`` idle processes. Then it serves the observer's page and
runs until interrupted.

    python examples/observer_demo.py --processes 100000
    python -m greenserver.observer http://127.0.0.1:PORT/      # the same, in a terminal

``--screenshot FILE`` opens the page in headless Chromium (Playwright,
Debian's ``/usr/bin/chromium``), selects the Stack and saves a PNG: that is
how ``docs/observer.png`` is made.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import gevent
import structlog
from gevent.monkey import get_original

import greenserver as gs

sys.path.insert(0, str(Path(__file__).parent))
from stack import Stack

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Worker(gs.GenServer[int]):
    """Counts the jobs it is cast."""

    def init(self, n: int) -> gs.Ok[int]:
        return gs.Ok(n)

    def handle_cast(self, request: Any, state: int) -> gs.NoReply[int]:
        return gs.NoReply(state + 1)


def echo() -> None:
    """A plain process: the README's echo loop."""
    while True:
        sender, msg = gs.receive()  # type: ignore[misc]
        gs.send(sender, ("echo", msg))  # type: ignore[has-type]


def backlog() -> None:
    """A plain process that waits for "stop" while everything else piles up."""
    gs.receive(lambda m: m == "stop")


def legacy() -> None:
    """Blocks the whole node with an unpatched sleep: a long_schedule warning."""
    get_original("time", "sleep")(0.7)


def start_plain(fn: Any) -> gs.Pid:
    return gs.spawn_link(fn)


def start_system(idle: int) -> gs.Pid:
    top = gs.Supervisor.start_link(
        [
            gs.ChildSpec(
                "stack", start=(Stack.start_link, (["hello", "world"],), {"name": "stack"})
            ),
            gs.ChildSpec("counter", start=(gs.Agent.start_link, (lambda: {"hits": 0},), {})),
            gs.ChildSpec(
                "pool",
                start=(gs.DynamicSupervisor.start_link, (), {"name": "pool"}),
                type="supervisor",
            ),
            gs.TaskSupervisor.child_spec({"name": "tasks"}),
            gs.ChildSpec("echo", start=(start_plain, (echo,), {})),
            gs.ChildSpec("backlog", start=(start_plain, (backlog,), {})),
        ],
        name="demo",
    )
    for i in range(8):
        worker = gs.DynamicSupervisor.start_child("pool", (Worker, i))
        for _ in range(i * 3):
            gs.GenServer.cast(worker, "job")
    [mailbox] = [pid for cid, pid, _ in gs.Supervisor.which_children(top) if cid == "backlog"]
    assert isinstance(mailbox, gs.Pid)
    for i in range(25_000):
        gs.send(mailbox, ("unread", i))
    for _ in range(idle):
        gs.spawn(gs.receive, lambda m: m == "stop")
    gevent.sleep(0.2)  # let the hub run: the legacy stall is a stall of its own
    gs.spawn(legacy)
    assert top is not None
    return top


def screenshot(url: str, path: str) -> None:
    """Save a PNG of the page, with the Stack selected, from a real OS thread."""
    from playwright.sync_api import sync_playwright

    def run() -> None:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 860})
                page.set_default_timeout(30_000)
                page.goto(url)
                page.wait_for_selector("#warning-list li[data-kind=long_schedule]")
                page.click("th[data-sort=mailbox]")
                page.locator("#tree-list .node", has_text="'stack' ").first.click()
                page.wait_for_selector("#state")
                page.wait_for_timeout(1500)  # a settled frame for the picture
                page.screenshot(path=path, full_page=True)
            finally:
                browser.close()

    gevent.get_hub().threadpool.apply(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=1_000, help="idle processes to add")
    parser.add_argument("--port", type=int, default=0, help="the page's port (0: a free one)")
    parser.add_argument("--screenshot", metavar="FILE", help="save a PNG of the page and exit")
    args = parser.parse_args()
    structlog.configure(
        processors=[structlog.dev.ConsoleRenderer(colors=False)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    gs.sys.system_monitor(long_message_queue=20_000)
    top = start_system(args.processes)
    observer = gs.observer.serve(port=args.port)
    print(f"observer: {observer.url}", flush=True)
    try:
        if args.screenshot:
            screenshot(observer.url, args.screenshot)
            print(f"saved {args.screenshot}")
        else:
            gs.receive(lambda m: False)  # serve until interrupted
    except KeyboardInterrupt:
        pass
    finally:
        observer.stop()
        gs.Supervisor.stop(top)


if __name__ == "__main__":
    main()
