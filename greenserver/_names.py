"""Local names: register, unregister, whereis, and resolving any destination.

A name is freed when its process dies, however it dies, before anyone can
see the process dead (``at_death``), so a supervisor's immediate restart
under the same name never finds it taken. ``Via`` names are resolved through
``via_backend``, which the Registry installs: the kernel knows no registry.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

from . import _process
from ._errors import AlreadyRegisteredError, NoProcessError
from ._pid import Pid
from ._process import Process, at_death, process_of, refuse_if_dead


class Via(NamedTuple):
    """A name held in a registry: ``Via(registry, key)`` (``value`` is stored with it)."""

    registry: object
    key: object
    value: object = None


class ViaBackend:
    """How the kernel reaches a registry for ``Via`` names (set by the Registry)."""

    def whereis(self, via: Via) -> Pid | None:
        raise NoProcessError(
            f"no registry can resolve {via!r}: start a gs.Registry first",
            server=via,
        )

    def register(self, via: Via, pid: Pid) -> None:
        raise NoProcessError(
            f"no registry can register {via!r}: start a gs.Registry first",
            server=via,
        )


via_backend = ViaBackend()


_names: dict[str, Process] = {}


def resolve(dest: object) -> Process | None:
    """Return the process *dest* (pid, name or Via) names, or None."""
    if type(dest) is Pid:
        return dest._proc
    if type(dest) is str:
        return _names.get(dest)
    if type(dest) is Via:
        pid = via_backend.whereis(dest)
        return None if pid is None else pid._proc
    if type(dest) is tuple and len(dest) == 2:
        return _process.remote_backend.resolve(dest)
    raise TypeError(
        f"expected a Pid, a registered name (str), a (name, node) pair or a gs.Via; got {dest!r}"
    )


def register(name: str, pid: Pid) -> None:
    """Register *pid* under *name*; the name is freed when the process dies.

    Raises:
        AlreadyRegisteredError: *name* is taken, or *pid* already has a name.
        NoProcessError: *pid* is dead.
    """
    if type(name) is not str or not name:
        raise TypeError(f"a registered name must be a non-empty str; got {name!r}")
    proc = process_of(pid, "register")
    refuse_if_dead()
    holder = _names.get(name)
    if holder is not None:
        raise AlreadyRegisteredError(f"name {name!r} is already registered to {holder.pid!r}")
    if not proc.alive:
        raise NoProcessError(f"cannot register {name!r}: {pid!r} is dead", server=pid)
    if proc.name is not None:
        raise AlreadyRegisteredError(f"{pid!r} is already registered as {proc.name!r}")
    _names[name] = proc
    proc.name = name
    at_death(proc, partial(_free, name, proc))


def _free(name: str, proc: Process) -> None:
    if _names.get(name) is proc:
        del _names[name]


def unregister(name: str) -> None:
    """Remove the registered *name*.

    Raises:
        NoProcessError: Nobody holds *name*.
    """
    proc = _names.pop(name, None)
    if proc is None:
        raise NoProcessError(f"no process is registered as {name!r}", server=name)
    proc.name = None


def whereis(name: str) -> Pid | None:
    """Return the pid registered under *name*, or None."""
    proc = _names.get(name)
    return None if proc is None else proc.pid


def registered() -> list[str]:
    """Return every registered name."""
    return list(_names)
