"""What the observer shows, read from the node: process rows, trees, one process.

Everything here only reads. Process facts come from the kernel's table; a
behaviour's state comes through ``sys`` (a system message, which a
behaviour answers between callbacks); a plain process is never sent
anything. Every value returned is JSON-ready (pids as ``"<0.N.0>"``).

The table must stay cheap with 100,000 processes: a page costs one pass
over the table for the sort key alone (``heapq`` picks the page), and full
rows are built only for the rows shown.
"""

from __future__ import annotations

import heapq
import reprlib
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from operator import attrgetter
from time import monotonic, time
from typing import Any, Final

import greenserver as gs
from greenserver import _names, _process
from greenserver._process import Process

PAGE_SIZE: Final = 50
TREE_CHILDREN: Final = 50  # children shown per supervisor; the rest are counted

# Memory estimate (bench/_cases_memory measures the real thing): the process,
# pid and mailbox objects; an engine's saved greenlet stack when it has one
# (an idle process is about 7 KB, a hibernated GenServer 1.5 KB); a queued
# message's slot and a small object.
_PROCESS_BYTES: Final = 1_200
_STACK_BYTES: Final = 6_000
_MESSAGE_BYTES: Final = 100

_repr = reprlib.Repr()
_repr.maxstring = 400
_repr.maxother = 400
_repr.maxlist = 30
_repr.maxdict = 30
_repr.maxtuple = 30
_repr.maxlevel = 5


def short(value: object) -> str:
    """Return a repr of *value* cut to what a page can show."""
    return _repr.repr(value)


def current_name(current: object) -> str:
    """Return the class or function a process runs, as a page names it."""
    name = getattr(current, "__qualname__", None)
    if name is not None:
        return str(name)
    return type(current).__name__  # an adopted greenlet with no run function


def memory_estimate(proc: Process) -> int:
    """Return an estimate of what *proc* holds, in bytes."""
    engine = proc.engine
    stack = _STACK_BYTES if engine is not None and engine else 0
    return _PROCESS_BYTES + stack + len(proc.mailbox) * _MESSAGE_BYTES


def is_supervisor(proc: Process) -> bool:
    current = proc.current
    return isinstance(current, type) and issubclass(current, (gs.Supervisor, gs.DynamicSupervisor))


# --- the process table ------------------------------------------------------------------

SORT_KEYS: Final = (
    "pid",
    "name",
    "current",
    "mailbox",
    "in",
    "out",
    "activity",
    "memory",
    "links",
    "monitors",
)


class Activity:
    """Messages handled per second, from two looks at the reductions counters.

    Only the processes looked at are counted (the page's rows, or every
    process while the table is sorted by activity), so a page of a big node
    does not pay a pass over the whole table for it.
    """

    def __init__(self) -> None:
        self.before: dict[gs.Pid, int] = {}
        self.rates: dict[gs.Pid, float] = {}
        self.at = monotonic()

    def update(self, procs: Iterable[Process]) -> None:
        now = monotonic()
        elapsed = max(now - self.at, 1e-3)
        before = self.before
        counts = {p.pid: p.reductions for p in procs}
        self.rates = {pid: (n - before.get(pid, n)) / elapsed for pid, n in counts.items()}
        self.before = counts
        self.at = now

    def of(self, pid: gs.Pid) -> float:
        return self.rates.get(pid, 0.0)


def _key(sort: str, activity: Activity) -> Callable[[Process], Any]:
    if sort == "name":
        return lambda p: p.name or ""
    if sort == "current":
        return lambda p: current_name(p.current)
    if sort == "mailbox":
        return lambda p: len(p.mailbox)
    if sort == "in":
        return lambda p: p.reductions
    if sort == "out":
        return lambda p: p.sent
    if sort == "activity":
        return lambda p: activity.of(p.pid)
    if sort == "memory":
        return memory_estimate
    if sort == "links":
        return lambda p: len(p.links or ())
    if sort == "monitors":
        return lambda p: len(p.monitors or {})
    raise ValueError(f"sort must be one of {', '.join(SORT_KEYS)}; got {sort!r}")


def table(
    procs: Sequence[Process],
    activity: Activity,
    *,
    sort: str = "pid",
    descending: bool = False,
    page: int = 0,
    page_size: int = PAGE_SIZE,
) -> dict[str, Any]:
    """Return one sorted page of the process table, and how many pages there are."""
    total = len(procs)
    pages = max(1, -(-total // page_size))
    page = min(max(page, 0), pages - 1)
    start = page * page_size
    if sort == "pid":  # the table is in pid order already
        ordered = reversed(procs) if descending else iter(procs)
        chosen = list(islice(ordered, start, start + page_size))
    else:
        if sort == "activity":
            activity.update(procs)
        key = _key(sort, activity)
        pick = heapq.nlargest if descending else heapq.nsmallest
        chosen = pick(start + page_size, procs, key=key)[start:]
    if sort != "activity":
        activity.update(chosen)
    return {
        "sort": sort,
        "descending": descending,
        "page": page,
        "pages": pages,
        "page_size": page_size,
        "total": total,
        "rows": [row(p, activity) for p in chosen],
    }


def row(proc: Process, activity: Activity) -> dict[str, Any]:
    """Return one process as a table row."""
    facts = gs.info(proc.pid) or {}
    return {
        "pid": repr(proc.pid),
        "name": proc.name,
        "current": current_name(proc.current),
        "behaviour": gs.sys.is_behaviour(proc.pid),
        "status": facts.get("status", "dead"),
        "mailbox": len(proc.mailbox),
        "in": proc.reductions,
        "out": proc.sent,
        "activity": round(activity.of(proc.pid), 1),
        "memory": memory_estimate(proc),
        "links": len(proc.links or ()),
        "monitors": len(proc.monitors or {}),
    }


_mailbox = attrgetter("mailbox")


def summary(procs: Sequence[Process]) -> dict[str, Any]:
    """Return node-wide figures."""
    return {
        # This node's name (None when not distributed) and the nodes it is
        # connected to; their own processes are on their own observers.
        "node": gs.node.name(),
        "nodes": gs.node.list(),
        "processes": len(procs),
        "queued": sum(map(len, map(_mailbox, procs))),
        "registered": len(gs.registered()),
        "time": time(),
    }


# --- supervision trees ------------------------------------------------------------------


def trees(procs: Sequence[Process], timeout: float = 1.0) -> list[dict[str, Any]]:
    """Return every supervision tree of the node, its roots first in pid order.

    Only supervisors are asked (``sys.supervisor_children``); a supervisor
    too busy to answer in *timeout* shows without its children.
    """
    me = gs.self()
    children: dict[gs.Pid, list[tuple[object, object, str]] | None] = {}
    for proc in procs:
        if is_supervisor(proc) and proc.pid is not me:
            try:
                children[proc.pid] = gs.sys.supervisor_children(proc.pid, timeout)
            except Exception:  # dead or busy since: shown without children
                children[proc.pid] = None
    owned = {pid for kids in children.values() for _, pid, _ in kids or () if type(pid) is gs.Pid}
    return [_tree_node(None, pid, "supervisor", children) for pid in children if pid not in owned]


def _tree_node(
    child_id: object,
    pid: object,
    kind: str,
    children: dict[gs.Pid, list[tuple[object, object, str]] | None],
) -> dict[str, Any]:
    shown_id = getattr(child_id, "__qualname__", None) or (
        None if child_id is None else repr(child_id)
    )
    node: dict[str, Any] = {"id": shown_id, "type": kind}
    if type(pid) is not gs.Pid:
        node.update(pid=None, status=str(pid) if pid else "undefined")
        return node
    proc = _names.resolve(pid)
    if proc is None or not proc.alive:
        node.update(pid=repr(pid), status="dead")
        return node
    node.update(
        pid=repr(pid),
        name=proc.name,
        current=current_name(proc.current),
        status=(gs.info(pid) or {}).get("status", "dead"),
        mailbox=len(proc.mailbox),
    )
    kids = children.get(pid)
    if kids is not None:
        node["children"] = [
            _tree_node(cid, cpid, ckind, children) for cid, cpid, ckind in kids[:TREE_CHILDREN]
        ]
        node["more"] = max(0, len(kids) - TREE_CHILDREN)
    return node


# --- one process --------------------------------------------------------------------------


def find(procs: Sequence[Process], text: str) -> Process | None:
    """Return the live process printed as *text* (``"<0.N.0>"``), if any."""
    for proc in procs:
        if repr(proc.pid) == text:
            return proc
    return None


def detail(proc: Process, timeout: float = 1.0) -> dict[str, Any]:
    """Return one process in detail; a behaviour's state comes through ``sys``."""
    pid = proc.pid
    facts = gs.info(pid)
    if facts is None:
        return {"pid": repr(pid), "status": "dead"}
    shown: dict[str, Any] = {
        "pid": repr(pid),
        "name": proc.name,
        "current": current_name(proc.current),
        "behaviour": gs.sys.is_behaviour(pid),
        "status": facts["status"],
        "mailbox": facts["message_queue_len"],
        "in": facts["reductions"],
        "out": facts["messages_out"],
        "memory": memory_estimate(proc),
        "trap_exit": facts["trap_exit"],
        "links": _pids(facts["links"]),
        "monitors": _pids(facts["monitors"]),
        "monitored_by": _pids(facts["monitored_by"]),
    }
    if shown["behaviour"] and pid is not gs.self():
        try:
            status = gs.sys.get_status(pid, timeout)
        except Exception as exc:  # busy, suspended in a long callback, or gone
            shown["sys_error"] = f"{type(exc).__name__}: {exc}"
        else:
            shown["sys"] = {
                "class": current_name(status["class"]),
                "status": status["status"],
                "parent": repr(status["parent"]),
                "debug": [short(option) for option in status["debug"]],
                "state": short(status["state"]),
            }
    return shown


def _pids(value: object) -> list[str]:
    return [repr(pid) for pid in value] if isinstance(value, list) else []


def warnings(limit: int = 20) -> list[dict[str, Any]]:
    """Return the system monitor's recent warnings, newest first, JSON-ready."""
    shown = []
    for warning in reversed(gs.sys.system_monitor_warnings()[-limit:]):
        shown.append(
            {
                key: (value if isinstance(value, (str, int, float, list)) else short(value))
                for key, value in warning.items()
                if value is not None
            }
        )
    return shown


def live_processes() -> Sequence[Process]:
    """Return the live processes, in pid order (a copy of the kernel's table)."""
    return tuple(_process.live_processes())
