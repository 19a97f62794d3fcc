"""greenserver's modules talk through methods, not through each other's private fields.

A module may read and write the private attributes (``_name``) of the
classes it defines, and its own private globals. Reaching into another
module's (``mailbox._items`` in the GenServer loop, ``ref._owner`` in three
modules) couples them invisibly; the few places that must, for speed, are
listed below, each with its reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import greenserver

PACKAGE = Path(greenserver.__file__).parent

# (module, attribute): why this module may touch another module's private field.
ALLOWED: dict[tuple[str, str], str] = {
    ("*", "_proc"): "Pid._proc is the one hop from a pid to its process: sending "
    "needs no table lookup (every send, call and link starts with it)",
    ("_dist_node", "_number"): "the codec writes a local pid's or ref's number on the wire",
    ("_dist_node", "_remote"): "the codec owns the wire form of remote pids and refs",
    ("net", "_active"): "net (the listener) and _net_conn (its connection) are one concept "
    "in two files: the acceptor sets a new connection's initial mode",
    ("net", "_handoff"): "the acceptor hands a new connection to its handler process",
    ("_supervisor", "_gs_start_link"): "Cls.start_link is cached on the user's class, so "
    "two child specs built from it compare equal",
    ("_supervisor", "_gs_start"): "Cls.start likewise (the unlinked start)",
    ("node", "_exit"): "os._exit: a peer node ends its OS process at once",
    ("_sysmon", "_current_frames"): "sys._current_frames: the system monitor's watchdog "
    "reads where the node's thread is stuck, as gevent's monitor thread does",
}


def _owned(tree: ast.Module) -> set[str]:
    """Private names a module owns: its globals, and its classes' slots and attributes."""
    owned: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            owned.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            owned.add(node.id)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        ):
            owned.add(node.attr)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
        ):
            for elt in ast.walk(node.value):
                if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                    owned.add(elt.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            owned.add(node.target.id)
    return {name for name in owned if name.startswith("_")}


def _violations() -> Iterator[str]:
    for path in sorted(PACKAGE.glob("*.py")):
        module = path.stem
        tree = ast.parse(path.read_text(), str(path))
        owned = _owned(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            name = node.attr
            if not name.startswith("_") or name.startswith("__") or name in owned:
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if ("*", name) in ALLOWED or (module, name) in ALLOWED:
                continue
            yield f"{path.name}:{node.lineno}: {ast.unparse(node)}"


def test_no_module_touches_another_modules_private_fields() -> None:
    assert list(_violations()) == []


def test_every_allowance_is_still_needed() -> None:
    """An allowance nobody uses any more must go (the rule only tightens)."""
    used: set[tuple[str, str]] = set()
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        owned = _owned(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr not in owned:
                for key in ((path.stem, node.attr), ("*", node.attr)):
                    if key in ALLOWED:
                        used.add(key)
    assert set(ALLOWED) - used == set()


def test_park_inlines_idle_exactly() -> None:
    """``_scheduler.park`` inlines ``idle`` (every blocking receive runs it): same code."""
    import inspect

    from greenserver import _scheduler

    def body(fn: object) -> list[str]:
        lines = inspect.getsource(fn).splitlines()  # type: ignore[arg-type]
        start = next(i for i, line in enumerate(lines) if "ready = _ready" in line)
        return [line.strip() for line in lines[start:]]

    assert body(_scheduler.park) == body(_scheduler.idle)
