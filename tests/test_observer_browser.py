"""The observer's page in a real browser: Debian's Chromium driven by Playwright.

The node runs in the test's own thread (the page is served by its hub);
Playwright runs in a real OS thread of gevent's pool, so the node keeps
serving while the browser waits. The browser thread pokes the node with
``gs.send`` (safe from any thread) when a test needs the node to change
under the page's eyes. Playwright's waits are bounded by its timeouts; they
wait on what the page shows, never on a guessed duration.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import gevent
import gevent.subprocess
import pytest
from playwright.sync_api import Page, expect, sync_playwright

import greenserver as gs
from greenserver.testing import wait_all_idle, wait_down

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 15_000  # Playwright's bound on a failure

T = TypeVar("T")


def in_browser(url: str, script: Callable[[Page], T]) -> T:
    """Run *script* on a Chromium page open at *url*, in an OS thread of its own."""

    def run() -> T:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 900})
                page.set_default_timeout(WAIT_MS)
                page.goto(url)
                return script(page)
            finally:
                browser.close()

    result: T = gevent.get_hub().threadpool.apply(run)
    return result


class Stack(gs.GenServer[list[str]]):
    def init(self, items: list[str]) -> gs.Ok[list[str]]:
        return gs.Ok(items)

    def handle_call(self, request: Any, from_: gs.Ref, state: list[str]) -> Any:
        return gs.Reply(state, state)


def echo() -> None:
    """The README's echo loop: a plain process that a system message would crash."""
    while True:
        sender, msg = gs.receive()  # type: ignore[misc]
        if msg == "stop":
            return
        gs.send(sender, ("echo", msg))


def backlog() -> None:
    """A plain process in selective receive: everything but "stop" piles up."""
    gs.receive(lambda m: m == "stop")


def start_plain(fn: Callable[[], None]) -> gs.Pid:
    return gs.spawn_link(fn)


def late_starter(pool: gs.Pid) -> None:
    """On "go" (sent by the browser's thread), start a child under *pool*."""
    gs.receive(lambda m: m == "go")
    gs.DynamicSupervisor.start_child(
        pool, gs.ChildSpec("late", start=(Stack.start_link, (["late"],), {"name": "late-worker"}))
    )


@dataclass
class Node:
    observer: gs.observer.Observer
    sup: gs.Pid
    stack: gs.Pid
    echo: gs.Pid
    backlog: gs.Pid
    pool: gs.Pid
    trigger: gs.Pid
    idle: list[gs.Pid]


@pytest.fixture
def node() -> Iterator[Node]:
    before = gs.sys.system_monitor()
    gs.sys.system_monitor(long_message_queue=5)
    sup = gs.Supervisor.start_link(
        [
            gs.ChildSpec(
                "stack", start=(Stack.start_link, (["hello", "world"],), {"name": "stack"})
            ),
            gs.ChildSpec("echo", start=(start_plain, (echo,), {})),
            gs.ChildSpec("backlog", start=(start_plain, (backlog,), {})),
            gs.ChildSpec(
                "pool", start=(gs.DynamicSupervisor.start_link, (), {}), type="supervisor"
            ),
        ],
        name="top",
    )
    kids = {cid: pid for cid, pid, _ in gs.Supervisor.which_children(sup)}
    stack, echo_pid, backlog_pid, pool = (kids[k] for k in ("stack", "echo", "backlog", "pool"))
    assert all(isinstance(p, gs.Pid) for p in (stack, echo_pid, backlog_pid, pool))
    for i in range(12):
        gs.send(backlog_pid, ("queued", i))  # type: ignore[arg-type]
    idle = [gs.spawn(gs.receive, lambda m: m == "stop") for _ in range(120)]
    trigger = gs.spawn(late_starter, pool)
    observer = gs.observer.serve()
    try:
        yield Node(observer, sup, stack, echo_pid, backlog_pid, pool, trigger, idle)  # type: ignore[arg-type]
    finally:
        observer.stop()
        for pid in [*idle, trigger]:
            if gs.alive(pid):
                ref = gs.monitor(pid)
                gs.exit(pid, "kill")
                wait_down(ref)
        gs.Supervisor.stop(sup)
        gs.sys.system_monitor(**before)


class TestPage:
    def test_shows_the_tree_the_table_a_process_and_the_warnings_live(self, node: Node) -> None:
        backlog, stack, pool = (repr(p) for p in (node.backlog, node.stack, node.pool))
        trigger_pid = node.trigger

        def script(page: Page) -> dict[str, Any]:
            seen: dict[str, Any] = {}
            # The supervision tree: the plain children are there, described.
            tree = page.locator("#tree-list")
            expect(tree).to_contain_text("'stack' " + stack)
            expect(tree).to_contain_text("'echo' ")
            expect(tree).to_contain_text("echo · waiting")
            # The table, paged: 50 rows of about 130 processes.
            expect(page.locator("#page")).to_contain_text("page 1 of 3")
            seen["rows"] = page.locator("#processes tbody tr").count()
            page.click("#next")
            expect(page.locator("#page")).to_contain_text("page 2 of 3")
            # Sorted by mailbox length, largest first: the backlog leads.
            page.click("th[data-sort=mailbox]")
            expect(page.locator("#processes tbody tr").first).to_have_attribute("data-pid", backlog)
            seen["first_mailbox"] = (
                page.locator("#processes tbody tr").first.locator("td").nth(4).inner_text()
            )
            # One behaviour in detail: its state comes through sys.
            page.click(f"#tree-list [data-tree-pid='{stack}'] > .node")
            expect(page.locator("#state")).to_have_text("['hello', 'world']")
            # A plain process in detail: described, never asked.
            page.click(f"tr[data-pid='{backlog}']")
            expect(page.locator("#detail")).to_contain_text("A plain process")
            # The system monitor's warning about the backlog.
            warning = page.locator("#warning-list li[data-kind=long_message_queue]")
            expect(warning.first).to_contain_text(backlog)
            # Live: the node starts a child under the pool; the tree shows it.
            gs.send(trigger_pid, "go")  # from this OS thread: handed to the hub
            expect(page.locator(f"#tree-list [data-tree-pid='{pool}']")).to_contain_text(
                "late-worker"
            )
            return seen

        seen = in_browser(node.observer.url, script)

        assert seen == {"rows": 50, "first_mailbox": "12"}

    def test_looking_leaves_plain_processes_untouched(self, node: Node) -> None:
        echo_pid, backlog = repr(node.echo), repr(node.backlog)

        def script(page: Page) -> None:
            for pid in (echo_pid, backlog):  # both on the first page, in pid order
                page.click(f"tr[data-pid='{pid}']")
                expect(page.locator("#detail h2").first).to_have_text(f"Process {pid}")

        in_browser(node.observer.url, script)

        assert (gs.info(node.backlog) or {})["message_queue_len"] == 12  # no stray message
        gs.send(node.echo, (gs.self(), "still here?"))  # the echo loop did not crash
        assert gs.receive(timeout=5) == ("echo", "still here?")
        wait_all_idle()


class TestServe:
    def test_url_and_port(self) -> None:
        observer = gs.observer.serve()
        try:
            assert observer.url == f"http://127.0.0.1:{observer.port}/"
            assert observer.port > 0
        finally:
            observer.stop()

    def test_stop_leaves_no_process_behind(self) -> None:
        observer = gs.observer.serve()
        collector = observer.collector

        observer.stop()

        assert not gs.alive(collector)

    @pytest.mark.parametrize("port", [-1, 70000, "80", True])
    def test_a_bad_port_raises_value_error(self, port: object) -> None:
        with pytest.raises(
            ValueError, match=rf"^port must be an int from 0 to 65535; got {port!r}$"
        ):
            gs.observer.serve(port=port)  # type: ignore[arg-type]

    def test_a_taken_port_raises_os_error(self) -> None:
        first = gs.observer.serve()
        try:
            with pytest.raises(OSError, match=r"Address already in use"):
                gs.observer.serve(port=first.port)
        finally:
            first.stop()


def test_the_demo_takes_a_screenshot_of_its_page(tmp_path: Path) -> None:
    """examples/observer_demo.py --screenshot: how docs/observer.png is made."""
    demo = Path(__file__).resolve().parent.parent / "examples" / "observer_demo.py"
    png = tmp_path / "observer.png"
    command = [sys.executable, str(demo), "--processes", "200", "--screenshot", str(png)]

    done: subprocess.CompletedProcess[str] = gevent.subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^observer: http://127\.0\.0\.1:\d+/$", done.stdout, re.MULTILINE)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "long_schedule" in done.stdout  # the demo's legacy sleep was seen


def test_screenshot_path_is_in_docs() -> None:
    """The docs page shows the observer (made by examples/observer_demo.py --screenshot)."""
    docs = Path(__file__).resolve().parent.parent / "docs"
    assert (docs / "observer.png").stat().st_size > 10_000
    assert "observer.png" in (docs / "observer.md").read_text()
