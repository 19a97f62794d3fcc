"""Links and monitors: the API over the kernel's link and monitor tables.

``_process`` owns the tables and what a death does to them; this module is
how a process makes and removes links and monitors, traps exits, and how the
distribution layer delivers what other nodes say about them.
"""

from __future__ import annotations

from . import _instrument, _process
from ._errors import NoProcessError
from ._mailbox import Match
from ._names import resolve
from ._pid import Pid, Ref
from ._process import (
    Down,
    ExitSignal,
    Process,
    add_link,
    add_monitor,
    current_process,
    deliver_signal,
    is_reason,
    process_of,
    raise_if_dead,
    terminate,
)


def link(pid: Pid) -> None:
    """Link the caller and *pid* both ways.

    Linking to a dead process delivers an exit signal with reason
    ``"noproc"`` to the caller: an ``ExitSignal`` message if it traps exits,
    death otherwise.
    """
    target = process_of(pid, "link")
    me = current_process()
    if target is me:
        return
    if not target.alive:
        if me.trap_exit:
            me.mailbox.put(ExitSignal(pid, "noproc"))
        else:
            terminate(me, "noproc", pid)
            raise_if_dead(me)
        return
    add_link(me, target)


def unlink(pid: Pid) -> None:
    """Remove the link between the caller and *pid*, if there is one."""
    target = process_of(pid, "unlink")
    me = current_process()
    if me.links is not None:
        me.links.discard(target)
    if target.links is not None:
        target.links.discard(me)
    if target.remote is not None:
        _process.remote_backend.unlink(me, target)
    if _instrument.enabled:
        _instrument.emit("unlink", me.pid, other=pid)


def monitor_process(
    watcher: Process, dest: object, *, alias: bool = False
) -> tuple[Ref, Process | None]:
    """Monitor *dest* for *watcher*; return the ref and the target (None if dead).

    A dead or unknown target gets a ``Down(ref, dest, "noproc")`` at once. With
    *alias*, the ref is also an alias of *watcher* (see ``send_alias``).
    """
    try:
        target = resolve(dest)
    except NoProcessError:  # a Via whose registry is gone: as unknown as a name
        target = None
    if target is None or not target.alive:
        ref = Ref(watcher, alias)
        down_pid = target.pid if target is not None else dest
        watcher.mailbox.put(Down(ref, down_pid, "noproc"))
        return ref, None
    return add_monitor(watcher, target, alias=alias), target


def monitor(dest: object) -> Ref:
    """Monitor *dest* (a pid, a name or a ``Via``) and return the monitor's ref.

    When the target dies the caller gets ``Down(ref, pid, reason)``; a dead or
    unknown target gives ``Down(ref, dest, "noproc")`` at once.
    """
    return monitor_process(current_process(), dest)[0]


def demonitor_process(watcher: Process, ref: Ref, flush: bool = False) -> bool:
    """Remove *watcher*'s monitor *ref*; with *flush*, drop its ``Down`` too.

    It also deactivates the alias *ref* (if it is one), so a late reply to it
    is dropped. A monitor still active here cannot have delivered its ``Down``,
    so the mailbox is only scanned when it was not.
    """
    ref.deactivate()
    found = False
    if watcher.monitors is not None:
        target = watcher.monitors.pop(ref, None)
        if target is not None:
            found = True
            watchers = target.monitored_by
            if watchers is not None:
                watchers.pop(ref, None)
                if not watchers:
                    # A server called once keeps no empty table: a million idle
                    # servers would hold a million dicts for the GC to walk.
                    target.monitored_by = None
            if target.remote is not None:
                _process.remote_backend.demonitor(watcher, target, ref)
    if flush and not found:
        watcher.mailbox.remove_if(lambda m: type(m) is Down and m.ref is ref)
    return found


def demonitor(ref: Ref, flush: bool = False) -> bool:
    """Turn off the monitor *ref*; return whether it was still active.

    With ``flush=True`` a ``Down`` message it already delivered is removed
    from the caller's mailbox too.
    """
    if type(ref) is not Ref:
        raise TypeError(f"demonitor needs a Ref from gs.monitor(); got {ref!r}")
    return demonitor_process(current_process(), ref, flush)


def abandon_wait(proc: Process, ref: Ref, match: Match, mark: int) -> None:
    """Clean up after a wait for *ref* that will never complete, however it ended.

    The monitor goes, the alias is deactivated (a late answer is dropped),
    and whatever already arrived for *ref* since *mark* is removed, so no
    internal envelope can surface in a later receive.
    """
    demonitor_process(proc, ref)
    proc.mailbox.remove_if(match, mark)


def send_alias(ref: Ref, msg: object) -> bool:
    """Deliver *msg* to the owner of alias *ref* if the alias is still active."""
    owner = ref.alias_owner()
    if owner is None:
        return False
    owner.mailbox.put(msg)
    return True


def trap_exits(flag: bool) -> bool:
    """Set whether the caller traps exit signals; return the previous setting."""
    me = current_process()
    old = me.trap_exit
    me.trap_exit = bool(flag)
    return old


def remote_link_signal(local: Process, remote: Process, reason: object) -> None:
    """Deliver the exit signal of a remote process through its link to *local*."""
    if local.links is None or remote not in local.links:
        return  # unlinked meanwhile: the signal has nothing to travel on
    local.links.discard(remote)
    if remote.links is not None:
        remote.links.discard(local)
    if not local.alive:
        return
    if local.trap_exit:
        local.mailbox.put(ExitSignal(remote.pid, reason))
    elif not is_reason(reason, "normal"):
        terminate(local, reason)


def remote_unlink(local: Process, remote: Process) -> None:
    """Remove the link between *local* and *remote* (the remote side asked)."""
    if local.links is not None:
        local.links.discard(remote)
    if remote.links is not None:
        remote.links.discard(local)


def remote_exit_signal(local: Process, remote: Process, reason: object) -> None:
    """Deliver ``exit(local, reason)`` called by a remote process."""
    deliver_signal(local, remote.pid, reason)


def remote_monitor_fired(watcher: Process, ref: Ref, target: object, reason: object) -> None:
    """The remote process *watcher* monitored under *ref* died: deliver its ``Down``."""
    ref.deactivate()
    if watcher.monitors is None:
        return
    remote = watcher.monitors.pop(ref, None)
    if remote is None:
        return
    if remote.monitored_by is not None:
        remote.monitored_by.pop(ref, None)
    if watcher.alive:
        watcher.mailbox.put(Down(ref, target, reason))
