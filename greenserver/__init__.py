"""greenserver: Erlang/OTP's process model for Python, on gevent.

Everything public is importable as ``import greenserver as gs``; see the
README and ``API.md`` for the contract.
"""

from __future__ import annotations

from . import node, observer, sys, trace
from ._agent import Agent
from ._application import Application
from ._child_spec import ChildSpec
from ._dist_node import NodeDown
from ._dist_terms import Atom
from ._dynamic_supervisor import DynamicSupervisor
from ._errors import (
    AlreadyRegisteredError,
    AlreadyStartedError,
    BadReturnError,
    CallError,
    CallTimeoutError,
    Exit,
    NodeError,
    NoProcessError,
    ServerExitError,
    StartError,
    SupervisorError,
)
from ._gen_server import GenServer
from ._links import demonitor, link, monitor, trap_exits, unlink
from ._messages import receive, send
from ._names import Via, register, registered, unregister, whereis
from ._pid import Pid, Ref
from ._process import (
    Down,
    ExitSignal,
    alive,
    exit,
    info,
    processes,
    self,
    spawn,
    spawn_link,
    spawn_monitor,
)
from ._registry import Registry
from ._results import Ignore, NoReply, Ok, Reply, Stop
from ._supervisor import Supervisor, SupervisorSpec
from ._task import Task, TaskSupervisor

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AlreadyRegisteredError",
    "AlreadyStartedError",
    "Application",
    "Atom",
    "BadReturnError",
    "CallError",
    "CallTimeoutError",
    "ChildSpec",
    "Down",
    "DynamicSupervisor",
    "Exit",
    "ExitSignal",
    "GenServer",
    "Ignore",
    "NoProcessError",
    "NoReply",
    "NodeDown",
    "NodeError",
    "Ok",
    "Pid",
    "Ref",
    "Registry",
    "Reply",
    "ServerExitError",
    "StartError",
    "Stop",
    "Supervisor",
    "SupervisorError",
    "SupervisorSpec",
    "Task",
    "TaskSupervisor",
    "Via",
    "alive",
    "demonitor",
    "exit",
    "info",
    "link",
    "monitor",
    "node",
    "observer",
    "processes",
    "receive",
    "register",
    "registered",
    "self",
    "send",
    "spawn",
    "spawn_link",
    "spawn_monitor",
    "sys",
    "trace",
    "trap_exits",
    "unlink",
    "unregister",
    "whereis",
]
