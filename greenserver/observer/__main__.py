"""``python -m greenserver.observer URL``: a live ``top`` of a node, in the terminal.

URL is the page of a node's observer (``gs.observer.serve()`` prints it as
``Observer.url``). The table is the page's: the busiest processes first,
by mailbox length (``--sort mailbox``, the default) or by messages handled
per second (``--sort activity``), refreshed every ``--interval`` seconds.
Keys while it runs: ``m`` mailbox, ``a`` activity, ``q`` quit.

It needs ``rich`` (``pip install 'greenserver[observer]'``). It only reads,
over HTTP: the node is never sent anything but the page's own requests.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urljoin

SORTS = (
    "mailbox",
    "activity",
    "in",
    "out",
    "memory",
    "links",
    "monitors",
    "pid",
    "name",
    "current",
)


def fetch(url: str, sort: str, rows: int, timeout: float = 10.0) -> dict[str, Any]:
    """Return one snapshot of the node behind the observer page *url*."""
    query = f"api/snapshot?sort={sort}&desc={0 if sort in ('pid', 'name', 'current') else 1}"
    with urllib.request.urlopen(
        urljoin(url, f"{query}&page_size={rows}"), timeout=timeout
    ) as response:
        snapshot: dict[str, Any] = json.load(response)
    return snapshot


def _size(n: int) -> str:
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{n / 1024:.1f} KB"


def render(snapshot: dict[str, Any], url: str) -> Any:
    """Return the screen for one snapshot, as a rich renderable."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    summary, table = snapshot["summary"], snapshot["table"]
    head = Text.assemble(
        ("greenserver top ", "bold green"),
        f"{url}  ",
        ("node ", "dim"),
        f"{summary['node'] or 'not distributed'}  ",
        ("connected ", "dim"),
        f"{', '.join(summary['nodes']) or 'none'}  ",
        ("processes ", "dim"),
        f"{summary['processes']:,}  ",
        ("queued ", "dim"),
        f"{summary['queued']:,}  ",
        ("sorted by ", "dim"),
        f"{table['sort']}",
        ("  (m: mailbox, a: activity, q: quit)", "dim"),
    )
    grid = Table(expand=True, pad_edge=False, box=None, header_style="bold")
    for title, justify in (
        ("pid", "left"),
        ("name", "left"),
        ("class / function", "left"),
        ("status", "left"),
        ("mailbox", "right"),
        ("in", "right"),
        ("out", "right"),
        ("in/s", "right"),
        ("memory", "right"),
        ("links", "right"),
        ("monitors", "right"),
    ):
        grid.add_column(title, justify=justify)  # type: ignore[arg-type]
    for row in table["rows"]:
        grid.add_row(
            row["pid"],
            row["name"] or "",
            Text(row["current"], style="green" if row["behaviour"] else ""),
            row["status"],
            f"{row['mailbox']:,}",
            f"{row['in']:,}",
            f"{row['out']:,}",
            f"{row['activity']:g}",
            _size(row["memory"]),
            str(row["links"]),
            str(row["monitors"]),
        )
    parts: list[Any] = [head, grid]
    for warning in snapshot["warnings"][:3]:
        what = (
            f"ran {warning.get('ran_for', 0) * 1000:.0f} ms at {warning.get('where')}"
            if warning["kind"] == "long_schedule"
            else f"has {warning.get('message_queue_len', 0):,} messages queued"
        )
        parts.append(
            Text(
                f"{warning['kind']} {warning.get('pid', '?')} {warning['current']} {what}", "yellow"
            )
        )
    return Group(*parts)


@contextmanager
def _keys() -> Iterator[Any]:
    """Read single keys from a terminal without waiting for Enter (None if not a tty)."""
    if not sys.stdin.isatty():
        yield None
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def _key(fd: Any, wait: float) -> str | None:
    if fd is None:
        time.sleep(wait)
        return None
    ready, _, _ = select.select([fd], [], [], wait)
    return os.read(fd, 1).decode(errors="replace") if ready else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m greenserver.observer",
        description="A live top of a greenserver node, read from its observer page.",
    )
    parser.add_argument("url", help="the observer's page, e.g. http://127.0.0.1:8123/")
    parser.add_argument("--sort", choices=SORTS, default="mailbox", help="column to sort by")
    parser.add_argument("--rows", type=int, default=30, help="processes shown (default 30)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")
    parser.add_argument("--once", action="store_true", help="print one table and exit")
    parser.add_argument(
        "--iterations", type=int, default=None, help="stop after this many refreshes"
    )
    args = parser.parse_args(argv)
    try:
        from rich.console import Console
        from rich.live import Live
    except ImportError:
        parser.exit(2, "the terminal top needs rich: pip install 'greenserver[observer]'\n")
    console = Console()
    try:
        snapshot = fetch(args.url, args.sort, args.rows)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        parser.exit(2, f"cannot read an observer at {args.url!r}: {exc}\n")
    if args.once:
        console.print(render(snapshot, args.url))
        return 0
    sort, done = args.sort, 1
    with _keys() as fd, Live(render(snapshot, args.url), console=console) as live:
        while args.iterations is None or done < args.iterations:
            key = _key(fd, args.interval)
            if key == "q":
                break
            if key in ("m", "a"):
                sort = "mailbox" if key == "m" else "activity"
            try:
                live.update(render(fetch(args.url, sort, args.rows), args.url))
            except (urllib.error.URLError, OSError, ValueError) as exc:
                live.update(f"cannot read {args.url}: {exc}")
            done += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
