"""Registry: a local key/value store of processes, as Elixir's ``Registry``.

A registry is a GenServer process addressed by its name. Its table lives in
a Python object, readable and writable without a message round-trip, as an
ETS table is in Elixir: gevent runs one greenlet at a time, so each read or
write, made in the caller's greenlet, is atomic.

* ``register`` adds an entry for the *calling* process. The caller sets up a
  monitor on the registry's behalf (the registry process is the watcher),
  and the registry's ``handle_info`` drops a dead process's entries when its
  ``Down`` arrives. ``unregister`` removes the monitor once a process holds
  no more keys.
* Reads skip entries whose process is dead, so a dead process is never
  returned, even before the registry has handled its ``Down``; for the same
  reason a dead holder never keeps a unique key taken.
* ``gs.Via(registry, key, value)`` names a process through a unique registry:
  importing this module installs the kernel's ``via_backend``.

The tables are found through ``_tables``, keyed by the registry's pid; a
registry removes its table in ``terminate``, and ``init`` sweeps away the
tables of registries that were killed (and so never ran ``terminate``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Final, final

from . import _links, _names, _process
from ._child_spec import ChildSpec
from ._errors import AlreadyRegisteredError, NoProcessError
from ._gen_server import GenServer
from ._names import Via, ViaBackend
from ._pid import Pid, Ref
from ._process import Down, Process, current_process
from ._results import NoReply, Ok, Stop

_KINDS: Final = ("unique", "duplicate")


@final
class _Owner:
    """One registrant: the registry's monitor on it and its keys, oldest first."""

    __slots__ = ("keys", "ref")

    def __init__(self, ref: Ref) -> None:
        self.ref = ref
        self.keys: list[object] = []


@final
class _Table:
    """The state of one registry: entries by key, registrants by process."""

    __slots__ = ("entries", "kind", "owners", "proc", "unique")

    def __init__(self, proc: Process, kind: str) -> None:
        self.proc = proc
        self.kind = kind
        self.unique = kind == "unique"
        # key -> [(process, value)], in registration order; may hold dead processes
        # until the registry handles their Down, so every read filters on `alive`.
        self.entries: dict[object, list[tuple[Process, object]]] = {}
        self.owners: dict[Process, _Owner] = {}

    def live(self) -> dict[object, list[tuple[Pid, object]]]:
        """Return the live entries by key (what ``sys.get_state`` users want to see)."""
        shown: dict[object, list[tuple[Pid, object]]] = {}
        for key, found in self.entries.items():
            alive = [(p.pid, v) for p, v in found if p.alive]
            if alive:
                shown[key] = alive
        return shown

    def __repr__(self) -> str:
        return f"<registry table {self.kind} {self.live()!r}>"


_tables: dict[Pid, _Table] = {}


def _table_of(registry: object) -> _Table:
    """Return the table of the registry named *registry*, read in the caller's greenlet."""
    if type(registry) is not str:
        raise TypeError(f"a registry is addressed by its name (a str); got {registry!r}")
    pid = _names.whereis(registry)
    if pid is None:
        raise NoProcessError(f"no registry is registered as {registry!r}", server=registry)
    table = _tables.get(pid)
    if table is None:
        raise ValueError(f"{registry!r} is registered to {pid!r}, which is not a gs.Registry")
    return table


def _insert(table: _Table, registry: object, proc: Process, key: object, value: object) -> None:
    """Add the entry ``(proc, value)`` under *key*; monitor *proc* for the registry."""
    found = table.entries.get(key)
    if table.unique:
        if found:
            holder = found[0][0]
            if holder.alive:
                raise AlreadyRegisteredError(
                    f"key {key!r} in registry {registry!r} is already registered to {holder.pid!r}"
                )
        # A dead holder's entry goes now; its Down, when the registry handles
        # it, removes only that process's entries, so it cannot touch this one.
        table.entries[key] = [(proc, value)]
    elif found is None:
        table.entries[key] = [(proc, value)]
    else:
        found.append((proc, value))
    owner = table.owners.get(proc)
    if owner is None:
        ref, _ = _links.monitor_process(table.proc, proc.pid)
        owner = table.owners[proc] = _Owner(ref)
    owner.keys.append(key)


def _drop(table: _Table, proc: Process, key: object) -> None:
    """Remove every entry of *proc* under *key* (other processes' entries stay)."""
    found = table.entries.get(key)
    if found is None:
        return
    kept = [entry for entry in found if entry[0] is not proc]
    if kept:
        table.entries[key] = kept
    else:
        del table.entries[key]


def _check_keys(keys: object) -> None:
    if type(keys) is not str or keys not in _KINDS:
        raise ValueError(f"keys must be 'unique' or 'duplicate'; got {keys!r}")


def _start(link: bool, keys: str, name: str) -> Pid:
    _check_keys(keys)
    if type(name) is not str or not name:
        raise TypeError(f"a registry's name must be a non-empty str; got {name!r}")
    start = GenServer.start_link if link else GenServer.start
    return start(Registry, keys, name=name)


@final
class Registry(GenServer[_Table]):
    """A process that maps keys to processes, as Elixir's ``Registry`` (one partition).

    Start one with ``Registry.start_link(keys="unique", name="reg")`` and use
    the static functions with its name. A ``"unique"`` registry holds at most
    one process per key; a ``"duplicate"`` one holds any number, which makes
    it a local pub/sub: subscribers register under a topic and a publisher
    ``dispatch``-es to them.

    Every function runs in the caller's greenlet and reads or writes the
    table directly: none of them sends the registry a message or blocks.
    Entries vanish when their process dies, and reads never return a dead
    process.

    >>> import greenserver as gs
    >>> _ = gs.Registry.start_link(keys="duplicate", name="topics")
    >>> gs.Registry.register("topics", "news", "subscriber 1")
    >>> gs.Registry.lookup("topics", "news") == [(gs.self(), "subscriber 1")]
    True
    >>> gs.Registry.keys("topics", gs.self())
    ['news']
    >>> gs.Registry.unregister("topics", "news")
    >>> gs.Registry.lookup("topics", "news")
    []
    >>> gs.GenServer.stop("topics")
    """

    # --- starting ------------------------------------------------------------

    @staticmethod
    def start_link(keys: str, *, name: str) -> Pid:
        """Start a registry linked to the caller and register it as *name*.

        Args:
            keys: ``"unique"`` (one process per key) or ``"duplicate"``.
            name: The local name the registry is addressed by (required).

        Raises:
            ValueError: *keys* is neither ``"unique"`` nor ``"duplicate"``.
            TypeError: *name* is not a non-empty str.
            AlreadyStartedError: *name* is taken (``.pid`` is the holder).
        """
        return _start(True, keys, name)

    @staticmethod
    def start(keys: str, *, name: str) -> Pid:
        """Start a registry without a link (see ``start_link``)."""
        return _start(False, keys, name)

    @classmethod
    def child_spec(cls, arg: object) -> ChildSpec:
        """Return how a supervisor starts a registry: ``(gs.Registry, {"keys": ..., "name": ...})``.

        *arg* holds the keyword arguments of ``start_link``; the child's id is
        the registry's name, as in Elixir.

        Raises:
            TypeError: *arg* is not a dict with ``"keys"`` and ``"name"``.
        """
        if not (isinstance(arg, dict) and "keys" in arg and "name" in arg):
            raise TypeError(
                "Registry.child_spec() needs the start_link options as a dict, "
                f"like {{'keys': 'unique', 'name': 'reg'}}; got {arg!r}"
            )
        return ChildSpec(id=arg["name"], start=(Registry.start_link, (), dict(arg)))

    # --- client API: each runs in the caller's greenlet, without a message --------

    @staticmethod
    def register(registry: str, key: object, value: object = None) -> None:
        """Register the calling process under *key*, with *value*.

        In a duplicate registry a process may register the same key several
        times: each call adds an entry. The entries vanish when the process
        dies.

        Raises:
            AlreadyRegisteredError: The registry is unique and a live process
                (the caller included) holds *key*.
            NoProcessError: No process is registered as *registry*.
            ValueError: *registry* names a process that is not a registry.
        """
        table = _table_of(registry)
        _insert(table, registry, current_process(), key, value)

    @staticmethod
    def unregister(registry: str, key: object) -> None:
        """Remove the calling process's entries under *key*; nothing if it has none.

        Once the caller holds no key, the registry stops monitoring it.
        """
        table = _table_of(registry)
        me = current_process()
        owner = table.owners.get(me)
        if owner is None or key not in owner.keys:
            return
        _drop(table, me, key)
        owner.keys = [k for k in owner.keys if k != key]
        if not owner.keys:
            del table.owners[me]
            _links.demonitor_process(table.proc, owner.ref)

    @staticmethod
    def lookup(registry: str, key: object) -> list[tuple[Pid, object]]:
        """Return the ``(pid, value)`` entries under *key*, oldest first; ``[]`` if none.

        A process that has died is never returned, even before the registry
        has handled its ``Down``.
        """
        found = _table_of(registry).entries.get(key)
        if not found:
            return []
        return [(proc.pid, value) for proc, value in found if proc.alive]

    @staticmethod
    def dispatch(registry: str, key: object, fn: Callable[..., object], *args: object) -> None:
        """Call ``fn(entries, *args)`` in the caller with the live entries under *key*.

        *entries* is what ``lookup`` returns. Nothing is called when there is
        no entry. An exception from *fn* propagates to the caller.
        """
        entries = Registry.lookup(registry, key)
        if entries:
            fn(entries, *args)

    @staticmethod
    def keys(registry: str, pid: Pid) -> list[object]:
        """Return the keys *pid* holds, in registration order; ``[]`` for a dead pid.

        In a duplicate registry a key registered twice appears twice, as in Elixir.
        """
        table = _table_of(registry)
        if type(pid) is not Pid:
            raise TypeError(f"Registry.keys() needs a Pid; got {pid!r}")
        proc = _names.resolve(pid)
        owner = table.owners.get(proc) if proc is not None and proc.alive else None
        return [] if owner is None else list(owner.keys)

    @staticmethod
    def count(registry: str) -> int:
        """Return the number of live entries in the registry."""
        table = _table_of(registry)
        return sum(len(owner.keys) for proc, owner in table.owners.items() if proc.alive)

    # --- callbacks ---------------------------------------------------------------

    def init(self, keys: Any) -> Ok[_Table] | Stop[_Table]:
        """Make the table; the registry must have a local name to be reachable."""
        _check_keys(keys)
        proc = current_process()
        if type(proc.name) is not str:
            return Stop(
                ValueError(
                    "a gs.Registry must be started with a name (a str): it is addressed by it"
                )
            )
        table = _Table(proc, keys)
        _tables[proc.pid] = table
        # Freed with its process, however it dies (a killed one runs no
        # terminate), as an ETS table goes with its owner.
        _process.at_death(proc, partial(_tables.pop, proc.pid, None))
        return Ok(table)

    def handle_info(self, msg: Any, state: _Table) -> NoReply[_Table] | Stop[_Table]:
        """Drop the entries of a registrant that died; log any other message."""
        if type(msg) is Down:
            pid = msg.pid
            proc = _names.resolve(pid) if type(pid) is Pid else None
            owner = state.owners.get(proc) if proc is not None else None
            # The ref check skips a Down for a monitor that unregister() ended.
            if proc is not None and owner is not None and owner.ref is msg.ref:
                del state.owners[proc]
                for key in dict.fromkeys(owner.keys):
                    _drop(state, proc, key)
            return NoReply(state)
        return super().handle_info(msg, state)

    def terminate(self, reason: object, state: _Table) -> None:
        """Forget the table: from now on the registry's name reads as unknown."""
        _tables.pop(state.proc.pid, None)


# --- Via names --------------------------------------------------------------------


def _via_table(via: Via) -> _Table:
    table = _table_of(via.registry)
    if not table.unique:
        raise ValueError(
            f"{via!r} cannot name a process: {via.registry!r} is a duplicate registry; "
            "a gs.Via needs a unique one"
        )
    return table


@final
class _RegistryVia(ViaBackend):
    """Resolve and register ``gs.Via(registry, key, value)`` names through registries."""

    def whereis(self, via: Via) -> Pid | None:
        found = _via_table(via).entries.get(via.key)
        if found:
            proc = found[0][0]
            if proc.alive:
                return proc.pid
        return None

    def register(self, via: Via, pid: Pid) -> None:
        table = _via_table(via)
        proc = _names.resolve(pid)
        if proc is None or not proc.alive:
            raise NoProcessError(f"cannot register {via!r}: {pid!r} is dead", server=pid)
        _insert(table, via.registry, proc, via.key, via.value)


def _install_via_backend() -> None:
    backend = _RegistryVia()
    _names.via_backend = backend


_install_via_backend()
