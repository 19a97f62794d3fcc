"""Look inside running behaviour processes, as Erlang's ``sys`` module does.

Every function sends a *system message* through the process's ordinary
mailbox; the process handles it between callbacks, so it never races one.
They work on every behaviour process: GenServer, Supervisor,
DynamicSupervisor, Agent, Registry, TaskSupervisor. A plain process (one
started with ``spawn``) has no loop that understands system messages, so it
never gets one: the request raises ``TypeError`` and its mailbox is left
alone. ``tree`` and ``print_tree`` describe plain children from the
kernel's process info (``gs.info``) instead.

A suspended process answers only system messages; the others wait in its
mailbox, in order, until ``resume``. That is how to inspect or replace a
state consistently, and how to upgrade code (``change_code``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from . import _sysmon
from ._calls import System, call_process
from ._dynamic_supervisor import DynamicSupervisor
from ._errors import NoProcessError
from ._gen_server import GenServer
from ._names import resolve
from ._pid import Pid
from ._process import Process
from ._process import info as process_info
from ._supervisor import Supervisor
from ._sysmon import SystemMonitorWarning
from ._sysmsg import DebugFn, Event

__all__ = [
    "SystemMonitorWarning",
    "change_code",
    "get_state",
    "get_status",
    "install",
    "is_behaviour",
    "log",
    "print_tree",
    "remove",
    "replace_state",
    "resume",
    "statistics",
    "supervisor_children",
    "suspend",
    "system_monitor",
    "system_monitor_warnings",
    "trace",
    "tree",
]


# What a behaviour process shows as its ``current`` (``gs.info``): a GenServer
# subclass (Agent and Registry are ones), or the Supervisor/DynamicSupervisor
# class its private server stands for.
_BEHAVIOURS: Final = (GenServer, Supervisor, DynamicSupervisor)


def _runs_a_behaviour(proc: Process) -> bool:
    current = proc.current
    return isinstance(current, type) and issubclass(current, _BEHAVIOURS)


def is_behaviour(pid: Pid) -> bool:
    """Return whether *pid* is a live behaviour process, one that answers ``sys`` requests.

    It only reads the kernel's process table: nothing is sent to *pid*.
    """
    if type(pid) is not Pid:
        raise TypeError(f"is_behaviour() needs a Pid; got {pid!r}")
    proc = pid._proc
    return proc.alive and _runs_a_behaviour(proc)


def _check_behaviour(server: object) -> None:
    """Refuse a plain process before anything reaches its mailbox.

    Its own receive loop would take the system message for one of its own
    (crashing on it, or keeping it forever in a selective receive), and the
    caller would wait out the timeout for an answer that never comes.
    """
    try:
        proc = resolve(server)
    except (TypeError, NoProcessError):
        return  # call_process names the problem
    if proc is None or not proc.alive or _runs_a_behaviour(proc):
        return
    current = proc.current
    runs = getattr(current, "__qualname__", None) or repr(current)
    raise TypeError(
        f"{server!r} is a plain process running {runs}, not a behaviour: sys requests only "
        "reach GenServer, Supervisor, DynamicSupervisor, Agent, Registry and TaskSupervisor "
        "processes; gs.info() describes any process"
    )


def _request(server: object, request: tuple[object, ...], timeout: float | None) -> Any:
    _check_behaviour(server)
    answer = call_process(server, request, timeout, System)
    assert type(answer) is tuple
    tag, value = answer
    if tag == "error":
        if isinstance(value, BaseException):
            raise value
        raise RuntimeError(value)
    return value


def get_state(server: object, timeout: float | None = 5.0) -> Any:
    """Return the state of *server* (what its callbacks receive)."""
    return _request(server, ("get_state",), timeout)


def replace_state(server: object, fn: Callable[[Any], Any], timeout: float | None = 5.0) -> Any:
    """Set the state of *server* to ``fn(state)`` and return the new state.

    *fn* runs inside the server. If it raises, the state is unchanged and the
    exception is raised here.
    """
    if not callable(fn):
        raise TypeError(f"replace_state needs a function of the state; got {fn!r}")
    return _request(server, ("replace_state", fn), timeout)


def get_status(server: object, timeout: float | None = 5.0) -> dict[str, Any]:
    """Return ``pid``, ``class``, ``status`` ("running"/"suspended"), ``parent``,
    ``debug`` (active options), ``state`` (as ``format_status`` shows it) and ``name``."""
    status: dict[str, Any] = _request(server, ("get_status",), timeout)
    return status


def suspend(server: object, timeout: float | None = 5.0) -> None:
    """Make *server* answer only system messages until ``resume``."""
    _request(server, ("suspend",), timeout)


def resume(server: object, timeout: float | None = 5.0) -> None:
    """Let a suspended *server* handle its queued messages again."""
    _request(server, ("resume",), timeout)


def change_code(
    server: object,
    new_cls: type[GenServer[Any]],
    old_vsn: object,
    extra: object = None,
    timeout: float | None = 5.0,
) -> None:
    """Upgrade a suspended *server* to *new_cls*, migrating its state.

    Runs ``new_cls().code_change(old_vsn, state, extra)`` in the server; on
    ``Ok(new_state)`` the server runs *new_cls* from then on. If it raises or
    returns anything else, the server keeps its class and state and the error
    is raised here.

    Raises:
        RuntimeError: The server is not suspended.
    """
    if not (isinstance(new_cls, type) and issubclass(new_cls, GenServer)):
        raise TypeError(f"change_code needs a GenServer subclass; got {new_cls!r}")
    _request(server, ("change_code", new_cls, old_vsn, extra), timeout)


def trace(server: object, flag: bool, timeout: float | None = 5.0) -> None:
    """Print every event in and out of *server* while *flag* is true."""
    _request(server, ("debug", "trace", bool(flag)), timeout)


def log(server: object, flag: bool | int | str, timeout: float | None = 5.0) -> list[Event] | None:
    """Keep the last events of *server*: ``True`` (10), a size, ``False``, or ``"get"``.

    With ``"get"`` returns the kept events, oldest first.
    """
    result: list[Event] | None = _request(server, ("debug", "log", flag), timeout)
    return result


def statistics(
    server: object, flag: bool | str, timeout: float | None = 5.0
) -> dict[str, Any] | None:
    """Count *server*'s messages: ``True`` starts, ``False`` stops, ``"get"`` returns
    ``start_time``, ``current_time``, ``reductions``, ``messages_in``, ``messages_out``
    and ``message_queue_len``."""
    result: dict[str, Any] | None = _request(server, ("debug", "statistics", flag), timeout)
    return result


def install(server: object, fn: DebugFn, timeout: float | None = 5.0) -> None:
    """Call ``fn(event)`` inside *server* for each of its events until ``remove``.

    A function that raises is removed (and the error reported), as in OTP.
    """
    _request(server, ("debug", "install", fn), timeout)


def remove(server: object, fn: DebugFn, timeout: float | None = 5.0) -> None:
    """Stop calling a function ``install`` added."""
    _request(server, ("debug", "remove", fn), timeout)


# --- the system monitor ----------------------------------------------------------------

_KEEP: Final[Any] = object()


def system_monitor(
    *,
    long_schedule: float | None = _KEEP,
    long_message_queue: int | None = _KEEP,
    notify: Pid | None = _KEEP,
) -> dict[str, Any]:
    """Read or change the system monitor (Erlang's ``erlang:system_monitor``).

    The monitor reports, as structlog ``system_monitor`` warnings:

    * ``long_schedule``: a process ran longer than this many seconds without
      switching (default 0.5), so nothing else on the node could run. The
      report names the process and where it was (``where``, ``frames``).
    * ``long_message_queue``: a mailbox holds more than this many messages
      (default 10,000); reported once, and again after it fell below half.

    ``None`` turns a check off. With ``notify=pid`` each warning is also sent
    to *pid* as a ``SystemMonitorWarning(kind, pid, info)`` message. Settings
    left out stay as they are; the settings in force are returned. Call it
    from the node's thread.

    Raises:
        ValueError: A limit is not a positive number (or None).
        TypeError: *notify* is not a Pid (or None).
    """
    changes = {
        key: value
        for key, value in (
            ("long_schedule", long_schedule),
            ("long_message_queue", long_message_queue),
            ("notify", notify),
        )
        if value is not _KEEP
    }
    return _sysmon.configure(changes)


def system_monitor_warnings() -> list[dict[str, Any]]:
    """Return the system monitor's recent warnings (the last 100), oldest first.

    Each is a dict with ``time`` (epoch seconds), ``kind``, ``pid``, ``name``,
    ``current`` and the keys of its kind (``ran_for``, ``where``, ``frames``;
    ``message_queue_len``), as the structlog report has them.
    """
    return _sysmon.recent()


# --- the supervision tree ------------------------------------------------------


def tree(root: object, timeout: float | None = 5.0) -> dict[str, Any]:
    """Return the supervision tree under *root* (a supervisor's pid or name).

    Each node is a dict: ``id``, ``pid``, ``name``, ``class``, ``type``,
    ``status``, ``message_queue_len`` and, for supervisors, ``children``.
    Behaviour processes are asked through ``sys`` (``status`` is "running"
    or "suspended"); plain processes are described from ``gs.info`` without
    being sent anything (``status`` is "running", "runnable" or "waiting").
    """
    proc = resolve(root)
    if proc is None or not proc.alive:
        raise NoProcessError(f"no process {root!r}", server=root)
    if not _runs_a_behaviour(proc) or _children(proc.pid, timeout) is None:
        raise TypeError(f"{root!r} is not a supervisor")
    return _node(None, proc.pid, "supervisor", timeout)


def _children(pid: Pid, timeout: float | None) -> list[tuple[object, object, str]] | None:
    """Ask a behaviour process for its children; None from any but a supervisor.

    A system request (every behaviour answers it; supervisors with their
    children) rather than ``which_children``: it works on suspended
    supervisors too, never sends a worker a call it does not understand, and
    sys needs no knowledge of a supervisor's state.
    """
    children: list[tuple[object, object, str]] | None = _request(pid, ("children",), timeout)
    return children


def supervisor_children(
    pid: Pid, timeout: float | None = 5.0
) -> list[tuple[object, object, str]] | None:
    """Return ``(id, pid or None or "restarting", type)`` for each child of a supervisor.

    None when *pid* is not a supervisor. Only a supervisor is sent a request
    (``get_state``, which a suspended supervisor answers too).
    """
    proc = pid._proc
    if not proc.alive or not _runs_a_behaviour(proc):
        return None
    return _children(pid, timeout)


def _node(child_id: object, pid: object, kind: str, timeout: float | None) -> dict[str, Any]:
    node: dict[str, Any] = {"id": child_id, "pid": pid, "type": kind}
    if type(pid) is not Pid:
        node.update(name=None, **{"class": None}, status=pid or "undefined", message_queue_len=0)
        return node
    facts = process_info(pid) or {}
    node["name"] = facts.get("registered_name")
    node["message_queue_len"] = facts.get("message_queue_len", 0)
    node["class"] = getattr(facts.get("current"), "__qualname__", None)
    node["status"] = facts.get("status", "dead")
    if not is_behaviour(pid):
        return node  # a plain process: what the kernel knows is all we show
    try:
        status = get_status(pid, timeout)
        children = _children(pid, timeout) if kind == "supervisor" else None
    except Exception:
        return node  # died or too busy to answer: the kernel's view will do
    node["class"] = status["class"].__qualname__
    node["status"] = status["status"]
    if children is not None:
        node["children"] = [_node(cid, cpid, ctype, timeout) for cid, cpid, ctype in children]
    return node


def print_tree(root: object, timeout: float | None = 5.0) -> str:
    """Print the supervision tree under *root* and return the printed text."""
    lines: list[str] = []

    def walk(node: dict[str, Any], depth: int) -> None:
        label = node["id"]
        shown = getattr(label, "__qualname__", None) or ("" if label is None else repr(label))
        name = f" {node['name']!r}" if node.get("name") else ""
        lines.append(
            f"{'  ' * depth}{shown or node.get('class') or ''} {node['pid']!r}{name} "
            f"[{node.get('class')}, {node['status']}, mailbox {node['message_queue_len']}]"
        )
        for child in node.get("children", ()):
            walk(child, depth + 1)

    walk(tree(root, timeout), 0)
    text = "\n".join(lines)
    print(text)
    return text
