"""Hot code upgrade: reload a module and move live servers to its new class.

As in OTP's release handling: each server is suspended, its state migrated
by the new class's ``code_change`` (``sys.change_code``) and resumed. The
module's source comes from ``tests/upgrade_fixtures``: version 1 is copied
into a fresh module under ``tmp_path``, then overwritten with version 2 and
reloaded with ``importlib.reload``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import greenserver as gs
from greenserver.testing import wait_all_idle

FIXTURES = Path(__file__).resolve().parent / "upgrade_fixtures"


@dataclass
class Module:
    module: ModuleType
    path: Path

    def rewrite(self, fixture: str) -> ModuleType:
        """Overwrite the module's source with *fixture* and reload it."""
        self.path.write_text((FIXTURES / fixture).read_text())
        # A rewrite within the same second could leave a stale .pyc looking fresh.
        Path(importlib.util.cache_from_source(str(self.path))).unlink(missing_ok=True)
        importlib.invalidate_caches()
        return importlib.reload(self.module)


@pytest.fixture
def counter_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Module]:
    """A freshly imported module, uniquely named, holding ``counter_v1.py``'s source."""
    name = f"counter_upgrade_{uuid.uuid4().hex}"
    path = tmp_path / f"{name}.py"
    path.write_text((FIXTURES / "counter_v1.py").read_text())
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        yield Module(importlib.import_module(name), path)
    finally:
        sys.modules.pop(name, None)


def is_answer(msg: object) -> bool:
    return type(msg) is tuple and len(msg) == 3 and msg[0] == "answer"


def ask_from_another_process(pid: gs.Pid, request: object) -> None:
    """Call *pid* from a new process, which sends ``("answer", pid, reply)`` back."""
    me = gs.self()

    def asker() -> None:
        gs.send(me, ("answer", pid, gs.GenServer.call(pid, request)))

    gs.spawn(asker)


def receive_answers(count: int) -> dict[object, object]:
    answers: dict[object, object] = {}
    for _ in range(count):
        msg = gs.receive(is_answer, timeout=5.0)
        assert type(msg) is tuple
        answers[msg[1]] = msg[2]
    return answers


def call_all(servers: list[gs.Pid], request: object) -> list[Any]:
    return [gs.GenServer.call(pid, request) for pid in servers]


def start_servers(cls: Callable[..., object], starts: list[int]) -> list[gs.Pid]:
    servers = []
    for start in starts:
        pid = cls(start)
        assert isinstance(pid, gs.Pid)
        servers.append(pid)
    return servers


class TestReloadAndUpgrade:
    def test_live_servers_move_to_the_reloaded_class_without_losing_messages(
        self, counter_module: Module
    ) -> None:
        v1 = counter_module.module.Counter
        servers = start_servers(v1.start_link, [1, 2, 3])
        for pid in servers:
            gs.GenServer.cast(pid, ("add", 10))
        assert call_all(servers, "get") == [11, 12, 13]

        reloaded = counter_module.rewrite("counter_v2.py")
        v2 = reloaded.Counter

        assert reloaded is counter_module.module
        assert v2 is not v1
        assert call_all(servers, "vsn") == ["1", "1", "1"]  # the old code runs on
        for n, pid in enumerate(servers):
            assert gs.GenServer.call(pid, "vsn") == "1"  # not upgraded yet, the others are
            gs.sys.suspend(pid)
            gs.GenServer.cast(pid, ("add", 100))  # waits in the mailbox
            ask_from_another_process(pid, "get")  # so does this call
            wait_all_idle()
            gs.sys.change_code(pid, v2, "1", {"unit": "apples"})
            assert gs.sys.get_state(pid) == {"count": 11 + n, "unit": "apples", "history": []}
            assert gs.sys.get_status(pid)["class"] is v2
            gs.sys.resume(pid)

        # The queued cast and call were handled by version 2, after the migration.
        assert receive_answers(3) == {
            servers[0]: "111 apples",
            servers[1]: "112 apples",
            servers[2]: "113 apples",
        }
        assert call_all(servers, "vsn") == ["2", "2", "2"]
        assert call_all(servers, "history") == [[100], [100], [100]]
        for pid in servers:
            gs.GenServer.stop(pid)

    def test_new_servers_start_on_the_reloaded_class(self, counter_module: Module) -> None:
        [old] = start_servers(counter_module.module.Counter.start_link, [1])

        reloaded = counter_module.rewrite("counter_v2.py")
        [new] = start_servers(reloaded.Counter.start_link, [5])

        assert gs.GenServer.call(old, "get") == 1
        assert gs.GenServer.call(new, "get") == "5 items"
        gs.GenServer.stop(old)
        gs.GenServer.stop(new)

    def test_a_refused_migration_leaves_the_server_on_the_old_code(
        self, counter_module: Module
    ) -> None:
        [pid] = start_servers(counter_module.module.Counter.start_link, [7])
        reloaded = counter_module.rewrite("counter_v2.py")
        gs.sys.suspend(pid)
        gs.GenServer.cast(pid, ("add", 1))

        with pytest.raises(ValueError, match=r"^cannot upgrade from version '0'$"):
            gs.sys.change_code(pid, reloaded.Counter, "0", {"unit": "pears"})
        gs.sys.resume(pid)

        assert gs.GenServer.call(pid, "get") == 8
        assert gs.GenServer.call(pid, "vsn") == "1"
        gs.GenServer.stop(pid)

    def test_a_supervised_server_can_be_upgraded_in_place(self, counter_module: Module) -> None:
        """The supervisor keeps the same child process, now running the new class."""
        v1 = counter_module.module.Counter
        sup = gs.Supervisor.start_link([gs.ChildSpec("counter", start=(v1.start_link, (3,), {}))])
        [(_, pid, _)] = gs.Supervisor.which_children(sup)
        assert isinstance(pid, gs.Pid)
        reloaded = counter_module.rewrite("counter_v2.py")

        gs.sys.suspend(pid)
        gs.sys.change_code(pid, reloaded.Counter, "1", {"unit": "plums"})
        gs.sys.resume(pid)

        assert gs.GenServer.call(pid, "get") == "3 plums"
        assert gs.Supervisor.which_children(sup) == [("counter", pid, "worker")]
        gs.Supervisor.stop(sup)
