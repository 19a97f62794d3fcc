"""DynamicSupervisor: children started on demand, each its own anonymous restart unit.

Children have no ids (``which_children`` shows ``None``); they are addressed by
pid. ``extra_arguments`` are prepended to every child's start arguments,
``max_children`` caps how many run at once, and restart intensity works as in
``Supervisor``. On stop, every child is signalled at once and then awaited,
as OTP does for dynamic children.
"""

from __future__ import annotations

from typing import Any, Final

from . import _instrument, _reports
from ._child_spec import ChildSpec, to_child_spec
from ._errors import StartError, SupervisorError
from ._gen_server import GenServer, _start
from ._links import trap_exits
from ._messages import send
from ._names import Via
from ._pid import Pid, Ref
from ._process import ExitSignal, current_process, is_normal
from ._results import NoReply, Ok, Reply, Stop
from ._supervisor import (
    Intensity,
    check_intensity,
    progress,
    reply_or_raise,
    report,
    shutdown_all,
    shutdown_child,
    start_spec,
)

_STRATEGY: Final = "one_for_one"


class _DynState:
    __slots__ = ("children", "extra", "intensity", "max_children", "restarting")

    def __init__(
        self, max_children: int | None, intensity: Intensity, extra: tuple[object, ...]
    ) -> None:
        self.children: dict[Pid, ChildSpec] = {}
        self.restarting: list[ChildSpec] = []
        self.max_children = max_children
        self.intensity = intensity
        self.extra = extra


class _DynamicServer(GenServer[_DynState]):
    def _sys_children(self, state: _DynState) -> list[tuple[object, object, str]] | None:
        return [(None, pid, spec.type) for pid, spec in state.children.items()]

    def behaviour_class(self) -> type:
        return DynamicSupervisor

    def init(self, arg: Any) -> Ok[_DynState]:
        trap_exits(True)
        return Ok(arg)

    def handle_call(self, request: Any, from_: Ref, state: _DynState) -> Reply[_DynState]:
        kind = request[0]
        try:
            if kind == "start_child":
                answer: object = _start_child(state, request[1])
            elif kind == "terminate_child":
                _terminate_child(state, request[1])
                answer = None
            elif kind == "which_children":
                answer = [(None, pid, spec.type) for pid, spec in state.children.items()]
            elif kind == "count_children":
                specs = state.children.values()
                answer = {
                    "specs": len(state.children),
                    "active": len(state.children),
                    "supervisors": sum(1 for s in specs if s.type == "supervisor"),
                    "workers": sum(1 for s in specs if s.type == "worker"),
                }
            else:
                raise ValueError(f"unknown dynamic supervisor request {request!r}")
        except (SupervisorError, StartError, ValueError, TypeError) as exc:
            return Reply(("error", exc), state)
        return Reply(("ok", answer), state)

    def handle_info(self, msg: Any, state: _DynState) -> NoReply[_DynState] | Stop[_DynState]:
        if type(msg) is ExitSignal and type(msg.pid) is Pid:
            spec = state.children.pop(msg.pid, None)
            if spec is None:
                return NoReply(state)
            reason = msg.reason
            if not is_normal(reason):
                report(None, msg.pid, reason, "child_terminated", _STRATEGY)
            if spec.restart == "permanent" or (
                spec.restart == "transient" and not is_normal(reason)
            ):
                return _restart(state, spec, msg.pid)
            return NoReply(state)
        if msg == "$try_again_restart" and state.restarting:
            return _restart(state, state.restarting.pop(0), None)
        return super().handle_info(msg, state)

    def terminate(self, reason: object, state: _DynState) -> None:
        children = [(pid, spec.shutdown) for pid, spec in state.children.items()]
        state.children.clear()
        if len(children) == 1:
            shutdown_child(*children[0])
        elif children:
            shutdown_all(children)


def _restart(
    state: _DynState, spec: ChildSpec, old: Pid | None
) -> NoReply[_DynState] | Stop[_DynState]:
    """Start *spec* again in place of *old* (None when retrying a failed start)."""
    if not state.intensity.add_restart():
        report(None, None, "reached_max_restart_intensity", "shutdown", _STRATEGY)
        return Stop("shutdown", state)
    ok, value = start_spec(spec, state.extra)
    if not ok:
        report(None, None, value, "start_error", _STRATEGY)
        state.restarting.append(spec)
        send(current_process().pid, "$try_again_restart")
    elif value is not None:
        assert type(value) is Pid
        state.children[value] = spec
        progress(None, value)
        if _instrument.enabled:
            _instrument.emit("restart", current_process().pid, child_id=None, old=old, new=value)
    return NoReply(state)


def _start_child(state: _DynState, spec: ChildSpec) -> Pid | None:
    if state.max_children is not None and len(state.children) >= state.max_children:
        raise SupervisorError(
            "max_children", f"already running max_children={state.max_children} children"
        )
    ok, value = start_spec(spec, state.extra)
    if not ok:
        report(None, None, value, "start_error", _STRATEGY)
        raise StartError(value, f"child failed to start: {_reports.short(value)}")
    if value is not None:
        assert type(value) is Pid
        state.children[value] = spec
        progress(None, value)
    return value


def _terminate_child(state: _DynState, pid: object) -> None:
    if type(pid) is not Pid or pid not in state.children:
        raise SupervisorError("not_found", f"{pid!r} is not a child of this supervisor")
    spec = state.children.pop(pid)
    shutdown_child(pid, spec.shutdown)


def _start_dynamic(
    link: bool,
    max_children: int | None,
    max_restarts: int,
    max_seconds: float,
    extra_arguments: tuple[object, ...] | list[object],
    name: str | Via | None,
    timeout: float | None,
) -> Pid:
    if max_children is not None and (
        isinstance(max_children, bool) or not isinstance(max_children, int) or max_children < 0
    ):
        raise ValueError(f"max_children must be an int >= 0 or None; got {max_children!r}")
    check_intensity(max_restarts, max_seconds)
    if not isinstance(extra_arguments, (tuple, list)):
        raise TypeError(f"extra_arguments must be a tuple or list; got {extra_arguments!r}")
    state = _DynState(
        max_children, Intensity(max_restarts, float(max_seconds)), tuple(extra_arguments)
    )
    pid = _start(_DynamicServer, state, link=link, name=name, timeout=timeout)
    assert pid is not None
    return pid


class DynamicSupervisor:
    """Start children on demand and restart them by their restart type."""

    @staticmethod
    def start_link(
        *,
        max_children: int | None = None,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
        extra_arguments: tuple[object, ...] | list[object] = (),
        name: str | Via | None = None,
        timeout: float | None = None,
    ) -> Pid:
        """Start a dynamic supervisor linked to the caller; it starts with no children.

        Raises:
            ValueError, TypeError: An option is malformed (named in the message).
        """
        return _start_dynamic(
            True, max_children, max_restarts, max_seconds, extra_arguments, name, timeout
        )

    @staticmethod
    def start(
        *,
        max_children: int | None = None,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
        extra_arguments: tuple[object, ...] | list[object] = (),
        name: str | Via | None = None,
        timeout: float | None = None,
    ) -> Pid:
        """Start a dynamic supervisor as ``start_link`` does, but not linked to the caller."""
        return _start_dynamic(
            False, max_children, max_restarts, max_seconds, extra_arguments, name, timeout
        )

    @staticmethod
    def start_child(sup: object, spec: object) -> Pid | None:
        """Start a child from *spec* (a ChildSpec, ``C`` or ``(C, arg)``); return its pid.

        Raises:
            SupervisorError: ``"max_children"`` when the cap is reached.
            StartError: The child failed to start.
        """
        child = to_child_spec(spec)
        return reply_or_raise(GenServer.call(sup, ("start_child", child), None))  # type: ignore[no-any-return]

    @staticmethod
    def terminate_child(sup: object, pid: Pid) -> None:
        """Stop the child *pid*; ``SupervisorError("not_found")`` if it is not a child."""
        reply_or_raise(GenServer.call(sup, ("terminate_child", pid), None))

    @staticmethod
    def which_children(sup: object) -> list[tuple[None, Pid, str]]:
        """Return ``(None, pid, type)`` per running child."""
        return reply_or_raise(GenServer.call(sup, ("which_children",), None))  # type: ignore[no-any-return]

    @staticmethod
    def count_children(sup: object) -> dict[str, int]:
        """Return ``{"specs", "active", "supervisors", "workers"}`` counts."""
        return reply_or_raise(GenServer.call(sup, ("count_children",), None))  # type: ignore[no-any-return]

    @staticmethod
    def stop(sup: object, reason: object = "normal", timeout: float | None = None) -> None:
        """Stop the supervisor after stopping all its children."""
        GenServer.stop(sup, reason, timeout)
